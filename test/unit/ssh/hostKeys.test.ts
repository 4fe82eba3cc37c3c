import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { fingerprintOf, judgeHostKey, keyTypeOf, preferredHostKeyAlgorithms } from "../../../provider/ssh/hostKeys";
import { ed25519KeyPair } from "../../support/keys";

const line = ed25519KeyPair().public.trim().split(" ").slice(0, 2).join(" ");
const blob = Buffer.from(line.split(" ")[1], "base64");
const other = Buffer.from(ed25519KeyPair().public.split(" ")[1], "base64");

describe("host keys", () => {
  it("prints fingerprints as OpenSSH does (base64 of SHA-256, no padding) and reads the key type", () => {
    const expected = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
    assert.equal(fingerprintOf(blob), expected);
    assert.equal(fingerprintOf(blob).length, 50);
    assert.equal(keyTypeOf(blob), "ssh-ed25519");
    assert.equal(keyTypeOf(Buffer.from([0, 0])), "unknown");
  });

  it("accepts the pinned key as a line or a fingerprint, and nothing else", () => {
    assert.deepEqual(judgeHostKey({ hostKey: line, insecureIgnoreHostKey: false }, blob), {
      accepted: true,
      presented: `ssh-ed25519 ${fingerprintOf(blob)}`,
    });
    assert.equal(judgeHostKey({ hostKey: `${line} comment`, insecureIgnoreHostKey: false }, blob).accepted, true);
    assert.equal(judgeHostKey({ hostKey: fingerprintOf(blob), insecureIgnoreHostKey: false }, blob).accepted, true);
    assert.equal(judgeHostKey({ hostKey: line, insecureIgnoreHostKey: false }, other).accepted, false);
    assert.equal(judgeHostKey({ hostKey: fingerprintOf(blob), insecureIgnoreHostKey: true }, other).accepted, false);
  });

  it("accepts an unpinned key only with the explicit opt-out", () => {
    assert.equal(judgeHostKey({ insecureIgnoreHostKey: false }, blob).accepted, false);
    assert.equal(judgeHostKey({ insecureIgnoreHostKey: true }, blob).accepted, true);
  });

  it("asks the server for the pinned key's type first", () => {
    assert.deepEqual(preferredHostKeyAlgorithms(line), { serverHostKey: { prepend: ["ssh-ed25519"] } });
    assert.deepEqual(preferredHostKeyAlgorithms("ssh-rsa AAAAB3NzaC1yc2E="), {
      serverHostKey: { prepend: ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] },
    });
    assert.equal(preferredHostKeyAlgorithms(fingerprintOf(blob)), undefined);
    assert.equal(preferredHostKeyAlgorithms(undefined), undefined);
  });
});
