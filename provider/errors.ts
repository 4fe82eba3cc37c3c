// Every error the library throws on purpose: its type says what happened, its fields carry
// what a caller needs to act on it, and its message is built here and nowhere else.

import { Argv, CommandResult, shellCommand } from "./host/command";

/** What is in the way of a change. `names` in RefusalError lists the objects it names. */
export type Refusal =
  | { kind: "nameTaken"; object: "interface"; name: string }
  | { kind: "nameTaken"; object: "network"; name: string; id: string }
  | { kind: "parentMissing"; parent: string; hostHas?: string[] }
  | { kind: "notOurs"; name: string; expected: string; actual?: string }
  | { kind: "adoptMismatch"; name: string; differences: string[] }
  | { kind: "subnetOverlap"; subnet: string; network: string; networkSubnet: string; networkId: string }
  | { kind: "inUse"; object: "network"; name: string; containers: string[] }
  | { kind: "inUse"; object: "link"; name: string; networks: string[] }
  | { kind: "parentTaken"; parent: string; driver: string; network: string }
  | { kind: "parentConflict"; parent: string; driver: string; other: string; network: string }
  | { kind: "parentConflict"; parent: string; driver: string; other: string; link: string }
  | { kind: "mtuTooLarge"; parent: string; mtu: number; parentMtu: number }
  | { kind: "gone"; object: string; name: string; id?: string }
  | { kind: "vanished"; object: string; name: string; during: "create" | "update" }
  | { kind: "persistUnsupported"; parent: string };

export type RefusalKind = Refusal["kind"];

function id12(id: string): string {
  return id.slice(0, 12);
}

function refusalText(r: Refusal): string {
  switch (r.kind) {
    case "nameTaken":
      return r.object === "interface"
        ? `interface "${r.name}" already exists; remove it or choose another name`
        : `a Docker network named "${r.name}" already exists (id ${id12(r.id)}); ` +
            `set adopt: true to take it over if its settings match, or choose another name`;
    case "parentMissing":
      return `parent interface "${r.parent}" does not exist${r.hostHas ? ` on the host (it has: ${r.hostHas.join(", ")})` : ""}`;
    case "notOurs":
      return `"${r.name}" is now a ${r.actual ?? "plain"} link, not the ${r.expected} link this resource made; not deleting it`;
    case "adoptMismatch":
      return `cannot adopt Docker network "${r.name}": its settings differ:\n  - ${r.differences.join("\n  - ")}`;
    case "subnetOverlap":
      return `subnet ${r.subnet} overlaps ${r.networkSubnet} of existing Docker network "${r.network}" (id ${id12(r.networkId)})`;
    case "inUse":
      return r.object === "network"
        ? `Docker network "${r.name}" is still used by container(s) ${r.containers.join(", ")}; remove them or disconnect them from the network first`
        : `"${r.name}" is still the parent of Docker network(s) ${r.networks.map((n) => `"${n}"`).join(", ")}; delete them first`;
    case "parentTaken":
      return `Docker network "${r.network}" already uses parent "${r.parent}" with the ${r.driver} driver; Docker allows one ${r.driver} network per parent`;
    case "parentConflict": {
      const why = `the kernel cannot put ${r.driver} and ${r.other} ports on one parent`;
      return "network" in r
        ? `Docker ${r.other} network "${r.network}" uses parent "${r.parent}"; ${why}`
        : `${r.other} interface "${r.link}" (a host shim?) already sits on parent "${r.parent}"; ${why}`;
    }
    case "mtuTooLarge":
      return `mtu ${r.mtu} is larger than parent "${r.parent}"'s mtu ${r.parentMtu}`;
    case "gone":
      return `${r.object} "${r.name}"${r.id ? ` (${r.id})` : ""} no longer exists; run \`pulumi refresh\``;
    case "vanished":
      return `${r.object} "${r.name}" vanished ${r.during === "create" ? "right after it was created" : "during the update"}`;
    case "persistUnsupported":
      return `persist: true needs systemd on the host (systemd-networkd managing "${r.parent}", or systemd to run a unit); neither was found, so set persist: false`;
  }
}

/** The names a refusal puts in the way (containers, networks, links, the parent). */
function refusalNames(r: Refusal): string[] {
  switch (r.kind) {
    case "parentMissing":
    case "mtuTooLarge":
    case "persistUnsupported":
      return [r.parent];
    case "subnetOverlap":
    case "parentTaken":
      return [r.network];
    case "inUse":
      return r.object === "network" ? r.containers : r.networks;
    case "parentConflict":
      return ["network" in r ? r.network : r.link];
    default:
      return [r.name];
  }
}

/** The library refused a change because of something on the host; the host is unchanged. */
export class RefusalError extends Error {
  readonly kind: RefusalKind;
  readonly names: string[];

  constructor(
    readonly target: string,
    readonly refusal: Refusal,
  ) {
    super(`${target}: ${refusalText(refusal)}`);
    this.name = "RefusalError";
    this.kind = refusal.kind;
    this.names = refusalNames(refusal);
  }
}

