// Never lose the host over a link change: the refusal in sessionPath.ts catches the routes it can
// see coming, and whatever still takes the session's path (a peer behind NAT, policy routing, a
// parent that cannot reach the peer) is undone by the host itself. Before the steps run, a
// rollback is armed on the host (host/deadman.ts); after them the provider confirms over a NEW
// SSH login, which proves new sessions still get through, and only that confirmation stops the
// rollback. No confirmation within the window, and the host runs the steps' undo commands. Nor is
// a failed change confirmed whose own undo failed too (typically on the connection a failed step
// lost): confirming would keep it half made, so the provider asks the host's switch to undo it
// at once instead.

import { randomBytes } from "node:crypto";
import { DeadmanError, type HostUndo, RemoteCommandError, StepsFailedError } from "../errors";
import type { Argv } from "../host/command";
import {
  buildDeadmanArm,
  buildDeadmanCheck,
  buildDeadmanCleanup,
  type DeadmanState,
  deadmanToken,
  parseDeadmanArm,
  parseDeadmanCheck,
  undoWithInput,
} from "../host/deadman";
import type { FreshRun } from "../ssh/oneShot";
import type { RunCommand } from "../ssh/pool";
import { applySteps, type HostStep } from "./steps";

export interface DeadmanOptions {
  /**
   * How long the host waits for the confirmation, from arming. It must cover the steps and a
   * fresh login on a slow host (LAB.md: a command 0.4-1.3 s, a login 1.1-1.7 s on a TCG VM; a
   * shim with persist: true is up to ten commands and a systemctl daemon-reload), with room to
   * spare; and it is how long an operator who was cut off waits to get the host back.
   */
  windowMs: number;
  /**
   * The first confirmation attempt's deadline: a login and the check together. Each attempt
   * after one that failed slowly (having used half its time or more) gets twice the last one's,
   * up to ATTEMPT_GROWTH_CAP times this: on a host slower than this (a loaded one, a VM under
   * emulation) a login that was making progress would otherwise be cut off every time. One that
   * failed fast (a refused connection) says nothing about the host's speed and changes nothing,
   * so an attempt that goes out on a path still captured is soon given up and retried.
   */
  attemptMs: number;
  /** How long after the window the provider keeps asking how it ended, before giving up. */
  settleMs: number;
  /** The pause before asking again after an attempt that failed fast (a refused connection). */
  retryPauseMs: number;
}

/** How many times attemptMs a later confirmation attempt may take at most. */
const ATTEMPT_GROWTH_CAP = 4;

export const DEADMAN_DEFAULTS: DeadmanOptions = { windowMs: 30_000, attemptMs: 4_000, settleMs: 15_000, retryPauseMs: 500 };

/** The host as the switch needs it: who logs in, and whether its undo commands need sudo. */
export interface DeadmanHost {
  target: string;
  user: string;
  sudo: boolean;
}

/** What was armed: the token on the host and the rollback's pid (also its process group). */
export interface Armed {
  token: string;
  pid: number;
}

/**
 * Runs the steps under a dead-man switch: the host undoes them (their undo commands, newest
 * first) unless a fresh login confirms the host within the window. Returns what was armed, or
 * undefined when no step has an undo (nothing the switch could take back). Throws DeadmanError
 * when the host undid the change or never answered again; a step's own failure is rethrown as
 * applySteps reports it once the switch is disarmed, or, when applySteps' undo failed too, with
 * what the host's switch did instead (StepsFailedError.hostUndo).
 */
