// Running a local argv (never a shell string) for the lab helpers, with a deadline, its output
// collected, and errors that show the command as a shell would read it.

import { spawn } from "node:child_process";
import * as os from "node:os";
import { shellCommand } from "../../provider/host/command";
import type { ExecOptions, ExecResult } from "./types";

const OUTPUT_LIMIT = 4_000; // characters of stdout/stderr quoted in an error message

export interface RunOptions extends ExecOptions {
  env?: NodeJS.ProcessEnv;
  /** Stream the child's stderr to ours (long builds) instead of capturing it. */
  inheritStderr?: boolean;
  /** What to call the command in errors (default: the argv, shell-quoted). */
  describe?: string;
}

function tail(text: string): string {
  const t = text.trimEnd();
  return t.length > OUTPUT_LIMIT ? `...${t.slice(-OUTPUT_LIMIT)}` : t;
}

/** Resolves with code/stdout/stderr; rejects on a non-zero exit unless allowFail, and on timeout. */
export function run(argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
  if (argv.length === 0) return Promise.reject(new Error("run: empty argv"));
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const shown = opts.describe ?? shellCommand(argv);
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["ignore", "pipe", opts.inheritStderr ? "inherit" : "pipe"],
      env: opts.env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`cannot start ${shown}: ${e.message}`));
    });
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const result: ExecResult = {
        code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : -1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      const output = `stderr: ${tail(result.stderr)}\nstdout: ${tail(result.stdout)}`;
      if (timedOut) {
        reject(new Error(`timed out after ${timeoutMs} ms: ${shown}\n${output}`));
      } else if (result.code !== 0 && !opts.allowFail) {
        reject(new Error(`exit ${result.code}${signal ? ` (${signal})` : ""}: ${shown}\n${output}`));
      } else {
        resolve(result);
      }
    });
  });
}