/** A command that ran and exited non-zero (or was killed); carries what the host said. */
export class RemoteCommandError extends Error {
  constructor(
    readonly target: string,
    readonly argv: Argv,
    readonly result: CommandResult,
  ) {
    const detail = result.stderr.trim() || result.stdout.trim() || "(no output)";
    super(`${target}: \`${shellCommand(argv)}\` exited with ${result.exitCode}: ${detail}`);
    this.name = "RemoteCommandError";
  }
}

/**
 * The Docker Engine API (over the SSH connection) refused a request (`status`, with the
 * daemon's message), or the stream to it failed (`status` undefined; `streamExitCode` is how
 * `docker system dial-stdio` exited, when it did).
 */
export class DockerApiError extends Error {
  constructor(
    readonly target: string,
    readonly method: string,
    readonly path: string,
    readonly status: number | undefined,
    detail: string,
    readonly streamExitCode?: number,
    readonly streamStderr?: string,
  ) {
    const daemonMessage = status === undefined ? detail : messageOf(detail);
    super(
      status === undefined
        ? `${target}: Docker API \`${method} ${path}\` failed: ${daemonMessage}`
        : `${target}: Docker API \`${method} ${path}\` answered ${status}: ${daemonMessage}`,
    );
    this.name = "DockerApiError";
  }
}

/** The daemon's `{"message": ...}` body, or the text as it came. */
function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: show it as it came
  }
  return text.trim() || "(no body)";
}

/**
 * Why no command result exists: the TCP connection failed (connect), the SSH handshake failed
 * (handshake), the credentials were refused (auth), the host key was not the pinned one
 * (hostKey), the session or the command ran out of time (timeout), or the channel failed to
 * open or ended without an exit status (channel).
 */
export type TransportReason = "connect" | "handshake" | "auth" | "hostKey" | "timeout" | "channel";

/** The host could not be reached or the SSH session failed; no command result exists. */
export class TransportError extends Error {
  private constructor(
    readonly target: string,
    readonly reason: TransportReason,
    detail: string,
    /** False only when the channel never opened: the command did not run, so a retry is safe. */
    readonly commandMayHaveRun = true,
  ) {
    super(`${target}: ${detail}`);
    this.name = "TransportError";
  }

  static cannotConnect(target: string, cause: string): TransportError {
    return new TransportError(target, "connect", `cannot connect: ${cause}`);
  }

  static handshakeFailed(target: string, cause: string): TransportError {
    return new TransportError(target, "handshake", cause);
  }

  static closedBeforeReady(target: string): TransportError {
    return new TransportError(target, "handshake", "connection closed before the SSH session was ready");
  }

  static noSession(target: string, timeoutMs: number): TransportError {
    return new TransportError(target, "timeout", `no SSH session within ${timeoutMs} ms`);
  }

  static authFailed(target: string, user: string, methods: string[]): TransportError {
    return new TransportError(target, "auth", `authentication as ${user} failed (tried: ${methods.join(", ")})`);
  }

  /** `pinned` is false when no hostKey was set (and insecureIgnoreHostKey was not either). */
  static hostKeyRefused(target: string, presented: string, pinned: boolean): TransportError {
    return new TransportError(
      target,
      "hostKey",
      pinned
        ? `host key verification failed: the host presented ${presented}, which does not match connection.hostKey`
        : `host key verification failed: the host presented ${presented} and no connection.hostKey is set`,
    );
  }

  static cannotStart(target: string, argv: Argv, cause: string): TransportError {
    return new TransportError(target, "channel", `cannot start \`${shellCommand(argv)}\`: ${cause}`, false);
  }

  static commandTimedOut(target: string, argv: Argv, timeoutMs: number): TransportError {
    return new TransportError(target, "timeout", `\`${shellCommand(argv)}\` did not finish within ${timeoutMs} ms`);
  }

  static noExitStatus(target: string, argv: Argv, signal: string | undefined, stderr: string): TransportError {
    const why = `${signal ? ` (signal ${signal})` : ""}${stderr.trim() ? `: ${stderr.trim()}` : ""}`;
    return new TransportError(target, "channel", `\`${shellCommand(argv)}\` ended without an exit status${why}`);
  }
}

/** A multi-step change failed; what was done is undone (or the undo failures are listed). */
export class StepsFailedError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly stepsDone: number,
    readonly undoFailures: { argv: Argv; stderr: string }[],
  ) {
    const outcome =
      undoFailures.length === 0
        ? `the ${stepsDone} step(s) already done were undone`
        : `undoing failed too, check the host by hand: ${undoFailures.map((f) => `\`${shellCommand(f.argv)}\`: ${f.stderr.trim()}`).join("; ")}`;
    super(`${cause instanceof Error ? cause.message : String(cause)}\n(${outcome})`);
    this.name = "StepsFailedError";
  }
}

/** One input that failed validation: the dotted property path and the reason. */
export interface FieldFailure {
  /** Dotted path as Pulumi's CheckFailure.property expects ("ipv6.gateway"). */
  property: string;
  reason: string;
}

/** Thrown by create/update when inputs fail validation; the message lists every failure. */
export class InputValidationError extends Error {
  constructor(
    readonly resource: string,
    readonly failures: FieldFailure[],
  ) {
    super(`invalid ${resource} inputs:\n${failures.map((f) => `  - ${f.reason}`).join("\n")}`);
    this.name = "InputValidationError";
  }
}
