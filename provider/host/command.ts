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

/**
 * The exact string sent in the SSH exec request. With `sudo`, `-n` makes sudo fail instead
 * of waiting for a password prompt that nobody will ever answer.
 */
export function toRemoteCommand(argv: Argv, options: { sudo: boolean }): string {
  if (argv.length === 0) throw new Error("empty command");
  const words = options.sudo ? ["sudo", "-n", "--", ...argv] : [...argv];
  // LC_ALL=C keeps error texts (which callers match on) in English on localised hosts.
  return shellCommand(["env", "LC_ALL=C", ...words]);
}
