// The transport against an in-process SSH server: host keys, credentials, timeouts, a channel
// with no exit status, a dropped pooled connection, and the per-host queue. No root, no lab.

import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { RemoteCommandError, TransportError } from "../../../provider/errors";
import { ConnectionSchema } from "../../../provider/ssh/connection";
import { closeAllSessions, hostSession } from "../../../provider/ssh/pool";
import { eventually } from "../../support/eventually";
import { FakeSshHost } from "../../support/fakeSshHost";
import { ed25519KeyPair } from "../../support/keys";

function fingerprintOfLine(line: string): string {
  return `SHA256:${createHash("sha256")
    .update(Buffer.from(line.split(" ")[1], "base64"))
    .digest("base64")
    .replace(/=+$/, "")}`;
}

function session(host: FakeSshHost, overrides: Record<string, unknown> = {}) {
  return hostSession(ConnectionSchema.parse(host.connection(overrides)));
}

function transportError(reason: TransportError["reason"], check: (err: TransportError) => void = () => undefined) {
  return (err: unknown) => {
    assert.ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    check(err);
    return true;
  };
}

describe("SSH transport (in-process server)", function () {
  this.timeout(20_000);
  let host: FakeSshHost;

  beforeEach(async () => {
    host = await FakeSshHost.start();
    host.handler = ({ argv }) => ({ stdout: `ran ${argv.join(" ")}\n` });
  });

  afterEach(async () => {
    closeAllSessions();
    await host.close();
  });

  it("runs a command as argv and returns its output and exit code", async () => {
    const result = await session(host).run(["echo", "a b", "it's"]);
    assert.deepEqual(result, { exitCode: 0, stdout: "ran echo a b it's\n", stderr: "" });
    assert.equal(host.execs[0].command, "env LC_ALL=C echo 'a b' 'it'\\''s'");
  });

  it("sends stdin and closes it, and runs through sudo -n when asked", async () => {
    host.handler = ({ stdin }) => ({ stdout: stdin });
    const result = await session(host, { sudo: true }).run(["tee", "--", "/tmp/x"], { stdin: "content\n" });
    assert.equal(result.stdout, "content\n");
    assert.equal(host.execs[0].command, "env LC_ALL=C sudo -n -- tee -- /tmp/x");
  });

  it("runs a command as the login user when asked, even with sudo: true", async () => {
    await session(host, { sudo: true }).run(["sh", "-c", "echo"], { asLoginUser: true });
    assert.equal(host.execs[0].command, "env LC_ALL=C sh -c echo");
  });

  it("accepts the pinned host key as an OpenSSH line and as a SHA256 fingerprint", async () => {
    assert.equal((await session(host).run(["true"])).exitCode, 0);
    closeAllSessions();
    assert.equal((await session(host, { hostKey: fingerprintOfLine(host.hostKeyLine) }).run(["true"])).exitCode, 0);
  });

  it("refuses an unknown host key, naming the key the host presented, before any command runs", async () => {
    const stranger = ed25519KeyPair().public;
    await assert.rejects(
      session(host, { hostKey: stranger }).run(["true"]),
      transportError("hostKey", (err) => {
        assert.ok(err.message.includes(`ssh-ed25519 ${fingerprintOfLine(host.hostKeyLine)}`), err.message);
        assert.match(err.message, /does not match connection\.hostKey/);
      }),
    );
    assert.equal(host.execs.length, 0);
  });

  it("refuses a changed host key even when insecureIgnoreHostKey is set", async () => {
    const stranger = ed25519KeyPair().public;
    await assert.rejects(session(host, { hostKey: stranger, insecureIgnoreHostKey: true }).run(["true"]), transportError("hostKey"));
    assert.equal(host.execs.length, 0);
  });

  it("accepts any host key only with insecureIgnoreHostKey", async () => {
    assert.equal((await session(host, { hostKey: undefined, insecureIgnoreHostKey: true }).run(["true"])).exitCode, 0);
  });

  it("reports refused credentials as auth, without the password", async () => {
    const password = "wrong-password-5e1c";
    await assert.rejects(
      session(host, { password }).run(["true"]),
      transportError("auth", (err) => {
        assert.match(err.message, /authentication as root failed \(tried: password\)/);
        assert.ok(!err.message.includes(password));
      }),
    );
  });

  it("reports a refused TCP connection as connect", async () => {
    const port = host.port;
    await host.close();
    await assert.rejects(session(host, { port, connectTimeoutMs: 2000 }).run(["true"]), transportError("connect"));
    host = await FakeSshHost.start();
  });

  it("ends a command that outlives commandTimeoutMs as a timeout", async () => {
    host.handler = () => ({ hang: true });
    await assert.rejects(
      session(host, { commandTimeoutMs: 1000 }).run(["sleep", "600"]),
      transportError("timeout", (err) => assert.match(err.message, /`sleep 600` did not finish within 1000 ms/)),
    );
  });

  it("reports a channel that closes without an exit status as a channel failure, never as a result", async () => {
    host.handler = () => ({ noExitStatus: true, stderr: "killed\n" });
    await assert.rejects(
      session(host).run(["docker", "network", "ls"]),
      transportError("channel", (err) => {
        assert.equal(err.commandMayHaveRun, true);
        assert.match(err.message, /ended without an exit status: killed/);
      }),
    );
  });

  it("throws RemoteCommandError on a non-zero exit unless that failure is allowed", async () => {
    host.handler = () => ({ code: 1, stderr: "Error: No such network: lan\n" });
    const s = session(host);
    await assert.rejects(s.run(["docker", "network", "inspect", "--", "my lan"]), (err: unknown) => {
      assert.ok(err instanceof RemoteCommandError);
      assert.deepEqual(err.argv, ["docker", "network", "inspect", "--", "my lan"]);
      assert.equal(err.result.exitCode, 1);
      assert.match(err.message, /`docker network inspect -- 'my lan'` exited with 1: Error: No such network: lan/);
      return true;
    });
    const allowed = await s.run(["docker", "network", "inspect", "x"], { allowFailure: (r) => /No such network/.test(r.stderr) });
    assert.equal(allowed.exitCode, 1);
    await assert.rejects(s.run(["docker", "network", "inspect", "x"], { allowFailure: (r) => /other/.test(r.stderr) }), RemoteCommandError);
    assert.equal((await s.run(["false"], { allowFailure: true })).exitCode, 1);
  });

  it("reuses one connection for every command to a host", async () => {
    const s = session(host);
    for (let i = 0; i < 4; i++) await s.run(["true"]);
    assert.equal(host.connections, 1);
    assert.deepEqual(new Set(host.execs.map((e) => e.connection)), new Set([1]));
  });

  it("replaces a pooled connection the host dropped while idle", async () => {
    const s = session(host);
    await s.run(["true"]);
    host.dropConnections();
    // Idle: the connection is closed at both ends before the next command is asked for.
    await eventually(async () => assert.equal(host.liveConnections, 0), 5_000, 10);
    const result = await s.run(["echo", "again"]);
    assert.equal(result.stdout, "ran echo again\n");
    assert.equal(host.connections, 2);
    assert.equal(host.execs[1].connection, 2);
  });

  it("retries once on a new connection when a channel cannot even open (the command never ran)", async () => {
    const s = session(host);
    await s.run(["true"]);
    host.refuseChannelsOn.add(1);
    assert.equal((await s.run(["echo", "retried"])).stdout, "ran echo retried\n");
    assert.equal(host.connections, 2);
    assert.deepEqual(
      host.execs.map((e) => [e.argv.join(" "), e.connection]),
      [
        ["true", 1],
        ["echo retried", 2],
      ],
    );
  });

  it("never retries a command that may have run", async () => {
    host.handler = () => ({ noExitStatus: true });
    await assert.rejects(session(host).run(["ip", "link", "add", "x"]), transportError("channel"));
    assert.equal(host.execs.length, 1);
  });

  it("never interleaves two resources' command sequences on one host, even with different connection settings", async () => {
    host.handler = () => ({ delayMs: 30 });
    const plain = session(host);
    const withSudo = session(host, { sudo: true, commandTimeoutMs: 60_000 });
    assert.notEqual(plain, withSudo, "different settings share a client");
    const sequence = (runner: typeof plain, tag: string) =>
      runner.exclusive(async (run) => {
        for (const step of ["1", "2", "3"]) await run([tag, step]);
      });
    await Promise.all([sequence(plain, "a"), sequence(withSudo, "b"), plain.run(["c", "1"])]);
    const starts = host.events.filter((e) => e.startsWith("start")).map((e) => e.slice(6));
    assert.deepEqual(starts, ["a 1", "a 2", "a 3", "b 1", "b 2", "b 3", "c 1"]);
    for (let i = 0; i < host.events.length; i += 2) {
      assert.equal(host.events[i + 1].replace("end", "start"), host.events[i], `commands overlapped: ${host.events.join(", ")}`);
    }
  });

  it("keeps a failed sequence from blocking the host's queue", async () => {
    const s = session(host);
    await assert.rejects(
      s.exclusive(async () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal((await s.run(["true"])).exitCode, 0);
  });
});
