// The host-side lock that keeps two Pulumi processes (two stacks, two machines) from
// interleaving their link changes on one host: the per-host queue in ssh/pool.ts only orders
// the sequences of one process. One exec channel holds it with flock(1) for a whole sequence.

import type { Argv } from "./command";

/**
 * A directory, not a file: flock opens a file with O_CREAT, which fs.protected_regular refuses
 * in a sticky world-writable directory like /run/lock when another (non-root) user made the
 * file; a directory is opened read-only, and a read-only descriptor is enough for flock. No
 * sudo is needed, and /run is a tmpfs, so a reboot leaves no lock behind.
 */
export const HOST_LOCK_PATH = "/run/lock/pulumi-underlay";

/** What the holder prints once the lock is taken. */
export const HOST_LOCK_HELD = "locked";

/** flock's exit status when the wait ran out (EX_TEMPFAIL, distinct from its other failures). */
export const HOST_LOCK_BUSY_EXIT = 75;

/** What the client writes to the holder, one byte at a time, while it still holds the lock. */
export const HOST_LOCK_HEARTBEAT = ".";

/**
 * Waits up to `waitMs` for the lock, prints HOST_LOCK_HELD, then holds it while a heartbeat
 * byte arrives on its standard input at least every `silenceMs`: the client ends the input to
 * release, and a client that vanished without closing its connection (a laptop gone to sleep,
 * a route that took the session's replies) sends none, so the holder ends by itself. sshd alone
 * would not notice such a connection for as long as TCP gives it (hours when idle, with the
 * default TCPKeepAlive and no ClientAliveInterval), and the lock would be held all that time.
 * `head -c 1` under `timeout` reads one heartbeat (GNU head reads exactly one byte; ones that
 * queued meanwhile are read one per pass); an end of input or a timeout leaves the loop with
 * nothing read.
 */
export function buildLockHolder(waitMs: number, silenceMs: number, lockPath = HOST_LOCK_PATH): Argv {
  const silence = String(Math.max(1, Math.ceil(silenceMs / 1000)));
  const hold = `echo ${HOST_LOCK_HELD}; while [ "$(timeout "$1" head -c 1)" = "${HOST_LOCK_HEARTBEAT}" ]; do :; done`;
  const script = `mkdir -p -m 0755 "$1" 2>/dev/null; exec flock -E ${HOST_LOCK_BUSY_EXIT} -w "$2" "$1" sh -c '${hold}' pulumi-underlay-lock "$3"`;
  return ["sh", "-c", script, "pulumi-underlay-lock", lockPath, String(Math.max(1, Math.round(waitMs)) / 1000), silence];
}
