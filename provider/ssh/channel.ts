// One command over an open SSH session: an exec channel, its output, its exit status, and a
// deadline. The command string is already quoted (host/command.ts); argv is for messages.

import type { Client, ClientChannel } from "ssh2";
import { TransportError } from "../errors";
import type { Argv, CommandResult } from "../host/command";

export interface ChannelRequest {
  target: string;
  argv: Argv;
  /** The exact string for the exec request. */
  command: string;
  /** Sent to the command's standard input; stdin is closed either way. */
  stdin?: string;
  timeoutMs: number;
}

/** Runs the command; rejects with a TransportError when no exit status comes back. */
export function execChannel(client: Client, request: ChannelRequest): Promise<CommandResult> {
  const { target, argv, timeoutMs } = request;
  return new Promise((resolve, reject) => {
    const onChannel = (err: Error | undefined, channel: ClientChannel) => {
      if (err) {
        reject(TransportError.cannotStart(target, argv, err.message));
        return;
      }
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let exitCode: number | undefined;
      let signal: string | undefined;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        channel.close();
      }, timeoutMs);
      timer.unref();
      // EOF on stdin, so a command that reads it never waits for input nobody sends.
      channel.end(request.stdin);
      channel.on("data", (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      channel.on("exit", (code: number | null, sig?: string) => {
        if (code !== null) exitCode = code;
        if (sig) signal = sig;
      });
      channel.on("close", () => {
        clearTimeout(timer);
        const errText = Buffer.concat(stderr).toString("utf8");
        if (timedOut) {
          reject(TransportError.commandTimedOut(target, argv, timeoutMs));
        } else if (exitCode === undefined) {
          reject(TransportError.noExitStatus(target, argv, signal, errText));
        } else {
          resolve({ exitCode, stdout: Buffer.concat(stdout).toString("utf8"), stderr: errText });
        }
      });
    };
    // ssh2 throws ("Not connected") instead of calling back when the connection is gone.
    try {
      client.exec(request.command, onChannel);
    } catch (err) {
      reject(TransportError.cannotStart(target, argv, err instanceof Error ? err.message : String(err)));
    }
  });
}
