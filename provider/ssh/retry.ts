// Bounded retries of a dial that failed before any session existed (the host refused or reset
// the connection, it timed out, sshd closed it during the handshake, as sshd does past
// MaxStartups), with a doubling wait in between. Authentication and host-key failures are
// final: retrying them only locks accounts and hides a wrong key.

import { TransportError } from "../errors";

/** Whether a failed dial may succeed if tried again. */
export function isTransient(err: unknown): boolean {
  return err instanceof TransportError && (err.reason === "connect" || err.reason === "timeout" || err.reason === "handshake");
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubled for each next one, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF = { baseDelayMs: 500, maxDelayMs: 8_000 };

/** Runs `attempt` until it succeeds, fails for good, or `attempts` are used up (the last error is thrown). */
export async function withRetries<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.attempts || !isTransient(err)) throw err;
      const delay = Math.min(policy.baseDelayMs * 2 ** (n - 1), policy.maxDelayMs);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
