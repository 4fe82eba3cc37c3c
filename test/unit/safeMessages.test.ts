// Messages are safe to print: values escaped, bounded, and never key material or a secret,
// whichever field it was pasted into.

import { strict as assert } from "node:assert";
import { RefusalError, RemoteCommandError, StepsFailedError, showValue } from "../../provider/errors";
import { hostShimProvider } from "../../provider/resources/link/hostShim";
import { macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { recordFigure } from "../support/figures";
import { ed25519KeyPair } from "../support/keys";
import { assertSafeMessage, MessageAudit } from "../support/safeMessage";

const key = ed25519KeyPair();
const PASSWORD = "correct horse battery staple 42";
const connection = {
  host: "198.51.100.11",
  privateKey: key.private,
  password: PASSWORD,
  hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
};
const SHIM = { connection, name: "lanshim", parent: "eth1", address: "198.51.100.250/32", routes: ["198.51.100.128/26"] };
const KEY_BODY = key.private.replace(/-----[^\n]*-----/g, "").replace(/\n/g, "");
/** check() messages for a key or password pasted into another field; messages built from hostile names and host output. */
const pasted = new MessageAudit();
const hostile = new MessageAudit();

describe("messages are safe to print", () => {
  after(() => {
    recordFigure({
      group: "secrets",
      name: `messages given a key or password in another field or a key in host output (${pasted.messages}): secret echoed`,
      value: pasted.secret,
      target: "0",
      ok: pasted.messages > 0 && pasted.secret === 0,
    });
    recordFigure({
      group: "hostile input",
      name: `messages from hostile names, map keys and host output (${hostile.messages}) with a raw control/bidi/C1 character`,
      value: hostile.raw,
      target: "0",
      ok: hostile.messages > 0 && hostile.raw === 0,
    });
  });

  it("show control, bidi, C1 and invisible code points as escapes", () => {
    const cases: [string, string][] = [
      ["a\u202eb", '"a\\u202eb"'],
      ["x\u0085y", '"x\\u0085y"'],
      ["\u001b[31mred", '"\\u001b[31mred"'],
      ["zero\u200bwidth\ufeff", '"zero\\u200bwidth\\ufeff"'],
      ["line\nbreak\ttab", '"line\\nbreak\\ttab"'],
      ["lone\ud800", '"lone\\ud800"'],
      ['say "hi" \\', '"say \\"hi\\" \\\\"'],
      ["filler\u3164\u115f", '"filler\\u3164\\u115f"'],
      ["nbsp\u00a0", '"nbsp\\u00a0"'],
      ["plain eth1.50", '"plain eth1.50"'],
      ["é ü 日本", '"é ü 日本"'],
    ];
    for (const [value, shown] of cases) assert.equal(showValue(value), shown);
  });

  it("bound a value to a prefix and its length", () => {
    const shown = showValue("v".repeat(200_000));
    assert.ok(shown.length < 100, shown);
    assert.match(shown, /^"v{64}"… \(200000 chars\)$/);
  });

  it("hide key material and secret values", () => {
    assert.equal(showValue(key.private), "(value hidden: looks like key material)");
    assert.equal(showValue(key.private.split("\n").slice(1, -2).join("")), "(value hidden: looks like key material)");
    assert.equal(showValue(`x${PASSWORD}y`, [PASSWORD]), "(value hidden: a secret field's value)");
    // A Docker network id is hex, not key material.
    assert.equal(showValue("a".repeat(64)), `"${"a".repeat(64)}"`);
  });

  for (const field of ["hostKey", "user", "host", "agentSocket"]) {
    it(`check() never echoes a private key pasted into connection.${field}`, async () => {
      const result = await hostShimProvider.check({}, { ...SHIM, connection: { ...connection, [field]: key.private } });
      const failures = result.failures ?? [];
      if (field !== "agentSocket")
        assert.ok(
          failures.some((f) => f.property === `connection.${field}`),
          JSON.stringify(failures),
        );
      for (const f of failures) {
        pasted.observe(f.reason, [KEY_BODY, PASSWORD]);
        assertSafeMessage(f.reason, [KEY_BODY, PASSWORD]);
      }
    });
  }

  it("check() never echoes a secret field's value pasted into another field", async () => {
    const result = await hostShimProvider.check({}, { ...SHIM, connection: { ...connection, user: PASSWORD }, parent: PASSWORD });
    const failures = result.failures ?? [];
    assert.deepEqual([...new Set(failures.map((f) => f.property))].sort(), ["connection.user", "parent"]);
    for (const f of failures) {
      pasted.observe(f.reason, [KEY_BODY, PASSWORD]);
      assertSafeMessage(f.reason, [PASSWORD]);
    }
  });

  it("check() escapes hostile values, map keys and unknown input names", async () => {
    const result = await macvlanNetworkProvider.check(
      {},
      {
        connection,
        name: "lan\u202etxt.exe",
        parent: "eth1",
        subnet: "198.51.100.0/24",
        auxAddresses: { "k\u0085\u202e": "198.51.100.9", ok: "not-an-ip\u200f" },
        labels: { "bad key\u061c": "v" },
        "evil\u202e": 1,
      },
    );
    const failures = result.failures ?? [];
    assert.ok(failures.length >= 4, JSON.stringify(failures));
    for (const f of failures) {
      hostile.observe(f.reason);
      hostile.observe(f.property);
      assertSafeMessage(f.reason);
      assertSafeMessage(f.property);
    }
  });

  it("refusals and command errors escape names from the host and bound what it said", () => {
    const refusal = new RefusalError("ssh://root@h:22", {
      kind: "inUse",
      object: "network",
      name: "n\u202e",
      containers: ["web", "c\u009b2J"],
    });
    assertSafeMessage(refusal.message);
    assert.match(refusal.message, /"n\\u202e".*web, "c\\u009b2J"/);
    const failed = new RemoteCommandError("ssh://root@h:22", ["docker", "network", "create", "--label", `k=${"x".repeat(200_000)}\u202e`], {
      exitCode: 1,
      stdout: "",
      stderr: `argument list too long: ${"x".repeat(200_000)}\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----`,
    });
    assertSafeMessage(failed.message, [], 5000);
    const steps = new StepsFailedError(failed, 1, [{ argv: ["ip", "link", "delete", "dev", "s\u202e"], stderr: "\u001b]0;pwned\u0007" }]);
    assertSafeMessage(steps.message, [], 6000);
    for (const m of [refusal.message, failed.message, steps.message]) hostile.observe(m);
    for (const m of [failed.message, steps.message]) pasted.observe(m);
  });
});
