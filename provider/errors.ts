// Every error the library throws on purpose: its type says what happened, its fields carry
// what a caller needs to act on it, and its message is built here and nowhere else.

import { type Argv, type CommandResult, shellCommand } from "./host/command";

// ---------------------------------------------------------------------------------------------
// Values in messages. A message ends up in terminals, CI logs and PR comments, so a value a
// user (or a host) supplied is shown escaped (a bidi override or a C1 control would rewrite what
// a reader sees), bounded (a 200 KB label must not come back as a 200 KB message), and not at all
// when it looks like key material, whichever field it was pasted into.

/** How many code points of a value a message shows before "… (N chars)". */
export const SHOWN_PREFIX = 64;

// Controls (C0, DEL, C1), format characters (bidi marks and overrides, zero-width joiners, BOM,
// soft hyphen), separators other than a plain space, private-use, unassigned and lone surrogate
// code points, and everything Unicode says renders as nothing (variation selectors, Hangul fillers).
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\p{Default_Ignorable_Code_Point}\u2800]|(?! )\p{Zs}/u;

const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|PRIVATE KEY-----|PuTTY-User-Key-File/i;
// The body of a key (or any long secret) without its armour: a long run of base64 mixing upper
// and lower case and digits (a Docker network id, 64 lower-case hex digits, is not one).
const BASE64_RUN = /[A-Za-z0-9+/]{48,}={0,2}/g;

function isBase64Blob(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9+/]/.test(run);
}

/** True when text looks like key material: a private key block or a long base64 blob. */
export function looksLikeKeyMaterial(text: string): boolean {
  return PRIVATE_KEY_BLOCK.test(text) || (text.match(BASE64_RUN) ?? []).some(isBase64Blob);
}

