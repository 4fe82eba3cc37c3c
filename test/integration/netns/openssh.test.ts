// SSH the way OpenSSH users expect, against the netns lab's real sshd: bastion hops
// (proxyJump), known_hosts text, an ssh-agent, a passphrase-protected key, and retries of
// transient connect failures that never retry an authentication failure.
//
// Two lab hosts. Besides the lab's own sshd (reached on 127.0.0.1), each host gets an sshd
// listening on its LAN address inside its namespace, reachable only from the lab LAN: h1 is the
// bastion to h2's, as a jump host is to a private network.

import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { TransportError } from "../../../provider/errors";
import { type ConnectionArgs, ConnectionSchema } from "../../../provider/ssh/connection";
import { closeAllSessions, hostSession } from "../../../provider/ssh/pool";
import { type LanSshd, startLanSshd } from "../../lab/lanSshd";
import { type NetnsLab, startNetnsLab } from "../../lab/netnsLab";
import { eventually } from "../../support/eventually";

const LAN_SSH_PORT = 22;

describe("SSH like OpenSSH, against the lab's sshd", function () {
  this.timeout(300_000);
  let lab: NetnsLab;
  const daemons: LanSshd[] = [];
  let scratch: string;
  const lanAddress = (i: number) => lab.hosts[i].lanAddress.split("/")[0];
  /** The lab's own connection to host i (127.0.0.1, its key, its host key). */
  const direct = (i: number) => ({
    host: lab.hosts[i].ssh.host,
    port: lab.hosts[i].ssh.port,
    user: "root",
    privateKey: lab.hosts[i].ssh.privateKey,
    hostKey: lab.hosts[i].ssh.hostPublicKey,
  });
  /** Host i's sshd on its LAN address, reachable only from inside the lab. */
  const onLan = (i: number) => ({ ...direct(i), host: lanAddress(i), port: LAN_SSH_PORT });
  const runOn = async (c: ConnectionArgs, argv: string[]) => (await hostSession(ConnectionSchema.parse(c)).run(argv)).stdout.trim();

  before(async function () {
    this.timeout(600_000);
    lab = await startNetnsLab({ hosts: 2 });
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ulab-openssh-"));
    for (let i = 0; i < 2; i++) daemons.push(await startLanSshd(lab, i, LAN_SSH_PORT));
  });

  after(async function () {
    this.timeout(120_000);
    closeAllSessions();
    for (const d of daemons) d.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    await lab?.stop();
  });

  afterEach(() => closeAllSessions());

  it("reaches a host only the LAN can reach through one bastion, and through two", async () => {
    // h2's LAN sshd is not reachable from here at all.
    await assert.rejects(runOn({ ...onLan(1), connectTimeoutMs: 2000, dialErrorLimit: 1 }, ["true"]), TransportError);
    assert.equal(await runOn({ ...onLan(1), proxyJump: [direct(0)] }, ["hostname", "-I"]).then((s) => s.includes(lanAddress(1))), true);
    const twoHops = { ...onLan(1), proxyJump: [direct(0), onLan(0)] };
    assert.match(await runOn(twoHops, ["ip", "-br", "address", "show", "dev", "eth1"]), new RegExp(lanAddress(1).replace(/\./g, "\\.")));
  });

  it("still verifies the target's host key behind a bastion, and each hop's own", async () => {
    const wrongKey = lab.hosts[0].ssh.hostPublicKey; // h1's key, presented by h2: a mismatch
    await assert.rejects(runOn({ ...onLan(1), hostKey: wrongKey, proxyJump: [direct(0)] }, ["true"]), (err: unknown) => {
      assert.ok(err instanceof TransportError);
      assert.equal(err.reason, "hostKey");
      assert.match(err.message, new RegExp(`^ssh://root@${lanAddress(1).replace(/\./g, "\\.")}:22: host key verification failed`));
      return true;
    });
    await assert.rejects(
      runOn({ ...onLan(1), proxyJump: [{ ...direct(0), hostKey: lab.hosts[1].ssh.hostPublicKey }] }, ["true"]),
      (err: unknown) => {
        assert.ok(err instanceof TransportError);
        assert.equal(err.reason, "hostKey");
        assert.match(err.message, /^ssh:\/\/root@127\.0\.0\.1:\d+: host key verification failed/, "the error names the bastion");
        return true;
      },
    );
  });

  it("verifies against known_hosts text: hashed by ssh-keygen, [host]:port, and a @revoked key refused", async () => {
    const c = direct(0);
    const file = path.join(scratch, "known_hosts");
    const other =
      execFileSync("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", path.join(scratch, "ecdsa"), "-C", ""]) &&
      fs.readFileSync(path.join(scratch, "ecdsa.pub"), "utf8").trim();
    fs.writeFileSync(file, `[${c.host}]:${c.port} ${c.hostKey}\n[${c.host}]:${c.port} ${other}\n`);
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const knownHosts = fs.readFileSync(file, "utf8");
    assert.ok(!knownHosts.includes("127.0.0.1"), "the names are hashed");
    const { hostKey: _pinned, ...noPin } = c;
    assert.equal(await runOn({ ...noPin, knownHosts }, ["id", "-un"]), "root");
    await assert.rejects(runOn({ ...noPin, knownHosts: `${knownHosts}@revoked * ${c.hostKey}\n` }, ["true"]), (err: unknown) => {
      assert.ok(err instanceof TransportError);
      assert.equal(err.reason, "hostKey");
      assert.match(err.message, /marked @revoked in connection\.knownHosts/);
      return true;
    });
    assert.throws(() => ConnectionSchema.parse({ ...noPin, port: 2, knownHosts }), /has no entry for \[127\.0\.0\.1\]:2/);
  });

  it("authenticates with a real ssh-agent, and with a passphrase-protected key", async () => {
    const keyFile = path.join(scratch, "id_pass");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "open sesame", "-f", keyFile, "-C", "passphrase"]);
    const authorized = path.join(lab.dir, "h1", "authorized_keys");
    fs.appendFileSync(authorized, fs.readFileSync(`${keyFile}.pub`));
    const { privateKey: _k, ...noKey } = direct(0);
    const privateKey = fs.readFileSync(keyFile, "utf8");
    assert.equal(await runOn({ ...noKey, privateKey, privateKeyPassphrase: "open sesame" }, ["id", "-un"]), "root");
    assert.throws(
      () => ConnectionSchema.parse({ ...noKey, privateKey, privateKeyPassphrase: "wrong" }),
      /privateKey: cannot be parsed|cannot be parsed/,
    );

    const socket = path.join(scratch, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
    try {
      await eventually(async () => assert.ok(fs.existsSync(socket)), 10_000);
      execFileSync("ssh-add", ["-q", path.join(lab.dir, "h1", "id_ed25519")], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
        stdio: "ignore",
      });
      assert.equal(await runOn({ ...noKey, agentSocket: socket }, ["id", "-un"]), "root");
    } finally {
      if (agent.pid) process.kill(agent.pid);
    }
  });

  it("retries a connection dropped before the handshake, with backoff; never an authentication failure", async () => {
    // A forwarder to the lab's sshd that drops the first `drop` connections on arrival.
    let seen = 0;
    let drop = 2;
    const forwarder = net.createServer((inbound) => {
      seen++;
      if (drop > 0) {
        drop--;
        inbound.destroy();
        return;
      }
      const outbound = net.connect(lab.hosts[0].ssh.port, "127.0.0.1");
      inbound.pipe(outbound).pipe(inbound);
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
    });
    await new Promise<void>((r) => forwarder.listen(0, "127.0.0.1", r));
    const port = (forwarder.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      assert.equal(await runOn({ ...direct(0), port, dialErrorLimit: 3 }, ["id", "-un"]), "root");
      assert.equal(seen, 3);
      assert.ok(Date.now() - started >= 1500 - 50, "waited 0.5 s then 1 s between attempts");

      closeAllSessions();
      seen = 0;
      drop = 5;
      await assert.rejects(
        runOn({ ...direct(0), port, dialErrorLimit: 3, user: "nobody" }, ["true"]),
        (err: unknown) => err instanceof TransportError && err.reason === "handshake",
      );
      assert.equal(seen, 3, "gave up after dialErrorLimit attempts");

      closeAllSessions();
      seen = 0;
      drop = 0;
      const wrongKey = lab.hosts[1].ssh.privateKey;
      await assert.rejects(
        runOn({ ...direct(0), port, dialErrorLimit: 5, privateKey: wrongKey }, ["true"]),
        (err: unknown) => err instanceof TransportError && err.reason === "auth",
      );
      assert.equal(seen, 1, "an authentication failure was retried");
    } finally {
      forwarder.close();
    }
  });
});
