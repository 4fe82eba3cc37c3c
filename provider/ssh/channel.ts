// One command over an open SSH session: an exec channel, its output, its exit status, and its
// deadlines. The command string is already quoted (host/command.ts); argv is for messages.

import type { Client, ClientChannel } from "ssh2";
import { TransportError } from "../errors";
import { type Argv, type CommandResult, HOST_TIMEOUT_EXIT_CODES } from "../host/command";

export interface OpenRequest {
  target: string;
  argv: Argv;
  /** The exact string for the exec request. */
  command: string;
  /** How long the host may take to answer the exec request. */
  openTimeoutMs: number;
}

export interface ChannelRequest extends OpenRequest {
  /** Sent to the command's standard input; stdin is closed either way. */
  stdin?: string;
  /** From the exec request to the exit status; the command fails at this deadline. */
  timeoutMs: number;
  /** When the host's own `timeout` ends the command (see toRemoteCommand), if it wraps it. */
  hostDeadlineMs?: number;
}

/**
 * Opens an exec channel. Refused at open, or the connection already gone: the command never
 * ran (commandMayHaveRun false, so one reconnect is safe). No answer within openTimeoutMs: the
 * request may have reached the host and started the command, so it counts as run; the
 * connection is silent, and is destroyed so the pool dials a new one for the next operation
 * (keepalives would drop it too, later). A channel that opens after that is closed at once.
 *
 * `onOpen` runs synchronously as the channel opens, before anything else can happen to it:
 * ssh2 can emit a fast command's exit status in the same turn as the open (a proxied
 * connection delivers them together), so listeners attached once a promise resolves miss it.
 */
export function openExec(
  client: Client,
  request: OpenRequest,
  onOpen: (channel: ClientChannel) => void = () => undefined,
): Promise<ClientChannel> {
  const { target, argv } = request;
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(TransportError.noChannel(target, argv, request.openTimeoutMs));
      client.destroy();
    }, request.openTimeoutMs);
    timer.unref();
    try {
      client.exec(request.command, (err, channel) => {
        if (settled) {
          channel?.close();
          return;
        }
        settled = true;
        clearTimeout(timer);
        if (err) {
          reject(TransportError.cannotStart(target, argv, err.message));
          return;
        }
        onOpen(channel);
        resolve(channel);
      });
    } catch (err) {
      // ssh2 throws ("Not connected") instead of calling back when the connection is gone.
      settled = true;
      clearTimeout(timer);
      reject(TransportError.cannotStart(target, argv, err instanceof Error ? err.message : String(err)));
    }
  });
}

/**
 * Runs the command; rejects with a TransportError when no exit status comes back. At the
 * deadline it rejects at once and closes the channel: whatever the host says afterwards (a
 * late exit status) is ignored. When the host's `timeout` ended the command first, that is
 * reported as the same timeout, not as the command's failure.
 */
export function execChannel(client: Client, request: ChannelRequest): Promise<CommandResult> {
  const { target, argv, timeoutMs, hostDeadlineMs } = request;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let settled = false;
    let channel: ClientChannel | undefined;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      outcome();
    };
    const deadline = setTimeout(
      () =>
        settle(() => {
          reject(TransportError.commandTimedOut(target, argv, timeoutMs));
          channel?.close();
        }),
      timeoutMs,
    );
    deadline.unref();
    const onOpen = (opened: ClientChannel) => {
      if (settled) {
        opened.close();
        return;
      }
      channel = opened;
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let exitCode: number | undefined;
      let signal: string | undefined;
      // EOF on stdin, so a command that reads it never waits for input nobody sends.
      opened.end(request.stdin);
      opened.on("data", (chunk: Buffer) => stdout.push(chunk));
      opened.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      opened.on("exit", (code: number | null, sig?: string) => {
        if (code !== null) exitCode = code;
        if (sig) signal = sig;
      });
      opened.on("close", () =>
        settle(() => {
          const errText = Buffer.concat(stderr).toString("utf8");
          const endedByHost =
            exitCode !== undefined &&
            hostDeadlineMs !== undefined &&
            HOST_TIMEOUT_EXIT_CODES.has(exitCode) &&
            Date.now() - started >= hostDeadlineMs;
          if (exitCode === undefined) {
            reject(TransportError.noExitStatus(target, argv, signal, errText));
          } else if (endedByHost) {
            reject(TransportError.commandTimedOut(target, argv, timeoutMs, true));
          } else {
            resolve({ exitCode, stdout: Buffer.concat(stdout).toString("utf8"), stderr: errText });
          }
        }),
      );
    };
    openExec(client, { ...request, openTimeoutMs: Math.min(request.openTimeoutMs, timeoutMs) }, onOpen).catch((err: unknown) =>
      settle(() => reject(err)),
    );
  });
}