/** Text with every invisible or control code point written as an escape (\u202e); `keep` stays as is. */
export function escapeText(text: string, keep: ReadonlySet<string> = new Set()): string {
  let out = "";
  // for..of walks code points, so a lone surrogate is one element and astral characters stay whole.
  for (const ch of text) {
    if (keep.has(ch)) out += ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\\" || ch === '"') out += `\\${ch}`;
    else if (INVISIBLE.test(ch)) {
      const code = ch.codePointAt(0)!;
      out += code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out;
}

const FREE_TEXT_KEEPS = new Set(["\n", "\t", "\\", '"']);

/**
 * Free text from a host or a library (stderr, a cause) as a message may carry it: line breaks
 * kept, other controls and invisibles escaped, key material cut out, at most `limit` code points.
 */
export function printable(text: string, limit = 2000): string {
  const points = Array.from(text);
  const cut = points.length > limit ? `${points.slice(0, limit).join("")}… (${points.length} chars)` : text;
  return escapeText(cut, FREE_TEXT_KEEPS)
    .replace(/-----BEGIN[^\n]*PRIVATE KEY-----[\s\S]*?(?:-----END[^\n]*-----|$)/g, "(key material hidden)")
    .replace(BASE64_RUN, (run) => (isBase64Blob(run) ? "(hidden)" : run));
}

/**
 * The one way a value enters a message: a string in double quotes with invisible and control
 * code points escaped, at most SHOWN_PREFIX code points of it ("… (N chars)" after), and
 * "(value hidden: ...)" instead when it looks like key material or holds one of `secrets`
 * (the values of the secret fields, wherever else they were pasted). Numbers and booleans as
 * written; anything else is named by its type only (an object may hold a secret field).
 */
export function showValue(value: unknown, secrets: readonly string[] = []): string {
  if (value === undefined) return "nothing";
  if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value !== "string") return Array.isArray(value) ? "a list" : `a${typeof value === "object" ? "n object" : ` ${typeof value}`}`;
  if (looksLikeKeyMaterial(value)) return "(value hidden: looks like key material)";
  if (secrets.some((s) => s.length > 0 && (value.includes(s) || (value.length >= 8 && s.includes(value))))) {
    return "(value hidden: a secret field's value)";
  }
  const points = Array.from(value);
  if (points.length <= SHOWN_PREFIX) return `"${escapeText(value)}"`;
  return `"${escapeText(points.slice(0, SHOWN_PREFIX).join(""))}"… (${points.length} chars)`;
}

/** What is in the way of a change. `names` in RefusalError lists the objects it names. */
export type Refusal =
  | { kind: "nameTaken"; object: "interface"; name: string }
  | { kind: "nameTaken"; object: "network"; name: string; id: string; pending?: true }
  | { kind: "parentMissing"; parent: string; hostHas?: string[] }
  | { kind: "notOurs"; name: string; expected: string; actual?: string; differences?: string[] }
  | { kind: "adoptMismatch"; name: string; differences: string[] }
  | { kind: "otherOwner"; object: "interface" | "Docker network"; name: string; owner: string; ours?: string }
  | { kind: "resumeMismatch"; object: "interface" | "Docker network"; name: string; differences: string[] }
  | { kind: "subnetOverlap"; subnet: string; network: string; networkSubnet: string; networkId: string }
  | { kind: "inUse"; object: "network"; name: string; containers: string[] }
  | { kind: "inUse"; object: "link"; name: string; networks: string[] }
  | { kind: "parentTaken"; parent: string; driver: string; network: string }
  | { kind: "parentConflict"; parent: string; driver: string; other: string; network: string }
  | { kind: "parentConflict"; parent: string; driver: string; other: string; link: string }
  | { kind: "mtuTooLarge"; parent: string; mtu: number; parentMtu: number }
  | { kind: "gone"; object: string; name: string; id?: string }
  | { kind: "vanished"; object: string; name: string; during: "create" | "update" }
  | { kind: "persistUnsupported"; parent: string }
  | { kind: "cutsSession"; link: string; what: "route" | "address"; value: string; peer: string; via: string }
  | { kind: "sessionUnknown"; link: string; why: string }
  | { kind: "wifiParent"; parent: string; driver: string }
  | { kind: "dockerTooOld"; feature: string; needs: string; version: string }
  | { kind: "hostLocked"; lockFile: string; waitedMs: number }
  | { kind: "vlanUnsupported"; parent: string; said: string }
  | { kind: "ipv4Added"; network: string; subnet: string };

export type RefusalKind = Refusal["kind"];

/** A Docker id shortened as `docker network ls` shows it; anything else (a pending create's "(being created)") whole. */
function id12(id: string): string {
  return /^[0-9a-f]+$/.test(id) ? id.slice(0, 12) : id;
}

/** A name in a list: bare when it is a plain name, else as showValue shows it. */
function showListed(name: string): string {
  return /^[A-Za-z0-9_.:@+-]{1,64}$/.test(name) ? name : showValue(name);
}

function refusalText(r: Refusal): string {
  switch (r.kind) {
    case "nameTaken":
      return r.object === "interface"
        ? `interface ${showValue(r.name)} already exists; remove it or choose another name`
        : r.pending
          ? `another resource in this run is creating a Docker network named ${showValue(r.name)} right now; ` +
            `two resources cannot declare one network: choose another name`
          : `a Docker network named ${showValue(r.name)} already exists (id ${printable(id12(r.id))}); ` +
            `set adopt: true to take it over if its settings match, or choose another name`;
    case "parentMissing":
      return `parent interface ${showValue(r.parent)} does not exist${r.hostHas ? ` on the host (it has: ${r.hostHas.map(showListed).join(", ")}); set parent to one of those` : ""}`;
    case "notOurs":
      if (r.differences) {
        return (
          `${showValue(r.name)} is no longer the ${r.expected} link this resource made (${r.differences.map((d) => printable(d, 200)).join("; ")}); ` +
          "not touching it. Someone else's link has the name: remove or rename it by hand. If it is this resource's link " +
          "made again at boot, `pulumi refresh` records it"
        );
      }
      return `${showValue(r.name)} is now a ${printable(r.actual ?? "plain", 40)} link, not the ${r.expected} link this resource made; not deleting it`;
    case "adoptMismatch":
      return `cannot adopt Docker network ${showValue(r.name)}: its settings differ:\n  - ${r.differences.map((d) => printable(d, 500)).join("\n  - ")}`;
    case "otherOwner":
      return (
        `${r.object} ${showValue(r.name)} carries the mark of another pulumi-underlay resource (owner ${showValue(r.owner)}; ` +
        `this resource's is ${r.ours === undefined ? "not set" : showValue(r.ours)}): another stack or resource made it, so it is not adopted. ` +
        "Choose another name, or remove it from the program that made it"
      );
    case "resumeMismatch":
      return (
        `${r.object} ${showValue(r.name)} was made by this resource (it carries its mark) but differs from what is asked, ` +
        `in what a create cannot change:\n  - ${r.differences.map((d) => printable(d, 500)).join("\n  - ")}\n` +
        "Remove it by hand (or change the program back) and run again"
      );
    case "subnetOverlap":
      return `subnet ${printable(r.subnet, 80)} overlaps ${printable(r.networkSubnet, 80)} of existing Docker network ${showValue(r.network)} (id ${printable(id12(r.networkId))}); choose a subnet that does not overlap it, or remove network ${showValue(r.network)} first`;
    case "inUse":
      return r.object === "network"
        ? `Docker network ${showValue(r.name)} is still used by container(s) ${r.containers.map(showListed).join(", ")}; remove them or disconnect them from the network first`
        : `${showValue(r.name)} is still the parent of Docker network(s) ${r.networks.map((n) => showValue(n)).join(", ")}; delete them first`;
    case "parentTaken":
      return `Docker network ${showValue(r.network)} already uses parent ${showValue(r.parent)} with the ${r.driver} driver; Docker allows one ${r.driver} network per parent`;
    case "parentConflict": {
      const why = `the kernel cannot put ${r.driver} and ${r.other} ports on one parent`;
      return "network" in r
        ? `Docker ${r.other} network ${showValue(r.network)} uses parent ${showValue(r.parent)}; ${why}`
        : `${r.other} interface ${showValue(r.link)} (a host shim?) already sits on parent ${showValue(r.parent)}; ${why}`;
    }
    case "mtuTooLarge":
      return `mtu ${r.mtu} is larger than parent ${showValue(r.parent)}'s mtu ${r.parentMtu}`;
    case "gone":
      return `${r.object} ${showValue(r.name)}${r.id ? ` (${printable(r.id, 80)})` : ""} no longer exists; run \`pulumi refresh\``;
    case "vanished":
      return `${r.object} ${showValue(r.name)} vanished ${r.during === "create" ? "right after it was created" : "during the update"}`;
    case "cutsSession":
      return (
        `${r.what} ${printable(r.value, 80)} on ${showValue(r.link)} would capture this SSH session: the host reaches ` +
        `${printable(r.peer, 80)} (the session's peer, from $SSH_CONNECTION) via ${printable(r.via, 120)}, and ` +
        `${r.what === "route" ? "that route" : "that address's subnet"} would move it onto ${showValue(r.link)}, leaving the host unreachable. ` +
        `Leave ${printable(r.peer, 80)} out of it (split the range around it), or manage the host over an address it does not cover`
      );
    case "sessionUnknown":
      return (
        `cannot tell which path this SSH session takes (${printable(r.why, 300)}), so cannot check that the addresses and routes ` +
        `for ${showValue(r.link)} leave it alone; refusing rather than risk cutting the session. The host must report the ` +
        "session's client address ($SSH_CONNECTION, which sshd sets) and a route to it"
      );
    case "wifiParent":
      return `parent ${showValue(r.parent)} is a Wi-Fi interface: an access point drops frames from the extra MAC addresses ${r.driver} gives each container; use IpvlanNetwork (containers share the parent's MAC) instead`;
    case "dockerTooOld":
      return `${r.feature} needs Docker ${r.needs} or later; the host runs Docker ${printable(r.version, 40)}: upgrade Docker on the host, or add an IPv4 subnet (dual stack)`;
    case "hostLocked":
      return `another process holds the host's lock ${showValue(r.lockFile)} (a change to links by another Pulumi run?); waited ${r.waitedMs} ms for it. Try again once that run has finished`;
    case "ipv4Added":
      return (
        `Docker gave IPv6-only network ${showValue(r.network)} an IPv4 subnet ${printable(r.subnet, 80)} from its default pools ` +
        "(it ignored EnableIPv4: false); the network was removed again. Upgrade Docker on the host, or add an IPv4 subnet (dual stack)"
      );
    case "vlanUnsupported":
      return (
        `parent ${showValue(r.parent)} does not exist and Docker could not make it: the host's kernel has no 802.1q VLAN support ` +
        `(Docker said: ${printable(r.said, 300)}). Load it on the host (\`modprobe 8021q\`), or choose a parent that exists; nothing was created`
      );
    case "persistUnsupported":
      return `persist: true needs systemd on the host (systemd-networkd managing ${showValue(r.parent)}, or systemd to run a unit); neither was found, so set persist: false`;
  }
}

/** The names a refusal puts in the way (containers, networks, links, the parent). */
function refusalNames(r: Refusal): string[] {
  switch (r.kind) {
    case "parentMissing":
    case "wifiParent":
    case "mtuTooLarge":
    case "persistUnsupported":
    case "vlanUnsupported":
      return [r.parent];
    case "cutsSession":
    case "sessionUnknown":
      return [r.link];
    case "subnetOverlap":
    case "parentTaken":
    case "ipv4Added":
      return [r.network];
    case "dockerTooOld":
      return [r.version];
    case "hostLocked":
      return [r.lockFile];
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
    const detail = printable(result.stderr.trim() || result.stdout.trim() || "(no output)");
    super(
      `${target}: \`${printable(shellCommand(argv))}\` exited with ${result.exitCode}: ${detail}${sudoHint(target, argv, result.stderr)}`,
    );
    this.name = "RemoteCommandError";
  }
}

// What `sudo -n` prints when the user may not run the command without a password: "a password
// is required" (no NOPASSWD rule covers it), "Sorry, user X is not allowed to execute ...", or
// "X is not in the sudoers file".
const SUDO_REFUSED =
  /^(sudo: a password is required|sudo: a terminal is required|Sorry, user \S+ is not allowed to execute|.*is not in the sudoers file)/m;

/** With `sudo: true`, the right the user lacks and the sudoers line that grants it. */
function sudoHint(target: string, argv: Argv, stderr: string): string {
  if (!SUDO_REFUSED.test(stderr)) return "";
  const user = /^ssh:\/\/([^@]+)@/.exec(target)?.[1] ?? "the SSH user";
  const program = argv[0];
  return (
    `\n(connection.sudo is set, and ${user} may not run \`${program}\` as root without a password: ` +
    `add a sudoers rule such as \`${user} ALL=(root) NOPASSWD: $(command -v ${program})\`; ` +
    `the provider runs docker, ip and test, ` +
    `and for persist: true also cat, tee, rm, mkdir, rmdir, systemctl and networkctl)`
  );
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
    // The daemon's message echoes request values (names, labels) and dial-stdio's stderr is the
    // host's text: both are shown escaped and bounded like any other host output.
    const daemonMessage = printable(status === undefined ? detail : messageOf(detail), 1000);
    const request = `${method} ${printable(path, 200)}`;
    super(
      status === undefined
        ? `${target}: Docker API \`${request}\` failed: ${daemonMessage}`
        : `${target}: Docker API \`${request}\` answered ${status}: ${daemonMessage}`,
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
    return new TransportError(target, "connect", `cannot connect: ${printable(cause, 500)}`);
  }

  static handshakeFailed(target: string, cause: string): TransportError {
    return new TransportError(target, "handshake", printable(cause, 500));
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
  static hostKeyRefused(target: string, presented: string, pinned: boolean, why?: string): TransportError {
    return new TransportError(
      target,
      "hostKey",
      why
        ? `host key verification failed: the host presented ${presented}: ${why}`
        : pinned
          ? `host key verification failed: the host presented ${presented}, which does not match connection.hostKey`
          : `host key verification failed: the host presented ${presented} and no connection.hostKey is set`,
    );
  }

  static cannotStart(target: string, argv: Argv, cause: string): TransportError {
    return new TransportError(target, "channel", `cannot start \`${printable(shellCommand(argv))}\`: ${printable(cause)}`, false);
  }

  /**
   * `endedByHost`: the host's `timeout` ended the command; otherwise the client stopped waiting
   * and the command may still be running (or have taken effect) on the host.
   */
  static commandTimedOut(target: string, argv: Argv, timeoutMs: number, endedByHost = false): TransportError {
    return new TransportError(
      target,
      "timeout",
      `\`${printable(shellCommand(argv))}\` did not finish within ${timeoutMs} ms (${endedByHost ? "ended on the host" : "no answer; the host ends it"})`,
    );
  }

  /** The exec request got no answer: the connection is silent. It may have reached the host. */
  static noChannel(target: string, argv: Argv, timeoutMs: number): TransportError {
    return new TransportError(
      target,
      "timeout",
      `no answer to the request to start \`${printable(shellCommand(argv))}\` within ${timeoutMs} ms; dropping the connection`,
    );
  }

  /**
   * A command of a link change was not started because the host lock the change holds is gone
   * (its holder ended, or this process stalled past the holder's silence bound): running it
   * unlocked could interleave with another process's change.
   */
  static lockLost(target: string, argv: Argv, why: string): TransportError {
    return new TransportError(
      target,
      "channel",
      `\`${printable(shellCommand(argv))}\` was not run: the host lock this change held is lost (${printable(why)}), and another process may be changing the host`,
      false,
    );
  }

  static noExitStatus(target: string, argv: Argv, signal: string | undefined, stderr: string): TransportError {
    const why = `${signal ? ` (signal ${printable(signal, 20)})` : ""}${stderr.trim() ? `: ${printable(stderr.trim())}` : ""}`;
    return new TransportError(target, "channel", `\`${printable(shellCommand(argv))}\` ended without an exit status${why}`);
  }
}

/**
 * What the host's dead-man switch (ops/deadman.ts) did with a change whose undo failed on the
 * provider's side: the provider did not confirm the change but asked the switch to undo it, and
 * either it ran its undo commands (`undone`, with what they printed on stderr) or the host did
 * not say so before the provider stopped asking (`unconfirmed`, with the last failure seen).
 */
export type HostUndo =
  | { outcome: "undone"; windowSeconds: number; output: string }
  | { outcome: "unconfirmed"; windowSeconds: number; why: string };

/**
 * A multi-step change failed; what was done is undone, or the undo failures are listed (with,
 * under the dead-man switch, what the host's switch did instead: `hostUndo`).
 */
export class StepsFailedError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly stepsDone: number,
    readonly undoFailures: { argv: Argv; stderr: string }[],
    readonly hostUndo?: HostUndo,
  ) {
    const failures = undoFailures.map((f) => `\`${printable(shellCommand(f.argv))}\`: ${printable(f.stderr.trim())}`).join("; ");
    super(`${cause instanceof Error ? cause.message : String(cause)}\n(${stepsOutcome(stepsDone, failures, hostUndo)})`);
    this.name = "StepsFailedError";
  }
}