export async function applyStepsWithDeadman(
  run: RunCommand,
  fresh: FreshRun,
  host: DeadmanHost,
  steps: readonly HostStep[],
  options: DeadmanOptions = DEADMAN_DEFAULTS,
): Promise<Armed | undefined> {
  const { target } = host;
  // The rollback runs as the login user (so sudoers need no rule for a shell); each undo
  // command goes through sudo itself, as the pool would run it.
  const privileged = (argv: Argv): Argv => (host.sudo ? ["sudo", "-n", "--", ...argv] : argv);
  const undos: Argv[] = steps
    .flatMap((s) => (s.undo ? [s.undoStdin === undefined ? privileged(s.undo) : undoWithInput(privileged(s.undo), s.undoStdin)] : []))
    .reverse();
  if (undos.length === 0) {
    await applySteps(run, steps);
    return undefined;
  }
  const windowSeconds = Math.max(1, Math.ceil(options.windowMs / 1000));
  const token = deadmanToken(host.user, randomBytes(8).toString("hex"));
  // The host's sleep starts after this instant, so the rollback never fires before windowEnds
  // unless the provider asks it to.
  const windowEnds = Date.now() + windowSeconds * 1000;
  const pid = parseDeadmanArm((await run(buildDeadmanArm(token, windowSeconds, undos), { asLoginUser: true })).stdout);

  // Once the window is over the host is (or soon will be) undoing: a step whose answer comes in
  // late must not be followed by the next one.
  let abandoned = false;
  const guarded: RunCommand = (argv, opts) =>
    abandoned ? Promise.reject(new Error("the dead-man window is over; not running further steps")) : run(argv, opts);
  const applied = applySteps(guarded, steps).then(
    () => ({ ok: true as const }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), windowEnds - Date.now());
  });
  const first = await Promise.race([applied, expired]);
  clearTimeout(timer);

  const deadline = windowEnds + options.settleMs;
  const fail = (outcome: "undone" | "unconfirmed", why: string, output?: string) =>
    new DeadmanError(target, outcome, windowSeconds, why, undos, output);

  if (first === "expired") {
    abandoned = true;
    // The steps never finished: confirming now would keep a change in an unknown state, so the
    // provider only waits to see the host undo it.
    const seen = await settle(fresh, target, buildDeadmanCheck(token, pid, "status"), windowEnds, deadline, options);
    const why = `its commands did not finish within the window${seen.why ? `; then: ${seen.why}` : ""}`;
    throw seen.state?.state === "undone" ? fail("undone", why, seen.state.output) : fail("unconfirmed", why);
  }

  if (!first.ok && first.err instanceof StepsFailedError && first.err.undoFailures.length > 0) {
    // Part of the change is still on the host and the provider could not take it back.
    const { cause, stepsDone, undoFailures } = first.err;
    const hostUndo = await askSwitchToUndo(fresh, target, { token, pid, windowSeconds, windowEnds, deadline }, options);
    throw new StepsFailedError(cause, stepsDone, undoFailures, hostUndo);
  }

  const seen = await settle(fresh, target, buildDeadmanCheck(token, pid, "confirm"), windowEnds, deadline, options);
  switch (seen.state?.state) {
    case "confirmed":
      // Best effort: the confirmation is what counts. The pooled connection may be the one a
      // failed step lost; a `.kept` file left over is a few bytes on a tmpfs, gone at reboot.
      await run(buildDeadmanCleanup(token), { allowFailure: true, asLoginUser: true }).catch(() => undefined);
      if (!first.ok) throw first.err;
      return { token, pid };
    case "undone":
      throw fail("undone", first.ok ? seen.why || "the confirmation came too late" : errorText(first.err), seen.state.output);
    case "lost":
      throw fail("unconfirmed", tokenGone(token));
    default:
      throw fail("unconfirmed", seen.why || "no answer");
  }
}

/**
 * Has the switch undo a change the provider could not take back. The switch holds every step's
 * undo, and one whose step never ran or was undone already finds nothing to do (each deletes
 * this resource's own link, address, route or file, or puts back what was there before), so it
 * is left to run them all. It is asked to undo now, on fresh logins; should none get through,
 * it still undoes by itself when the window ends. (A step cut off with its connection may still
 * be running on the host until its own deadline, and take effect after this undo; the window
 * was never a bound on that either, as commandTimeoutMs is longer.)
 */
async function askSwitchToUndo(
  fresh: FreshRun,
  target: string,
  armed: Armed & { windowSeconds: number; windowEnds: number; deadline: number },
  options: DeadmanOptions,
): Promise<HostUndo> {
  const { token, pid, windowSeconds, windowEnds, deadline } = armed;
  // An unexpected answer to the check is reported with the step's failure, not instead of it.
  const ended = await settle(fresh, target, buildDeadmanCheck(token, pid, "undo"), windowEnds, deadline, options).catch((err: unknown) => ({
    state: undefined,
    why:
      err instanceof RemoteCommandError
        ? `the host's answer to the check was not understood: it exited with ${err.result.exitCode}: ${err.result.stderr.trim() || "(no output)"}`
        : errorText(err),
  }));
  switch (ended.state?.state) {
    case "undone":
      return { outcome: "undone", windowSeconds, output: ended.state.output };
    case "lost":
      return { outcome: "unconfirmed", windowSeconds, why: tokenGone(token) };
    case "confirmed":
      return { outcome: "unconfirmed", windowSeconds, why: "the host says the change was confirmed, which this provider did not do" };
    default:
      return { outcome: "unconfirmed", windowSeconds, why: ended.why || "no answer" };
  }
}

function tokenGone(token: string): string {
  return `the switch's token ${token} is gone from the host (an answer that said how it ended was lost, or the host rebooted)`;
}

/**
 * Asks on fresh logins until the host gives a final answer (confirmed, undone, lost) or the
 * deadline passes; `why` is the last failure seen, for the error message.
 */
async function settle(
  fresh: FreshRun,
  target: string,
  check: Argv,
  windowEnds: number,
  deadline: number,
  options: DeadmanOptions,
): Promise<{ state?: DeadmanState; why: string }> {
  let why = "";
  let attemptMs = options.attemptMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { why };
    const began = Date.now();
    const given = Math.min(attemptMs, left);
    try {
      const result = await fresh(check, given);
      const state = parseDeadmanCheck(result);
      if (!state) throw new RemoteCommandError(target, check, result);
      if (state.state === "confirmed" || state.state === "undone" || state.state === "lost") return { state, why };
      why =
        state.state === "undoing"
          ? "the host was undoing the change"
          : Date.now() < windowEnds
            ? "the host answered; its switch had not fired yet"
            : "the host answered; its switch had not fired yet, after its window (late, or its rollback process was ended)";
    } catch (err) {
      if (err instanceof RemoteCommandError) throw err;
      why = errorText(err);
      if (Date.now() - began >= given / 2) attemptMs = Math.min(2 * attemptMs, ATTEMPT_GROWTH_CAP * options.attemptMs);
    }
    const pause = options.retryPauseMs - (Date.now() - began);
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
