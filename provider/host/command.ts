// A remote command is an argv array from end to end. SSH's exec request carries one string
// that the remote login shell parses, so the argv becomes that string here and nowhere else.

export type Argv = readonly string[];

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX shell quoting of one word: plain when it is safe, single-quoted otherwise. */
export function quoteWord(word: string): string {
  if (word.includes("\0")) {
    // A NUL cannot be passed through an exec request at all; refusing is safer than truncating.
    throw new Error("a command argument contains a NUL byte");
  }
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The argv as one POSIX shell command line (also how messages show a command). */
export function shellCommand(argv: Argv): string {
  if (argv.length === 0) throw new Error("empty command");
  return argv.map(quoteWord).join(" ");
}

/** How long before the client gives up the host ends a command itself (at most 1 s, a fifth for short deadlines). */
export function hostDeadlineMs(clientDeadlineMs: number): number {
  return clientDeadlineMs - Math.min(1000, Math.floor(clientDeadlineMs / 5));
}

/** Exit statuses of coreutils `timeout` when it ended the command: TERM sent (124), KILL after -k (137). */
export const HOST_TIMEOUT_EXIT_CODES: ReadonlySet<number> = new Set([124, 137]);

export interface RemoteCommandOptions {
  sudo: boolean;
  /**
   * Wrap the command in coreutils `timeout`, so the host itself ends it after this long (TERM,
   * then KILL a second later) instead of letting it run on after the client gave up. Omitted
   * for the host lock's holder, which ends when its input ends or its heartbeats stop; a
   * `docker system dial-stdio` stream gets a longer one than a command (ssh/pool.ts).
   */
  hostDeadlineMs?: number;
}

/**
 * The exact string sent in the SSH exec request. With `sudo`, `-n` makes sudo fail instead
 * of waiting for a password prompt that nobody will ever answer. `timeout` stays outside sudo,
 * so sudoers rules name the same programs as without it (a rule for `timeout` would allow
 * anything); sudo passes the TERM on to the command it runs.
 */
export function toRemoteCommand(argv: Argv, options: RemoteCommandOptions): string {
  if (argv.length === 0) throw new Error("empty command");
  const privileged = options.sudo ? ["sudo", "-n", "--", ...argv] : [...argv];
  const words = options.hostDeadlineMs === undefined ? privileged : ["timeout", "-k", "1", seconds(options.hostDeadlineMs), ...privileged];
  // LC_ALL=C keeps error texts (which callers match on) in English on localised hosts.
  return shellCommand(["env", "LC_ALL=C", ...words]);
}

/** Milliseconds as `timeout` reads a duration: seconds with up to three decimals ("2.4"). */
function seconds(ms: number): string {
  return String(Math.max(1, Math.round(ms)) / 1000);
}