function stepsOutcome(stepsDone: number, failures: string, hostUndo: HostUndo | undefined): string {
  if (!failures) return `the ${stepsDone} step(s) already done were undone`;
  if (!hostUndo) return `undoing failed too, check the host by hand: ${failures}`;
  const asked = `undoing failed here too (${failures}), so the change was not confirmed and the host's dead-man switch was asked to undo it`;
  if (hostUndo.outcome === "undone") {
    const output = hostUndo.output.trim() ? `; they printed: ${printable(hostUndo.output.trim(), 500)}` : "";
    return `${asked}: it ran its undo commands${output}`;
  }
  return (
    `${asked}, as it also does by itself when its ${hostUndo.windowSeconds} s window ends; the host did not say it had ` +
    `(${printable(hostUndo.why, 300)}), check the host by hand`
  );
}

/**
 * A link change armed with the dead-man switch (ops/deadman.ts) was not confirmed in time: the
 * host undid it by itself (`undone`, with what the undo commands printed on stderr), or the host still did
 * not answer after the window (`unconfirmed`; its switch undoes the change once the window ends).
 */
export class DeadmanError extends Error {
  constructor(
    readonly target: string,
    readonly outcome: "undone" | "unconfirmed",
    readonly windowSeconds: number,
    /** Why the provider could not confirm: the last failure it saw. */
    readonly why: string,
    readonly undos: readonly Argv[],
    readonly undoOutput = "",
  ) {
    // A shim update with many routes has as many undo commands: the message shows the first few.
    const shown = undos.slice(0, 4).map((argv) => `\`${printable(shellCommand(argv), 200)}\``);
    const undone = [...shown, ...(undos.length > shown.length ? [`and ${undos.length - shown.length} more`] : [])].join(", ");
    const output = undoOutput.trim() ? ` (they printed: ${printable(undoOutput.trim(), 500)})` : "";
    super(
      outcome === "undone"
        ? `${target}: the host undid the change by itself: the provider could not confirm it within the ${windowSeconds} s ` +
            `dead-man window (${printable(why, 300)}), so the host ran ${undone || "no undo command"}${output}. ` +
            "Did the change take the path of the SSH session (a route or an address covering the operator's address)?"
        : `${target}: the change could not be confirmed within the ${windowSeconds} s dead-man window (${printable(why, 300)}) ` +
            `and the host still does not answer; its dead-man switch runs ${undone || "no undo command"} once the window ends. ` +
            "Check the host out of band before trying again",
    );
    this.name = "DeadmanError";
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
