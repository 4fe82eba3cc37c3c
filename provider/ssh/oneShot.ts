// One command on a connection of its own, opened and closed around it, with one deadline for the
// login and the command together. The pool's connection proves nothing about the host's path
// after a link change (it may be the one left hanging); a new login proves new sessions still
// get through, which is what an operator needs after the change.

import type { Argv, CommandResult } from "../host/command";
import { hostDeadlineMs, toRemoteCommand } from "../host/command";
import { execChannel } from "./channel";
import type { ConnectionConfig } from "./connection";
import { describeTarget } from "./connection";
import { dial } from "./dial";

/**
 * Runs argv as the login user (never through sudo: the dead-man switch's token and rollback
 * belong to that user) on a fresh connection; rejects with a TransportError when it takes over
 * `deadlineMs`.
 */
export type FreshRun = (argv: Argv, deadlineMs: number) => Promise<CommandResult>;

export function freshRunner(connection: ConnectionConfig): FreshRun {
  return async (argv, deadlineMs) => {
    const started = Date.now();
    // One attempt: a retry with backoff would outlast the deadline; the caller tries again.
    const { client } = await dial({ ...connection, connectTimeoutMs: deadlineMs, dialErrorLimit: 1 }, () => undefined);
    try {
      const timeoutMs = Math.max(500, deadlineMs - (Date.now() - started));
      const onHost = hostDeadlineMs(timeoutMs);
      return await execChannel(client, {
        target: describeTarget(connection),
        argv,
        command: toRemoteCommand(argv, { sudo: false, hostDeadlineMs: onHost }),
        timeoutMs,
        openTimeoutMs: timeoutMs,
        hostDeadlineMs: onHost,
      });
    } finally {
      client.end();
    }
  };
}
