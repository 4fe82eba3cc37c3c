// Keepalives on an established connection, so a host that goes silent under it (powered off,
// cable pulled, sshd stopped) is noticed in bounded time and the pool dials anew, instead of
// every later operation waiting on a connection nobody answers.
//
// ssh2's own keepaliveInterval runs a ref'd timer, which would keep a process alive for as long
// as an idle pooled connection exists (the pool unrefs the socket so that it never does). So
// the probe is sent from an unref'd timer here: a global request with want-reply, which the
// server must answer. Cancelling a port forward that does not exist changes nothing on the
// host and is answered at once (with a failure), so that request is the probe.

import type { Client } from "ssh2";

export interface KeepalivePolicy {
  /** Time between probes. */
  intervalMs: number;
  /** Probes left unanswered before the connection counts as gone. */
  countMax: number;
}

/**
 * A probe every quarter of connectTimeoutMs (at least 1 s), and the connection given up after
 * 3 unanswered: a silent host is noticed within about connectTimeoutMs (4 s at least), the
 * same patience as for opening a session.
 */
export function keepalivePolicy(connectTimeoutMs: number): KeepalivePolicy {
  return { intervalMs: Math.max(1000, Math.round(connectTimeoutMs / 4)), countMax: 3 };
}

/** Probes the connection until it closes; calls onSilent (once) when the host stops answering. */
export function startKeepalive(client: Client, policy: KeepalivePolicy, onSilent: () => void): void {
  let unanswered = 0;
  const timer = setInterval(() => {
    if (unanswered >= policy.countMax) {
      clearInterval(timer);
      onSilent();
      return;
    }
    unanswered++;
    try {
      client.unforwardIn("127.0.0.1", 0, () => {
        unanswered = 0;
      });
    } catch {
      // Not connected any more: the close handler below stops the probes.
    }
  }, policy.intervalMs);
  timer.unref();
  client.once("close", () => clearInterval(timer));
}
