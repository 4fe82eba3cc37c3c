import { strict as assert } from "node:assert";
import { TransportError } from "../../../provider/errors";
import { isTransient, withRetries } from "../../../provider/ssh/retry";

const T = "ssh://root@198.51.100.11:22";
const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };

describe("dial retries", () => {
  it("retries refused, timed-out and dropped handshakes, never auth or host-key failures", () => {
    assert.ok(isTransient(TransportError.cannotConnect(T, "ECONNREFUSED")));
    assert.ok(isTransient(TransportError.noSession(T, 1000)));
    assert.ok(isTransient(TransportError.closedBeforeReady(T)));
    assert.ok(!isTransient(TransportError.authFailed(T, "root", ["publickey"])));
    assert.ok(!isTransient(TransportError.hostKeyRefused(T, "ssh-ed25519 SHA256:x", true)));
    assert.ok(!isTransient(new Error("other")));
  });

  it("stops at the first success, after a bounded number of attempts, or at the first final failure", async () => {
    let n = 0;
    assert.equal(await withRetries(fast, async () => (++n < 3 ? Promise.reject(TransportError.cannotConnect(T, "reset")) : "ok")), "ok");
    assert.equal(n, 3);
    n = 0;
    await assert.rejects(
      withRetries(fast, async () => {
        n++;
        throw TransportError.cannotConnect(T, "refused");
      }),
      /refused/,
    );
    assert.equal(n, 4);
    n = 0;
    await assert.rejects(
      withRetries(fast, async () => {
        n++;
        throw TransportError.authFailed(T, "root", ["publickey"]);
      }),
      /authentication/,
    );
    assert.equal(n, 1);
  });

  it("waits longer each time, up to the cap", async () => {
    const gaps: number[] = [];
    let last = Date.now();
    await assert.rejects(
      withRetries({ attempts: 4, baseDelayMs: 40, maxDelayMs: 100 }, async () => {
        const now = Date.now();
        gaps.push(now - last);
        last = now;
        throw TransportError.closedBeforeReady(T);
      }),
    );
    // 40, 80, then capped at 100 (timers may fire late, never early).
    assert.ok(gaps[1] >= 39 && gaps[2] >= 79 && gaps[3] >= 99, JSON.stringify(gaps));
  });
});
