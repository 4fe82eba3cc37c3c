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

/**
 * Waits up to `waitMs` for the lock, prints HOST_LOCK_HELD, then holds it until its standard
 * input ends: the client ends it to release, and sshd ends it when the connection dies, so a
 * crashed or cut-off process never leaves the lock held.
 */
export function buildLockHolder(waitMs: number, lockPath = HOST_LOCK_PATH): Argv {
  const script = `mkdir -p -m 0755 "$1" 2>/dev/null; exec flock -E ${HOST_LOCK_BUSY_EXIT} -w "$2" "$1" sh -c 'echo ${HOST_LOCK_HELD}; exec cat >/dev/null'`;
  return ["sh", "-c", script, "pulumi-underlay-lock", lockPath, String(Math.max(1, Math.round(waitMs)) / 1000)];
}
