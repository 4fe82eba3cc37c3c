// The SSH transport against the lab's real sshd: host-key pinning, credentials, secrets.

import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { ConnectionSchema } from "../../provider/ssh/connection";
import { closeAllSessions, hostSession } from "../../provider/ssh/pool";
import type { LabHost } from "../lab/types";
import { ed25519KeyPair } from "../support/keys";
import { connectionFor, lab, snapshotHost, transportFailed, uniqueName } from "./fixture";

function fingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.split(" ")[1], "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * The pid of the sshd process that serves the command's connection: the parent of `timeout`,
 * which the provider puts between sshd and every command (field 4 of /proc/PID/stat).
 */
const CONNECTION_SSHD = ["sh", "-c", "read -r _ _ _ ppid _ < /proc/$PPID/stat && echo $ppid"];

async function whoami(connection: Record<string, unknown>): Promise<string> {
  const session = hostSession(ConnectionSchema.parse(connection));
  return (await session.run(["id", "-un"])).stdout.trim();
}

describe("SSH transport on a lab host", function () {
  this.timeout(120_000);
  let host: LabHost;

  before(async function () {
    this.timeout(600_000);
    host = (await lab()).hosts[0];
  });

  afterEach(() => closeAllSessions());

  it("accepts the pinned host key as an OpenSSH line and as a SHA256 fingerprint", async () => {
    assert.equal(await whoami(connectionFor(host)), "root");
    assert.equal(await whoami(connectionFor(host, { hostKey: fingerprint(host.ssh.hostPublicKey) })), "root");
  });

  it("refuses an unknown host key, saying what the host presented, and changes nothing", async () => {
    const before = await snapshotHost(host);
    const stranger = ed25519KeyPair().public;
    const name = uniqueName("mv");
    const inputs = (
      await macvlanNetworkProvider.check(
        {},
        {
          connection: connectionFor(host, { hostKey: stranger }),
          name,
          parent: host.lanParent,
          subnet: "203.0.113.0/24",
        },
      )
    ).inputs;
    await assert.rejects(
      macvlanNetworkProvider.create(inputs),
      (err: Error) =>
        transportFailed("hostKey", /host key verification failed/)(err) &&
        err.message.includes(fingerprint(host.ssh.hostPublicKey)) &&
        /does not match connection\.hostKey/.test(err.message),
    );
    assert.equal(await snapshotHost(host), before);
  });

  it("refuses a mismatched pinned key even when insecureIgnoreHostKey is set", async () => {
    const stranger = ed25519KeyPair().public;
    await assert.rejects(
      whoami(connectionFor(host, { hostKey: stranger, insecureIgnoreHostKey: true })),
      transportFailed("hostKey", /host key verification failed/),
    );
  });

  it("accepts any host key only with insecureIgnoreHostKey, and requires one of the two", async () => {
    assert.equal(await whoami(connectionFor(host, { hostKey: undefined, insecureIgnoreHostKey: true })), "root");
    const parsed = ConnectionSchema.safeParse(connectionFor(host, { hostKey: undefined }));
    assert.equal(parsed.success, false);
  });

  it("keeps secrets out of errors: a wrong key, a wrong password", async () => {
    const wrongKey = ed25519KeyPair().private;
    const password = "not-the-password-7f3a";
    await assert.rejects(
      whoami(connectionFor(host, { privateKey: wrongKey })),
      (err: Error) => transportFailed("auth", /authentication as root failed/)(err) && !err.message.includes("PRIVATE KEY"),
    );
    await assert.rejects(
      whoami(connectionFor(host, { privateKey: undefined, password })),
      (err: Error) => transportFailed("auth", /authentication as root failed/)(err) && !err.message.includes(password),
    );
  });

  it("reuses one SSH connection for every command to a host", async () => {
    const session = hostSession(ConnectionSchema.parse(connectionFor(host)));
    const sessions = new Set<string>();
    for (let i = 0; i < 5; i++) {
      sessions.add((await session.run(CONNECTION_SSHD)).stdout.trim());
    }
    assert.equal(sessions.size, 1, `commands used ${sessions.size} connections`);
  });

  it("runs two connections' sequences to one host one after the other, even with different settings", async () => {
    const a = hostSession(ConnectionSchema.parse(connectionFor(host)));
    const b = hostSession(ConnectionSchema.parse(connectionFor(host, { commandTimeoutMs: 60_000 })));
    const span = (session: typeof a) =>
      session.exclusive(async (run) => {
        const start = BigInt((await run(["date", "+%s%N"])).stdout.trim());
        await run(["sleep", "0.3"]);
        return [start, BigInt((await run(["date", "+%s%N"])).stdout.trim())];
      });
    const [x, y] = await Promise.all([span(a), span(b)]);
    assert.ok(x[1] <= y[0] || y[1] <= x[0], `the sequences overlapped on the host: ${x} and ${y}`);
  });

  it("reconnects when the host drops a pooled connection (sshd restarted, host rebooted)", async () => {
    const session = hostSession(ConnectionSchema.parse(connectionFor(host)));
    const first = (await session.run(CONNECTION_SSHD)).stdout.trim();
    await host.exec(["kill", "-9", first]);
    const second = (await session.run(CONNECTION_SSHD)).stdout.trim();
    assert.notEqual(second, first, "the command ran over the killed connection");
  });
});
