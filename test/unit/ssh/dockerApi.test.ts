// The Docker Engine API over the pooled connection, against an in-process SSH host whose
// `docker system dial-stdio` reaches a fake daemon: one connection, a bounded number of
// streams however many requests run at once, the version asked for once, errors that say
// which request failed and what the daemon (or the host) said.

import { strict as assert } from "node:assert";
import { Duplex } from "node:stream";
import { DockerApiError, TransportError } from "../../../provider/errors";
import { ConnectionSchema } from "../../../provider/ssh/connection";
import { chooseApiVersion, type DialStream, DockerApiClient } from "../../../provider/ssh/dockerApi";
import { closeAllSessions, hostSession, sessionStats } from "../../../provider/ssh/pool";
import { eventually } from "../../support/eventually";
import { FakeDocker } from "../../support/fakeDocker";
import { FakeSshHost } from "../../support/fakeSshHost";

describe("ssh: Docker Engine API over dial-stdio", function () {
  this.timeout(20_000);
  let host: FakeSshHost;

  beforeEach(async () => {
    host = await FakeSshHost.start();
    host.docker = new FakeDocker();
  });

  afterEach(async () => {
    closeAllSessions();
    await host.close();
  });

  const session = (overrides: Record<string, unknown> = {}) => hostSession(ConnectionSchema.parse(host.connection(overrides)));

  it("fails a request at the deadline, drops its stream, and answers the next one on a fresh stream", async () => {
    const s = session({ commandTimeoutMs: 1000 });
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    host.docker!.delayMs = 3000;
    const started = Date.now();
    await assert.rejects(s.docker.request("GET", "/networks"), (err: unknown) => {
      assert.ok(err instanceof DockerApiError, String(err));
      assert.match(err.message, /`GET \/v1\.41\/networks` failed: no answer within 1000 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 1500, `failed after ${Date.now() - started} ms`);
    host.docker!.delayMs = 0;
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    assert.equal(sessionStats()[0].dockerStreams, 2);
  });

  it("answers the next request on a new connection after the connection under an idle stream is gone", async () => {
    const s = session({ commandTimeoutMs: 3000 });
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    host.dropConnections();
    await eventually(async () => assert.equal(host.liveConnections, 0), 5_000, 10);
    // A command gets through on a new connection once this side has seen the old one close.
    await eventually(async () => assert.equal((await s.run(["true"])).exitCode, 0), 5_000, 10);
    const started = Date.now();
    const outcome = await s.docker.request("GET", "/networks").then(
      (r) => `status ${r.status}`,
      (err: unknown) => String(err),
    );
    assert.equal(outcome, "status 200", `after ${Date.now() - started} ms`);
    assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
  });

  it("fails a request at the deadline when the whole host has gone silent", async () => {
    const s = session({ commandTimeoutMs: 1000 });
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    host.freeze(1);
    const started = Date.now();
    await assert.rejects(s.docker.request("GET", "/networks"), /no answer within 1000 ms/);
    assert.ok(Date.now() - started < 1500, `failed after ${Date.now() - started} ms`);
  });

  it("runs dial-stdio under a host deadline of 2 × commandTimeoutMs, and starts no request on a stream with less than one deadline and a margin left", async () => {
    const s = session({ commandTimeoutMs: 1000 });
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    const dial = host.execs.find((e) => e.argv.join(" ") === "docker system dial-stdio");
    assert.match(dial?.command ?? "", /^env LC_ALL=C timeout -k 1 2 docker system dial-stdio$/);
    // The host ends it 2 s after it opened, and no request starts on it within a 1 s deadline
    // and a 0.25 s margin of that: a new stream soon after (the margin itself is proven below).
    await eventually(
      async () => {
        assert.equal((await s.docker.request("GET", "/networks")).status, 200);
        assert.equal(sessionStats()[0].dockerStreams, 2);
      },
      3_000,
      50,
    );
  });

  it("a Docker request running when its connection is retired finishes there; the next one goes to the new connection", async () => {
    host.docker!.delayMs = 300;
    const s = session();
    const inFlight = s.docker.request("GET", "/networks");
    await eventually(async () => assert.ok(host.execs.some((e) => e.argv.join(" ") === "docker system dial-stdio")), 5_000, 10);
    host.refuseChannelsOn.add(1);
    await s.run(["true"]);
    assert.equal((await inFlight).status, 200);
    host.docker!.delayMs = 0;
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    assert.deepEqual(
      host.execs.filter((e) => e.argv[0] === "docker").map((e) => e.connection),
      [1, 2],
    );
    await eventually(async () => assert.equal(host.liveConnections, 1), 5_000, 20);
  });

  it("answers many concurrent requests over one connection and at most two streams", async () => {
    host.docker!.addNetwork({ name: "lan", parent: "eth1", subnets: ["198.51.100.0/24"] });
    host.docker!.delayMs = 5;
    const s = session();
    const answers = await Promise.all(Array.from({ length: 30 }, () => s.docker.request("GET", "/networks")));
    assert.ok(answers.every((a) => a.status === 200 && Array.isArray(a.json) && a.json.length === 1));
    assert.equal(host.connections, 1);
    const streams = host.execs.filter((e) => e.argv.join(" ") === "docker system dial-stdio");
    assert.ok(streams.length >= 1 && streams.length <= 2, `${streams.length} streams`);
    assert.equal(host.docker!.count("GET /version"), 1);
    assert.equal(sessionStats()[0].handshakes, 1);
  });

  it("sends bodies and reports the daemon's status and message", async () => {
    const s = session({ sudo: true });
    const created = await s.docker.request("POST", "/networks/create", {
      Name: "lan",
      Driver: "macvlan",
      Options: {},
      IPAM: { Config: [] },
    });
    assert.equal(created.status, 201);
    const missing = await s.docker.request("GET", "/networks/nope");
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { message: "network nope not found" });
    assert.equal(host.execs[0].command, "env LC_ALL=C timeout -k 1 600 sudo -n -- docker system dial-stdio");
  });

  it("prefixes paths with the negotiated version, and sends one that names its own version as it is", async () => {
    host.docker!.apiVersion = "1.48";
    const s = session();
    await s.docker.request("GET", "/networks");
    await s.docker.request("POST", "/v1.48/networks/create", { Name: "v6", Driver: "macvlan", Options: {}, IPAM: { Config: [] } });
    assert.deepEqual(host.docker!.requests, ["GET /version", "GET /networks", "POST /networks/create"]);
    assert.deepEqual(host.docker!.pathVersions, ["", "1.41", "1.48"]);
  });

  it("says what the host printed when dial-stdio cannot start", async () => {
    host.docker = undefined;
    host.handler = () => ({ code: 127, stderr: "timeout: failed to run command 'docker': No such file or directory" });
    await assert.rejects(session().docker.request("GET", "/networks"), (err: unknown) => {
      assert.ok(err instanceof DockerApiError, String(err));
      assert.equal(err.status, undefined);
      assert.match(err.message, /Docker API `GET \/version` failed: timeout: failed to run command 'docker': No such file or directory/);
      return true;
    });
  });

  it("reports an unreachable host as a TransportError, not as a Docker error", async () => {
    const unreachable = hostSession(ConnectionSchema.parse({ ...host.connection(), port: 1 }));
    await assert.rejects(
      unreachable.docker.request("GET", "/networks"),
      (err: unknown) => err instanceof TransportError && err.reason === "connect",
    );
  });

  it("asks for API 1.41, within what the daemon supports", () => {
    assert.equal(chooseApiVersion({ ApiVersion: "1.45", MinAPIVersion: "1.24" }), "1.41");
    assert.equal(chooseApiVersion({ ApiVersion: "1.40", MinAPIVersion: "1.12" }), "1.40");
    assert.equal(chooseApiVersion({ ApiVersion: "1.52", MinAPIVersion: "1.44" }), "1.44");
  });
});

/**
 * A stream that behaves like an ssh2 channel where it matters here: destroy() only asks the host
 * to close it, and 'close' comes when the host answers, which a silent one never does. It
 * answers every HTTP request with an empty list, unless silent; the host ends it at hostEndsAt.
 */
class ChannelLikeStream extends Duplex {
  whenClosed = new Promise<void>(() => undefined);

  constructor(
    private readonly silent: boolean,
    public hostEndsAt = Date.now() + 60_000,
  ) {
    super({ emitClose: false, allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    if (!this.silent && chunk.toString().includes("\r\n\r\n")) {
      this.push("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]");
    }
    done();
  }

  override destroy(): this {
    this.end();
    return this;
  }
}

describe("ssh: Docker API streams whose close the host never confirms", function () {
  this.timeout(20_000);

  it("a request that timed out on a silent stream frees its slot: the next requests get new streams", async () => {
    const opened: ChannelLikeStream[] = [];
    const client = new DockerApiClient({
      target: "ssh://root@198.51.100.11:22",
      openStream: async () => {
        const stream = new ChannelLikeStream(opened.length === 0);
        opened.push(stream);
        return stream as unknown as DialStream;
      },
      maxStreams: 1,
      timeoutMs: 3000,
      whileActive: (body) => body(),
    });
    await assert.rejects(client.request("GET", "/v1.41/networks"), /no answer within 3000 ms/);
    // One stream at most: without the silent stream counted as closed, these would wait for
    // its slot until their own deadlines.
    const answers = await Promise.all([client.request("GET", "/v1.41/networks"), client.request("GET", "/v1.41/networks")]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    assert.equal(opened.length, 2);
    client.destroy();
  });
});

describe("ssh: which Docker API streams are kept for the next request", function () {
  this.timeout(10_000);

  /** A client whose first stream the host ends `firstLifeMs` after it opened; later ones live long. */
  function clientWithFirstLife(firstLifeMs: number, maxStreams: number) {
    const opened: ChannelLikeStream[] = [];
    const client = new DockerApiClient({
      target: "ssh://root@198.51.100.11:22",
      openStream: async () => {
        const stream = new ChannelLikeStream(false, Date.now() + (opened.length === 0 ? firstLifeMs : 60_000));
        opened.push(stream);
        return stream as unknown as DialStream;
      },
      maxStreams,
      timeoutMs: 3000,
      whileActive: (body) => body(),
    });
    return { client, opened };
  }

  it("starts no request on a stream the host ends within one deadline and a margin: the deadline comes first", async () => {
    // Room for one more whole 3 s deadline, but not for the 0.75 s margin after it.
    const { client, opened } = clientWithFirstLife(3_500, 1);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal(opened.length, 2, "the second request went out on the stream the host was about to end");
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal(opened.length, 2, "a stream with a long life left was not kept");
    client.destroy();
  });

  it("retires an idle stream at its reuse time and takes it out of the free list before the host confirms the close", async () => {
    // Reusable for about 50 ms after it opened; the fake host never confirms a close.
    const { client, opened } = clientWithFirstLife(3_800, 1);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    await eventually(async () => assert.ok(opened[0].writableEnded, "the idle stream was not ended"), 2_000, 10);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal(opened.length, 2, "the next request went out on the retired stream");
    client.destroy();
  });

  it("takes a stream that closes while still writable (its connection died) out of the free list at once", async () => {
    const { client, opened } = clientWithFirstLife(60_000, 1);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    // What ssh2 does to a channel of a connection that died: closed, the writable side left open.
    assert.ok(opened[0].writable);
    opened[0].emit("close");
    const started = Date.now();
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal(opened.length, 2, "the request went out on the closed stream");
    assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms`);
    client.destroy();
  });

  it("does not hand out a free stream that was ended while the host has not confirmed its close", async () => {
    const { client, opened } = clientWithFirstLife(60_000, 1);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    // What dropping the idle streams of a connection being replaced does: ssh2's destroy() ends
    // the channel and asks the host to close it; this fake host never answers.
    client.dropIdle();
    assert.ok(opened[0].writableEnded);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal(opened.length, 2, "the request went out on the ended stream");
    // A free stream whose connection takes no new work (it is being replaced) is not used either.
    (opened[1] as unknown as DialStream).reusable = () => false;
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal(opened.length, 3, "the request went out on a stream of a connection being replaced");
    client.destroy();
  });

  it("does not hand out a free stream past its reuse time when its retirement timer runs late", async () => {
    const { client, opened } = clientWithFirstLife(4_000, 2);
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    // The stream is back in the free list, reusable for about 250 ms more; then this process is
    // busy past that, so its retirement timer has not run when the next request is made.
    await new Promise((resolve) => setImmediate(resolve));
    const busyUntil = Date.now() + 400;
    while (Date.now() < busyUntil) {
      // a busy event loop
    }
    assert.equal((await client.request("GET", "/v1.41/networks")).status, 200);
    assert.equal(opened.length, 2, "the request went out on the stream past its reuse time");
    client.destroy();
  });
});
