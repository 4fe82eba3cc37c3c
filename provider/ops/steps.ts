// Multi-command changes to a host as one unit: each step knows how to undo itself, and a failure
// undoes what was done, newest first, so the host is left as it was. A step whose outcome is
// unknown (it timed out, or the connection was lost once it had started) may have taken effect
// late, so its own undo runs too; that undo exiting non-zero only means the step never took
// effect, but one that failed in the transport (not sent, or no answer) leaves the step's
// outcome unknown, and is counted as an undo that failed.

import { StepsFailedError, TransportError } from "../errors";
import type { Argv } from "../host/command";
import type { RunCommand } from "../ssh/pool";

export interface HostStep {
  argv: Argv;
  /** Standard input for the command (a file's content). */
  stdin?: string;
  /** How to take this step back; omitted when a later undo (deleting the link) covers it. */
  undo?: Argv;
  /** Standard input for the undo (a file's earlier content, written back). */
  undoStdin?: string;
}

export async function applySteps(run: RunCommand, steps: readonly HostStep[]): Promise<void> {
  const done: HostStep[] = [];
  try {
    for (const step of steps) {
      await run(step.argv, { stdin: step.stdin });
      done.push(step);
    }
  } catch (err) {
    const undoFailures: { argv: Argv; stderr: string }[] = [];
    const failed = steps[done.length];
    const failedUndo = failed.undo;
    if (err instanceof TransportError && err.commandMayHaveRun && failedUndo) {
      await run(failedUndo, { allowFailure: true, stdin: failed.undoStdin }).catch((e: Error) => {
        undoFailures.push({ argv: failedUndo, stderr: e.message });
      });
    }
    for (const step of [...done].reverse()) {
      if (!step.undo) continue;
      const result = await run(step.undo, { allowFailure: true, stdin: step.undoStdin }).catch((e: Error) => ({
        exitCode: -1,
        stdout: "",
        stderr: e.message,
      }));
      if (result.exitCode !== 0) undoFailures.push({ argv: step.undo, stderr: result.stderr });
    }
    throw new StepsFailedError(err, done.length, undoFailures);
  }
}
