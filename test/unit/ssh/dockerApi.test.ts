// The Docker Engine API over the pooled connection, against an in-process SSH host whose
// `docker system dial-stdio` reaches a fake daemon: one connection, a bounded number of
// streams however many requests run at once, the version asked for once, errors that say
// which request failed and what the daemon (or the host) said.

import { strict as assert } from "node:assert";
import { DockerApiError, TransportError } from "../../../provider/errors";
import { ConnectionSchema } from "../../../provider/ssh/connection";
import { chooseApiVersion } from "../../../provider/ssh/dockerApi";
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

  it("fails a request at the deadline when the whole host has gone silent", async () => {
    const s = session({ commandTimeoutMs: 1000 });
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    host.freeze(1);
    const started = Date.now();
    await assert.rejects(s.docker.request("GET", "/networks"), /no answer within 1000 ms/);
    assert.ok(Date.now() - started < 1500, `failed after ${Date.now() - started} ms`);
  });

  it("runs dial-stdio under a host deadline of 2 × commandTimeoutMs, and starts no request on a stream with less than one deadline left", async () => {
    const s = session({ commandTimeoutMs: 1000 });
    assert.equal((await s.docker.request("GET", "/networks")).status, 200);
    const dial = host.execs.find((e) => e.argv.join(" ") === "docker system dial-stdio");
    assert.match(dial?.command ?? "", /^env LC_ALL=C timeout -k 1 1\.6 docker system dial-stdio$/);
    // The host ends it 1.6 s after it opened: reused for 0.6 s at most, then a new stream.
    const opened = Date.now();
    await eventually(
      async () => {
        assert.equal((await s.docker.request("GET", "/networks")).status, 200);
        assert.equal(sessionStats()[0].dockerStreams, 2);
      },
      3_000,
      50,
    );
    assert.ok(Date.now() - opened < 1600, `a stream was used until ${Date.now() - opened} ms`);
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
    assert.equal(host.execs[0].command, "env LC_ALL=C timeout -k 1 599 sudo -n -- docker system dial-stdio");
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
    host.handler = () => ({ code: 127, stderr: "env: 'docker': No such file or directory" });
    await assert.rejects(session().docker.request("GET", "/networks"), (err: unknown) => {
      assert.ok(err instanceof DockerApiError, String(err));
      assert.equal(err.status, undefined);
      assert.match(err.message, /Docker API `GET \/version` failed: env: 'docker': No such file or directory/);
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
