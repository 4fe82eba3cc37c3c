// The transport against an in-process SSH server: host keys, credentials, timeouts, a channel
// with no exit status, a dropped pooled connection, and the per-host queue. No root, no lab.

import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { RemoteCommandError, TransportError } from "../../../provider/errors";
import { ConnectionSchema } from "../../../provider/ssh/connection";
import { dial } from "../../../provider/ssh/dial";
import { closeAllSessions, hostSession } from "../../../provider/ssh/pool";
import { holdRemoteLock } from "../../../provider/ssh/remoteLock";
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
    // The host ends it itself 1 s before the client's deadline (commandTimeoutMs defaults to 300 s).
    assert.equal(host.execs[0].command, "env LC_ALL=C timeout -k 1 299 echo 'a b' 'it'\\''s'");
  });

  it("reads the exit status of a command that ends as its channel opens", async () => {
    host.answerAtOnce = true;
    host.handler = () => ({ stdout: "fast\n", code: 3 });
    const s = session(host);
    for (let i = 0; i < 5; i++)
      assert.deepEqual(await s.run(["true"], { allowFailure: true }), { exitCode: 3, stdout: "fast\n", stderr: "" });
  });

  it("sends stdin and closes it, and runs through sudo -n when asked", async () => {
    host.handler = ({ stdin }) => ({ stdout: stdin });
    const result = await session(host, { sudo: true }).run(["tee", "--", "/tmp/x"], { stdin: "content\n" });
    assert.equal(result.stdout, "content\n");
    assert.equal(host.execs[0].command, "env LC_ALL=C timeout -k 1 299 sudo -n -- tee -- /tmp/x");
  });

  it("runs a command as the login user when asked, even with sudo: true", async () => {
    await session(host, { sudo: true }).run(["sh", "-c", "echo"], { asLoginUser: true });
    assert.equal(host.execs[0].command, "env LC_ALL=C timeout -k 1 299 sh -c echo");
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

  it("fails at the deadline even when the host answers later, and the late exit status changes nothing", async () => {
    host.handler = () => ({ delayMs: 2500, code: 0 });
    const s = session(host, { commandTimeoutMs: 1000 });
    const started = Date.now();
    await assert.rejects(
      s.run(["ip", "link", "add", "x"]),
      transportError("timeout", (err) => {
        assert.equal(err.commandMayHaveRun, true);
        assert.match(err.message, /`ip link add x` did not finish within 1000 ms \(no answer; the host ends it\)/);
      }),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000 && elapsed < 1500, `failed after ${elapsed} ms`);
    // The same connection still serves the next command once the late answer has come and gone.
    host.handler = () => ({ stdout: "ok\n" });
    await eventually(async () => assert.ok(host.events.includes("end ip link add x")), 5_000, 50);
    assert.equal((await s.run(["true"])).stdout, "ok\n");
    assert.equal(host.connections, 1);
  });

  it("reports a command the host's timeout ended as that timeout, and an early 124 as the command's own failure", async () => {
    // commandTimeoutMs 1000: the host ends the command at 800 ms with timeout's status 124.
    host.handler = ({ argv }) => (argv[0] === "slow" ? { delayMs: 850, code: 124 } : { code: 124, stderr: "own 124\n" });
    const s = session(host, { commandTimeoutMs: 1000 });
    await assert.rejects(
      s.run(["slow"]),
      transportError("timeout", (err) => assert.match(err.message, /`slow` did not finish within 1000 ms \(ended on the host\)/)),
    );
    await assert.rejects(s.run(["fast"]), (err: unknown) => err instanceof RemoteCommandError && /own 124/.test(err.message));
  });

  it("fails within connectTimeoutMs when the host does not answer a request to start a command, and dials anew next time", async () => {
    const s = session(host, { connectTimeoutMs: 1000 });
    await s.run(["true"]);
    host.silentOn.add(1);
    const started = Date.now();
    await assert.rejects(
      s.run(["ip", "link", "add", "x"]),
      transportError("timeout", (err) => {
        assert.equal(err.commandMayHaveRun, true);
        assert.match(err.message, /no answer to the request to start `ip link add x` within 1000 ms/);
      }),
    );
    assert.ok(Date.now() - started < 1500, `failed after ${Date.now() - started} ms`);
    assert.equal((await s.run(["echo", "again"])).stdout, "ran echo again\n");
    assert.equal(host.connections, 2);
  });

  it("drops a pooled connection whose host went silent while idle, found by keepalives", async () => {
    const s = session(host, { connectTimeoutMs: 1000 });
    await s.run(["true"]);
    host.silentOn.add(1);
    // Probes every 1 s, given up after 3 unanswered: the client closes it within about 4 s.
    const started = Date.now();
    await eventually(async () => assert.equal(host.liveConnections, 0), 6_000, 50);
    const dropped = Date.now() - started;
    assert.ok(dropped >= 3000 && dropped < 5500, `dropped after ${dropped} ms`);
    assert.equal((await s.run(["echo", "again"])).stdout, "ran echo again\n");
    assert.equal(host.connections, 2);
  });

  it("holds the host-side lock for an exclusive sequence only, and releases it when the sequence fails", async () => {
    const s = session(host);
    await s.exclusive(async (run) => {
      await run(["one"]);
      assert.deepEqual(host.lockEvents, ["lock"]);
    });
    await assert.rejects(
      s.exclusive(async () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    await s.run(["single"]);
    await s.shared((run) => run(["read"]));
    assert.deepEqual(host.lockEvents, ["lock", "unlock", "lock", "unlock"]);
  });

  it("ends a sequence cut off by a lost connection with its error, and the next sequence takes the lock anew", async () => {
    const s = session(host);
    await assert.rejects(
      s.exclusive(async (run) => {
        host.dropConnections();
        await eventually(async () => assert.equal(host.liveConnections, 0), 5_000, 10);
        await run(["after"]);
      }),
      TransportError,
    );
    assert.deepEqual(
      host.execs.map((e) => e.argv[0]),
      [],
      "a command of the sequence ran after its lock was lost",
    );
    await s.exclusive((run) => run(["again"]));
    assert.equal(host.lockEvents.filter((e) => e === "lock").length, 2);
    assert.equal(host.lockEvents.at(-1), "unlock");
    assert.equal(host.execs[0].connection, 2);
  });

  it("sends the lock holder a heartbeat every quarter of connectTimeoutMs while a sequence holds the lock", async () => {
    const s = session(host, { connectTimeoutMs: 4000 });
    await s.exclusive(async () => {
      await eventually(async () => assert.ok(host.lockHeartbeats >= 2, `${host.lockHeartbeats} heartbeats`), 5_000, 50);
    });
  });

  it("counts the lock as lost when this process stalled for about as long as the holder waits for a heartbeat", async () => {
    const { client } = await dial(ConnectionSchema.parse(host.connection()), () => undefined);
    try {
      const target = "ssh://root@127.0.0.1";
      const lock = await holdRemoteLock(client, { target, timeoutMs: 5_000, openTimeoutMs: 5_000, heartbeatMs: 100, silenceMs: 600 });
      assert.equal(lock.lost(), undefined);
      // A process stopped or asleep: no timer runs, no heartbeat leaves.
      const busyUntil = Date.now() + 700;
      while (Date.now() < busyUntil) {
        // stalled
      }
      assert.match(lock.lost() ?? "", /^this process sent no heartbeat for \d+ ms$/);
      await lock.release();
      await eventually(async () => assert.equal(host.lockEvents.at(-1), "unlock"), 5_000, 10);
    } finally {
      client.end();
    }
  });

  it("does not run a sequence's next command once its lock holder ended by itself, and says the lock is lost", async () => {
    const s = session(host);
    await assert.rejects(
      s.exclusive(async (run) => {
        await run(["before"]);
        host.endLockHolder();
        await eventually(async () => assert.ok(host.lockEvents.includes("unlock by itself")), 5_000, 10);
        // The holder's close reaches this side a moment later; until then a command still runs.
        await eventually(async () => assert.rejects(run(["probe"]), /lost/), 5_000, 10);
        await run(["after"]);
      }),
      transportError("channel", (err) => {
        assert.match(err.message, /`after` was not run: the host lock this change held is lost \(its holder on the host ended\)/);
        assert.equal(err.commandMayHaveRun, false);
      }),
    );
    assert.ok(!host.execs.some((e) => e.argv[0] === "after"), "a command ran after its lock was lost");
    // The next sequence takes the lock anew.
    await s.exclusive((run) => run(["again"]));
    assert.equal(host.lockEvents.filter((e) => e === "lock").length, 2);
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

  it("a connection that refuses a channel gets no new work, but what runs on it finishes before it is ended", async () => {
    let finishSlow: () => void = () => undefined;
    const slowMayEnd = new Promise<void>((resolve) => (finishSlow = resolve));
    host.handler = async ({ argv }) => {
      if (argv[0] === "slow") await slowMayEnd;
      return { stdout: `ran ${argv.join(" ")}\n` };
    };
    const s = session(host);
    await s.shared(async (run) => {
      const slow = run(["slow"]);
      await eventually(async () => assert.ok(host.execs.some((e) => e.argv[0] === "slow")), 5_000, 10);
      host.refuseChannelsOn.add(1);
      assert.equal((await run(["echo", "moved"])).stdout, "ran echo moved\n");
      // Connection 1 still carries the slow command: it is neither cut off nor ended yet.
      assert.equal(host.liveConnections, 2);
      finishSlow();
      assert.equal((await slow).stdout, "ran slow\n");
    });
    // Once nothing runs on it, the retired connection is ended; new work stays on connection 2.
    await eventually(async () => assert.equal(host.liveConnections, 1), 5_000, 20);
    assert.equal((await s.run(["echo", "after"])).stdout, "ran echo after\n");
    assert.deepEqual(
      host.execs.map((e) => [e.argv.join(" "), e.connection]),
      [
        ["slow", 1],
        ["echo moved", 2],
        ["echo after", 2],
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
