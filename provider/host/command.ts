// A remote command is an argv array from end to end. SSH's exec request carries one string
// that the remote login shell parses, so the argv is quoted here and nowhere else.

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

/**
 * The exact string sent in the SSH exec request. With `sudo`, `-n` makes sudo fail instead
 * of waiting for a password prompt that nobody will ever answer.
 */
export function toRemoteCommand(argv: Argv, options: { sudo: boolean }): string {
  if (argv.length === 0) throw new Error("empty command");
  const words = options.sudo ? ["sudo", "-n", "--", ...argv] : [...argv];
  // LC_ALL=C keeps error texts (which callers match on) in English on localised hosts.
  return ["env", "LC_ALL=C", ...words].map(quoteWord).join(" ");
}

/** A command that ran and exited non-zero (or was killed); carries what the host said. */
export class RemoteCommandError extends Error {
  constructor(
    readonly target: string,
    readonly argv: Argv,
    readonly result: CommandResult,
  ) {
    const detail = result.stderr.trim() || result.stdout.trim() || "(no output)";
    super(`${target}: \`${argv.join(" ")}\` exited with ${result.exitCode}: ${detail}`);
    this.name = "RemoteCommandError";
  }
}

/** The host could not be reached or the SSH session failed; no command result exists. */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}
