// known_hosts text as OpenSSH reads it. The hashed entry and the several-key-types case are made
// with ssh-keygen itself (`ssh-keygen -H`), so the hashing is checked against OpenSSH, not against
// this code's own idea of it.

import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { utils as sshUtils } from "ssh2";
import { entriesFor, judgeKnownHosts, knownHostAlgorithms, parseKnownHosts } from "../../../provider/ssh/knownHosts";
import { ed25519KeyPair } from "../../support/keys";

const ed = ed25519KeyPair().public.trim().split(" ").slice(0, 2).join(" ");
const edBlob = Buffer.from(ed.split(" ")[1], "base64");
const other = ed25519KeyPair().public.trim().split(" ").slice(0, 2).join(" ");
const otherBlob = Buffer.from(other.split(" ")[1], "base64");
const ecdsa = (sshUtils.generateKeyPairSync("ecdsa", { bits: 256 }).public as string).trim().split(" ").slice(0, 2).join(" ");
const ecdsaBlob = Buffer.from(ecdsa.split(" ")[1], "base64");

/** `ssh-keygen -H` over the given known_hosts text. */
function hashedByOpenSsh(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kh-"));
  try {
    const file = path.join(dir, "known_hosts");
    fs.writeFileSync(file, text);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    return fs.readFileSync(file, "utf8");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("known_hosts text", () => {
  it("accepts the key of a hashed [host]:port entry hashed by ssh-keygen, and not on another port", () => {
    const text = hashedByOpenSsh(`[127.0.0.1]:2222 ${ed}\n`);
    assert.match(text, /^\|1\|/);
    assert.equal(judgeKnownHosts(text, "127.0.0.1", 2222, edBlob).accepted, true);
    const elsewhere = judgeKnownHosts(text, "127.0.0.1", 22, edBlob);
    assert.equal(elsewhere.accepted, false);
    assert.match(elsewhere.why ?? "", /has no entry for 127\.0\.0\.1$/);
  });

  it("holds several key types for one host, accepting each and offering them to the server first", () => {
    const text = `# comment\n\ndocker1.lan,198.51.100.11 ${ed}\ndocker1.lan ${ecdsa}\n`;
    assert.equal(judgeKnownHosts(text, "docker1.lan", 22, edBlob).accepted, true);
    assert.equal(judgeKnownHosts(text, "docker1.lan", 22, ecdsaBlob).accepted, true);
    assert.equal(judgeKnownHosts(text, "198.51.100.11", 22, edBlob).accepted, true);
    const wrong = judgeKnownHosts(text, "docker1.lan", 22, otherBlob);
    assert.equal(wrong.accepted, false);
    assert.match(wrong.why ?? "", /lists other keys for docker1\.lan \(ssh-ed25519 SHA256:.*, ecdsa-sha2-nistp256 SHA256:/);
    assert.deepEqual(knownHostAlgorithms(text, "docker1.lan", 22), { serverHostKey: { prepend: ["ssh-ed25519", "ecdsa-sha2-nistp256"] } });
    assert.equal(entriesFor(text, "docker1.lan", 22), 2);
  });

  it("refuses a @revoked key even when another line lists it for the host", () => {
    const text = `docker1.lan ${ed}\n@revoked * ${ed}\n`;
    const verdict = judgeKnownHosts(text, "docker1.lan", 22, edBlob);
    assert.equal(verdict.accepted, false);
    assert.match(verdict.why ?? "", /@revoked/);
  });

  it("matches wildcards and honours negations; skips malformed lines and lines whose type lies", () => {
    const text = `*.lan,!bad.lan ${ed}\nbroken line\nhost ssh-rsa ${ed.split(" ")[1]}\n`;
    assert.equal(parseKnownHosts(text).length, 1);
    assert.equal(judgeKnownHosts(text, "docker7.lan", 22, edBlob).accepted, true);
    assert.equal(judgeKnownHosts(text, "bad.lan", 22, edBlob).accepted, false);
    assert.equal(judgeKnownHosts(text, "docker7.lan.evil", 22, edBlob).accepted, false);
  });
});
