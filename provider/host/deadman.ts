// How a host spells a dead-man switch ("commit confirmed", `netplan try`): a token file, and a
// detached shell that waits out a window (or less, when the provider asks it to undo now) and
// then, unless the token was taken first, runs the undo commands. Whoever renames the token
// first wins (rename is atomic): the provider's rename to `.kept` confirms the change, the
// rollback's rename to `.undoing` undoes it. Pure builders and parsers; the scripts are fixed
// text and every value reaches them as a quoted word (command.ts), never spliced in unquoted.

import { type Argv, type CommandResult, shellCommand } from "./command";

/**
 * Where a login user's tokens live: a directory of its own under /run/lock (a tmpfs, so a reboot,
 * which undoes live links anyway, clears them; world-writable with the sticky bit, so a user
 * without sudo can make it, as for the host lock). The token, the rollback shell and the
 * confirmation all run as the login user; only the undo commands go through sudo.
 */
export function deadmanDir(user: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(user)) throw new Error(`dead-man directory: unexpected user name ${JSON.stringify(user)}`);
  return `/run/lock/pulumi-underlay-deadman.${user}`;
}

/** $0 of the rollback shell: what `pgrep -f` finds it by. */
export const DEADMAN_MARKER = "pulumi-underlay-deadman";

/** The token for one armed change; `id` is random hex from the caller. */
export function deadmanToken(user: string, id: string): string {
  if (!/^[0-9a-f]{8,64}$/.test(id)) throw new Error(`dead-man token id must be hex, got ${JSON.stringify(id)}`);
  return `${deadmanDir(user)}/deadman-${id}`;
}

/**
 * The rollback shell's script: ignore the hangup a closing session may send, wait (cut short by
 * SIGWINCH: the provider asks for the undo now, see buildDeadmanCheck), take the token (or stop:
 * the provider confirmed), run the undo commands newest first with what they print on stderr
 * kept in the token, then mark it done. Undo commands run even when an earlier one fails. Their
 * stdout is dropped: a file written back with `tee` prints the whole file, which would crowd
 * the errors out of the report. The sleep runs in the background so that the shell, waiting in
 * `wait`, takes the signal at once (POSIX: a trapped signal ends `wait`); after the wait the
 * signal is ignored, so a late one cannot reach another process that took the sleep's pid. SIGWINCH
 * because its default action is to ignore it: one that comes before the trap is set ends
 * nothing, and the provider asks again.
 */
export function buildRollbackScript(token: string, windowSeconds: number, undos: readonly Argv[]): string {
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
    throw new Error(`dead-man window must be whole seconds ≥ 1, got ${windowSeconds}`);
  const t = shellCommand([token]);
  const undoing = shellCommand([`${token}.undoing`]);
  const done = shellCommand([`${token}.undone`]);
  const undo = undos.map((argv) => `${shellCommand(argv)} 2>>${undoing} >/dev/null`).join("; ");
  return (
    `trap '' HUP; trap 'kill "$s" 2>/dev/null' WINCH; sleep ${windowSeconds} & s=$!; wait "$s"; trap '' WINCH; ` +
    `mv -- ${t} ${undoing} 2>/dev/null || exit 0; ${undo ? `${undo}; ` : ""}mv -- ${undoing} ${done}`
  );
}

/**
 * An undo command that needs input on stdin (a persistence file written back with its old
 * content) as one argv the rollback can run: the detached rollback has no stdin, so the input
 * travels as a positional word and `printf %s` feeds it to the command byte for byte.
 */
export function undoWithInput(argv: Argv, input: string): Argv {
  return ["sh", "-c", 'input=$1; shift; printf %s "$input" | "$@"', "sh", input, ...argv];
}

