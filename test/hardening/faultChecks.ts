// What the fault suites (faults.test.ts here, vm/*.test.ts) hold every scenario to: a typed
// error naming the host within a stated bound, recovery within another, one figure per scenario.

import { strict as assert } from "node:assert";
import { type DockerApiError, RefusalError, StepsFailedError, TransportError } from "../../provider/errors";
import { connectionFor, lab } from "../integration/fixture";
import type { LabFaults, LabHost } from "../lab/types";
import { recordFigure } from "../support/figures";
import { assertSafeMessage } from "../support/safeMessage";

/** The lab's first host with its fault injection, and the target name errors carry. */
export async function faultHost(): Promise<{ host: LabHost; faults: LabFaults; target: string }> {
  const host = (await lab()).hosts[0];
  assert.ok(host.faults, "this lab kind has no fault injection (test/lab/README.md, Faults)");
  return { host, faults: host.faults, target: `ssh://${host.ssh.user}@${host.ssh.host}:${host.ssh.port}` };
}

// A VM lab host runs under TCG: one command over SSH takes 0.3-4 s there (test/lab/vm/README.md),
// against ~70 ms on a netns lab host, so its timeouts and slack are larger.
const ON_VM = process.env.LAB_KIND === "vm";

// Distinct values, so a message's "N ms" says which timeout ended the wait.
export const CONNECT_TIMEOUT_MS = ON_VM ? 20_000 : 4_000;
export const COMMAND_TIMEOUT_MS = ON_VM ? 15_000 : 3_000;
export const DIAL_ATTEMPTS = 2;
/** retry.ts's wait before a second dial. */
export const DIAL_BACKOFF_MS = 500;
/**
 * What a loaded 2-core machine may add to any bound. A bound is timed from the call, so the
 * slack also covers the commands the operation runs before the fault fires.
 */
export const SLACK_MS = ON_VM ? 20_000 : 2_000;
/** A retry, a delete, a read once the fault is gone: a handful of commands, each far below its timeout. */
export const RECOVERY_MS = ON_VM ? 90_000 : 20_000;

type ErrorClass = typeof TransportError | typeof DockerApiError | typeof RefusalError;

export interface Failure {
  error: Error;
  ms: number;
}

/** What a bounded wait left running: its promise never settled, and may hold the host's lock. */
let stillHanging: string | undefined;

function hangingNote(): string {
  return stillHanging ? ` (an earlier scenario left "${stillHanging}" hanging, which may hold this host's lock)` : "";
}

/** How `promise` settled, or "deadline" after `ms`. */
async function settled<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | "deadline"> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"deadline">((resolve) => {
    timer = setTimeout(() => resolve("deadline"), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error `promise` rejects with and how long it took; fails when it resolves or takes past bound + slack. */
export async function failsWithin(promise: Promise<unknown>, boundMs: number, what: string): Promise<Failure> {
  const started = Date.now();
  const outcome = await settled(promise, boundMs + SLACK_MS);
  const note = hangingNote();
  if (outcome === "deadline") stillHanging = what;
  assert.notEqual(outcome, "deadline", `${what}: no error within ${boundMs + SLACK_MS} ms (bound ${boundMs} ms + slack)${note}`);
  assert.ok(outcome !== "deadline" && "error" in outcome, `${what}: succeeded despite the fault`);
  const { error } = outcome;
  assert.ok(error instanceof Error, `${what}: rejected with a non-Error ${String(error)}`);
  const ms = Date.now() - started;
  assert.ok(ms <= boundMs + SLACK_MS, `${what}: the error took ${ms} ms, bound ${boundMs} ms`);
  return { error, ms };
}

/** How `promise` settled (value or error); fails only when it takes past RECOVERY_MS. */
export async function settledWithin<T>(promise: Promise<T>, what: string): Promise<{ value: T } | { error: unknown }> {
  const outcome = await settled(promise, RECOVERY_MS);
  if (outcome === "deadline") {
    const note = hangingNote();
    stillHanging = what;
    assert.fail(`${what}: neither done nor failed within ${RECOVERY_MS} ms${note}`);
  }
  return outcome;
}

/** What `promise` resolves to; fails when it rejects or takes past RECOVERY_MS. */
export async function succeedsWithin<T>(promise: Promise<T>, what: string): Promise<T> {
  const outcome = await settled(promise, RECOVERY_MS);
  if (outcome === "deadline") {
    const note = hangingNote();
    stillHanging = what;
    assert.fail(`${what}: not done within ${RECOVERY_MS} ms${note}`);
  }
  if ("error" in outcome) throw outcome.error;
  return outcome.value;
}

/** The typed error behind `error`: itself, or what a StepsFailedError wraps. */
export function typedCause(error: Error, classes: ErrorClass[], target: string): Error {
  const cause = error instanceof StepsFailedError ? error.cause : error;
  assert.ok(
    classes.some((c) => cause instanceof c),
    `expected ${classes.map((c) => c.name).join(" or ")}, got ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`,
  );
  assert.ok(error.message.includes(target), `the message does not name the host ${target}: ${error.message}`);
  assertSafeMessage(error.message);
  return cause as Error;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** An error as a figure names it: its class, and its reason or kind ("TransportError (auth)"). */
export function kindOf(error: Error): string {
  const detail = error instanceof TransportError ? error.reason : error instanceof RefusalError ? error.kind : undefined;
  return detail ? `${error.name} (${detail})` : error.name;
}

/** The snapshot's lines that do not mention `name` (a link's or a network's). */
export function without(snapshot: string, name: string): string {
  return snapshot
    .split("\n")
    .filter((line) => !line.includes(`"${name}"`) && !line.split(" ").includes(name))
    .join("\n");
}

/** A connection with the suite's timeouts, distinct so a message's "N ms" names the one that applied. */
export function faultConnection(host: LabHost, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return connectionFor(host, {
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    dialErrorLimit: DIAL_ATTEMPTS,
    ...overrides,
  });
}

/**
 * The `owner` input a resource class gives its provider (resources/owner.ts), for a provider
 * whose schema has one: the suites call providers as a program's resources would, and it is the
 * owner's mark that lets a create recognise what a lost connection left half-made.
 */
export function asResourceWould(schema: unknown, type: string, name: string): Record<string, string> {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  return shape !== undefined && "owner" in shape ? { owner: `faults-test/lab/${type}/${name}` } : {};
}

/** One scenario as a mocha test: its figure is recorded whether it passes (the body's verdict) or not. */
export function scenario(name: string, target: string, body: () => Promise<string>): void {
  it(name, async () => {
    try {
      const value = await body();
      recordFigure({ group: "faults", name, value, target, ok: true });
    } catch (err) {
      const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
      recordFigure({ group: "faults", name, value: `failed: ${why.slice(0, 160)}`, target, ok: false });
      throw err;
    }
  });
}
