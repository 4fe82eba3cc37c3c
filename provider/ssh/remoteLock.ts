// Holding the host-side lock (host/hostLock.ts) over an open SSH session: one exec channel
// that waits for flock, says when it holds the lock, is sent a heartbeat while it is held, and
// releases it when its input ends or the heartbeats stop.

import type { Client, ClientChannel } from "ssh2";
import { RefusalError, RemoteCommandError, TransportError } from "../errors";
import { hostDeadlineMs, toRemoteCommand } from "../host/command";
import { buildLockHolder, HOST_LOCK_BUSY_EXIT, HOST_LOCK_HEARTBEAT, HOST_LOCK_HELD, HOST_LOCK_PATH } from "../host/hostLock";
import { openExec } from "./channel";

export interface LockRequest {
  target: string;
  /** The wait for the lock, channel open included; the host's flock gives up a little earlier. */
  timeoutMs: number;
  openTimeoutMs: number;
  /** How often a heartbeat is written to the holder while the lock is held. */
  heartbeatMs: number;
  /** How long the holder goes without a heartbeat before it ends and the lock is free. */
  silenceMs: number;
}

/** A lock held on the host. */
export interface HeldLock {
  /**
   * Why the lock is no longer held, once it is not: its holder ended before the release, or
   * this process did not run (stopped, asleep) for about as long as the holder waits for a
   * heartbeat. Undefined while it is held.
   */
  lost(): string | undefined;
  /** Releases the lock; resolves once the holder has ended (or after a bound, with it closed). */
  release(): Promise<void>;
}

/**
 * Takes the host's lock. Fails with RefusalError "hostLocked" when another process held it for
 * the whole wait, with RemoteCommandError when the holder could not run (no flock, no
 * /run/lock), and with a TransportError timeout when the host did not answer in time.
 */
export async function holdRemoteLock(client: Client, request: LockRequest): Promise<HeldLock> {
  const { target, timeoutMs } = request;
  const argvShown = ["flock", HOST_LOCK_PATH];
  const started = Date.now();
  let settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  const held = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Listeners go on as the channel opens (see openExec): a busy lock can answer at once.
  const watch = (channel: ClientChannel) => {
    let stdout = "";
    const stderr: Buffer[] = [];
    let exitCode: number | undefined;
    const onData = (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      if (stdout.split("\n").includes(HOST_LOCK_HELD)) settle?.resolve();
    };
    channel.on("data", onData);
    channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    channel.on("exit", (code: number | null) => {
      if (code !== null) exitCode = code;
    });
    channel.once("close", () => {
      const errText = Buffer.concat(stderr).toString("utf8");
      if (exitCode === HOST_LOCK_BUSY_EXIT) {
        settle?.reject(new RefusalError(target, { kind: "hostLocked", lockFile: HOST_LOCK_PATH, waitedMs: Date.now() - started }));
      } else if (exitCode === undefined) {
        settle?.reject(TransportError.noExitStatus(target, argvShown, undefined, errText));
      } else {
        settle?.reject(new RemoteCommandError(target, argvShown, { exitCode, stdout, stderr: errText }));
      }
    });
  };
  const channel = await openExec(
    client,
    {
      target,
      argv: argvShown,
      command: toRemoteCommand(buildLockHolder(hostDeadlineMs(timeoutMs), request.silenceMs), { sudo: false }),
      openTimeoutMs: Math.min(request.openTimeoutMs, timeoutMs),
    },
    watch,
  );
  const closed = new Promise<void>((resolve) => channel.once("close", () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(TransportError.commandTimedOut(target, argvShown, timeoutMs)), timeoutMs - (Date.now() - started));
    timer.unref();
  });
  try {
    await Promise.race([held, deadline]);
  } catch (err) {
    channel.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  let lostWhy: string | undefined;
  let releasing = false;
  let lastBeat = Date.now();
  const lose = (why: string) => {
    lostWhy ??= why;
    clearInterval(heartbeat);
    channel.close();
  };
  // A heartbeat this late means this process did not run for nearly as long as the holder
  // waits: the holder may have ended, and another process may hold the lock now.
  const stalled = () => {
    const gap = Date.now() - lastBeat;
    if (gap >= request.silenceMs - request.heartbeatMs) lose(`this process sent no heartbeat for ${gap} ms`);
  };
  // Unref'd: a process with nothing else to do is not kept alive by the lock (its exit closes
  // the connection, which ends the holder too).
  const heartbeat = setInterval(() => {
    stalled();
    if (lostWhy) return;
    lastBeat = Date.now();
    if (channel.writable) channel.write(HOST_LOCK_HEARTBEAT);
  }, request.heartbeatMs);
  heartbeat.unref();
  channel.once("close", () => {
    clearInterval(heartbeat);
    if (!releasing) lostWhy ??= "its holder on the host ended";
  });
  return {
    lost: () => {
      if (!lostWhy && !releasing) stalled();
      return lostWhy;
    },
    release: () => {
      releasing = true;
      clearInterval(heartbeat);
      return release(channel, closed, request.openTimeoutMs);
    },
  };
}

async function release(channel: ClientChannel, closed: Promise<void>, boundMs: number): Promise<void> {
  channel.end();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, boundMs);
    timer.unref();
  });
  await Promise.race([closed, bound]);
  clearTimeout(timer);
  // A holder that did not end when asked (a silent host) goes with its channel; sshd ends it.
  channel.close();
}