// $1 token, $2 the rollback script. The token's directory must be a real directory of the login
// user's own (another user could have made the name first in the shared /run/lock, to read or
// take tokens). The token is made exclusively (noclobber), so a token that
// exists already is never taken over. The rollback is started with setsid in a session of its
// own (stdio on /dev/null) so that sshd closing this session, or the connection dying, does not
// end it. A non-interactive shell's background job is never a process-group leader, so setsid
// does not fork and $! is the rollback's pid, which is also its process group.
const ARM_SCRIPT = [
  "umask 077",
  "d=${1%/*}",
  'mkdir -p -- "$d" 2>/dev/null; [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] || { echo "dead-man directory $d is not a directory of this user" >&2; exit 1; }',
  '( set -C; : >"$1" ) || exit 1',
  `setsid sh -c "$2" ${DEADMAN_MARKER} </dev/null >/dev/null 2>&1 &`,
  'echo "$!"',
].join("\n");

/** Arms the switch: makes the token and starts the rollback; prints the rollback's pid. */
export function buildDeadmanArm(token: string, windowSeconds: number, undos: readonly Argv[]): Argv {
  return ["sh", "-c", ARM_SCRIPT, "sh", token, buildRollbackScript(token, windowSeconds, undos)];
}

export function parseDeadmanArm(stdout: string): number {
  const pid = Number(stdout.trim());
  if (!Number.isInteger(pid) || pid <= 1)
    throw new Error(`dead-man switch: arming printed no pid (${JSON.stringify(stdout.slice(0, 80))})`);
  return pid;
}

// $1 token, $2 the rollback's pid, $3 "confirm", "undo" or "status". Exit 0: confirmed (now or
// by an earlier attempt whose answer was lost); 3: undone (the undo output follows); 5: still
// armed; 6: the rollback is undoing right now; 4: no token at all (a reboot cleared /run).
// dash's kill takes no `--`, so the process group is passed as "-PID" right after the signal.
// "undo" wakes the rollback (SIGWINCH to its shell) while the token is still there, so it undoes
// now instead of at the window's end, and then answers as "status" does. Either signal goes
// only to a process whose command line names the token (its file name, which needs no
// quoting): a rollback that was ended some other way (the OOM killer, an operator) leaves its
// pid free for another process to take.
const CHECK_SCRIPT = [
  "ours() { tr '\\0' ' ' <\"/proc/$2/cmdline\" 2>/dev/null | grep -qF -- \"${1##*/}\"; }",
  'if [ "$3" = confirm ] && mv -- "$1" "$1.kept" 2>/dev/null; then ours "$@" && kill -TERM "-$2" 2>/dev/null; exit 0; fi',
  'if [ "$3" = undo ] && [ -e "$1" ]; then ours "$@" && kill -WINCH "$2" 2>/dev/null; fi',
  '[ -e "$1.kept" ] && exit 0',
  '[ -e "$1.undone" ] && { cat -- "$1.undone"; rm -f -- "$1.undone"; exit 3; }',
  '[ -e "$1.undoing" ] && exit 6',
  '[ -e "$1" ] && exit 5',
  "exit 4",
].join("\n");

/**
 * Confirms the change (takes the token and ends the rollback's process group); with `undo` has
 * the rollback undo it now; with `status` only asks how things stand.
 */
export function buildDeadmanCheck(token: string, pid: number, mode: "confirm" | "undo" | "status"): Argv {
  return ["sh", "-c", CHECK_SCRIPT, "sh", token, String(pid), mode];
}

export type DeadmanState = { state: "confirmed" } | { state: "undone"; output: string } | { state: "armed" | "undoing" | "lost" };

/** The state a check reports, or undefined for any other exit (sudo refused, no shell). */
export function parseDeadmanCheck(result: CommandResult): DeadmanState | undefined {
  switch (result.exitCode) {
    case 0:
      return { state: "confirmed" };
    case 3:
      return { state: "undone", output: result.stdout };
    case 4:
      return { state: "lost" };
    case 5:
      return { state: "armed" };
    case 6:
      return { state: "undoing" };
    default:
      return undefined;
  }
}

/** Removes what a confirmed switch leaves behind. */
export function buildDeadmanCleanup(token: string): Argv {
  return ["rm", "-f", "--", `${token}.kept`];
}
