// Deadlines and the host-side lock on a lab host (issue 10): a hung command fails at its
// deadline and is ended on the host; a link change waits for the host lock another process
// holds, and gives up with a typed error naming it; two processes creating shims on one host
// never interleave their sequences.

import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DockerApiError, TransportError } from "../../provider/errors";
import { toRemoteCommand } from "../../provider/host/command";
import { buildLockHolder, HOST_LOCK_BUSY_EXIT, HOST_LOCK_HEARTBEAT, HOST_LOCK_PATH } from "../../provider/host/hostLock";
import { hostShimProvider } from "../../provider/resources/link/hostShim";
import { parseConnection } from "../../provider/ssh/connection";
import { hostSession, sessionStats } from "../../provider/ssh/pool";
import type { Lab, LabHost } from "../lab/types";
import { eventually, throughout } from "../support/eventually";
import { recordFigure } from "../support/figures";
import { connectionFor, lab, refused, snapshotHost, uniqueName } from "./fixture";

describe("deadlines and the host lock on a lab host", function () {
  this.timeout(180_000);
  let theLab: Lab;
  let host: LabHost;
  let tmp: string;
  const links: string[] = [];
  const children: ChildProcess[] = [];

  before(async function () {
    this.timeout(600_000);
    theLab = await lab();
    host = theLab.hosts[0];
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "udeadl-"));
  });

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
    for (const l of links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Processes on the lab host whose command line contains `text` (only this host's, by network namespace). */
  async function processesOnHost(text: string): Promise<string[]> {
    const found = await host.exec(["sh", "-c", 'pgrep -a -f "$1" --nslist net --ns $$ | grep -v pgrep || true', "sh", text]);
    return found.stdout.split("\n").filter((l) => l.trim() && !l.includes("sh -c pgrep"));
  }

  it("fails a hung command at its deadline with a typed timeout, ends it on the host, and keeps the connection", async () => {
    const connection = parseConnection(connectionFor(host, { commandTimeoutMs: 3000 }), "test");
    const session = hostSession(connection);
    await session.run(["true"]);
    const handshakes = () => sessionStats().find((s) => s.target === session.target)?.handshakes;
    const before = handshakes();
    const marker = `3${process.pid}${Date.now() % 100_000}`;
    const started = Date.now();
    const hung = session.run(["sleep", marker]);
    // It really runs on the host before the deadline...
    await eventually(async () => assert.ok((await processesOnHost(`sleep ${marker}`)).length > 0, "sleep never started"), 3000, 50);
    let elapsed = 0;
    await assert.rejects(hung, (err: unknown) => {
      elapsed = Date.now() - started;
      assert.ok(err instanceof TransportError, String(err));
      assert.equal(err.reason, "timeout");
      assert.equal(err.commandMayHaveRun, true);
      assert.match(err.message, new RegExp(`\`sleep ${marker}\` did not finish within 3000 ms`));
      return true;
    });
    recordFigure({
      group: "faults",
      name: "hung command (sleep, commandTimeoutMs 3 s): typed timeout after",
      value: `${elapsed} ms`,
      target: "≤ 4000 ms (timeout + 1 s)",
      ok: elapsed <= 4000,
    });
    assert.ok(elapsed <= 4000, `the timeout came after ${elapsed} ms`);
    // ... and is gone from it afterwards, without anyone else ending it.
    await eventually(async () => assert.deepEqual(await processesOnHost(`sleep ${marker}`), []), 3000, 100);
    const gone = Date.now() - started;
    recordFigure({
      group: "faults",
      name: "hung command: remote process gone after",
      value: `${gone} ms`,
      target: "≤ 4000 ms (ended on the host)",
      ok: gone <= 4000,
    });
    assert.equal((await session.run(["echo", "next"])).stdout, "next\n");
    assert.equal(handshakes(), before, "the next command needed a new connection");
  });

  it("fails a Docker API request at the deadline when dockerd stops answering, and the next one works once it does", async () => {
    const session = hostSession(parseConnection(connectionFor(host, { commandTimeoutMs: 2000 }), "test"));
    // A stream open and the API version known before dockerd stops: on a VM under TCG, starting
    // `docker system dial-stdio` and asking the version can take longer than this test's 2 s
    // deadline, which is about the stopped daemon, not about that start.
    await eventually(async () => assert.equal((await session.docker.request("GET", "/networks")).status, 200), 60_000, 100);
    const dockerd = (await host.exec(["sh", "-c", "pgrep -x dockerd --nslist net --ns $$"])).stdout.trim();
    assert.match(dockerd, /^\d+$/, "no single dockerd on the host");
    await host.exec(["kill", "-STOP", dockerd]);
    let elapsed = 0;
    try {
      const state = ["sh", "-c", `read -r _ _ state _ < /proc/${dockerd}/stat && echo $state`];
      await eventually(async () => assert.equal((await host.exec(state)).stdout.trim(), "T", "dockerd not stopped yet"), 5000, 50);
      const started = Date.now();
      const outcome = await session.docker.request("GET", "/networks").then(
        (r) => `an answer (${r.status}: ${r.text.slice(0, 200)})`,
        (err: unknown) => err,
      );
      elapsed = Date.now() - started;
      assert.ok(outcome instanceof DockerApiError, `expected a DockerApiError, got ${String(outcome)}`);
      // The host ends a stream by itself 2 x commandTimeoutMs after it opened, and the agent
      // starts no request with less than one deadline and a margin left: the request's own
      // deadline comes first, never the stream hanging up.
      assert.match(outcome.message, /`GET \/v1\.\d+\/networks` failed: no answer within 2000 ms/);
    } finally {
      await host.exec(["kill", "-CONT", dockerd]);
    }
    recordFigure({
      group: "faults",
      name: "dockerd stopped (SIGSTOP), Docker API request, commandTimeoutMs 2 s: typed error after",
      value: `${elapsed} ms`,
      target: "≤ 3000 ms (timeout + 1 s)",
      ok: elapsed <= 3000,
    });
    assert.ok(elapsed <= 3000, `failed after ${elapsed} ms`);
    // The failed request took its stream with it; the next one starts dial-stdio again, which on
    // a VM under TCG can itself take longer than the 2 s deadline.
    await eventually(async () => assert.equal((await session.docker.request("GET", "/networks")).status, 200), 60_000, 100);
  });

  /**
   * Holds the host lock from outside the library (OpenSSH, its own process) until released: by
   * default a plain flock until its input ends, or the remote command given, which must print
   * "locked" once it holds the lock.
   */
  async function holdLockOutOfBand(
    remote = `mkdir -p ${HOST_LOCK_PATH} && exec flock ${HOST_LOCK_PATH} sh -c 'echo locked; exec cat >/dev/null'`,
  ): Promise<{ child: ChildProcess; release: () => Promise<void> }> {
    const keyFile = path.join(tmp, "id");
    fs.writeFileSync(keyFile, host.ssh.privateKey, { mode: 0o600 });
    const child = spawn(
      "ssh",
      [
        ...["-i", keyFile, "-p", String(host.ssh.port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"],
        ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"],
        `${host.ssh.user}@${host.ssh.host}`,
        remote,
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    children.push(child);
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
    await eventually(async () => assert.equal(out, "locked\n", `ssh: ${err}`), 10_000, 50);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return {
      child,
      release: async () => {
        child.stdin?.end();
        await exited;
      },
    };
  }

  /**
   * Whether the host lock is free now: no holder's flock runs on the host (the lab host's
   * /run/lock is its own, so flock -n from outside would ask another lock).
   */
  async function lockIsFree(): Promise<boolean> {
    return (await processesOnHost(`flock -E ${HOST_LOCK_BUSY_EXIT}`)).length === 0;
  }

  it("keeps the host lock while its holder's heartbeats come, and frees it by itself once a holder goes silent without closing", async () => {
    // The provider's own holder: connectTimeoutMs 4 s gives a heartbeat every second and a
    // silence bound of 10 s (the least); held for longer than that, it must stay held.
    const session = hostSession(parseConnection(connectionFor(host, { connectTimeoutMs: 4000 }), "test"));
    const held = async () => assert.equal(await lockIsFree(), false, "the lock was freed while its holder's heartbeats came");
    await session.exclusive(() => throughout(held, 13_000, 250));
    await eventually(async () => assert.ok(await lockIsFree(), "the lock is still held after the change"), 10_000, 50);

    // The same holder with a 2 s silence bound, over OpenSSH: held past the bound while its
    // client writes heartbeats; once the client stops (SIGSTOP: no heartbeat, no close, the TCP
    // connection open, as a laptop gone to sleep leaves it), freed after the bound.
    const lock = await holdLockOutOfBand(toRemoteCommand(buildLockHolder(10_000, 2_000), { sudo: false }));
    const beat = setInterval(() => lock.child.stdin?.write(HOST_LOCK_HEARTBEAT), 500);
    let stoppedAt: number;
    try {
      await throughout(held, 4_000, 250);
      stoppedAt = Date.now();
      lock.child.kill("SIGSTOP");
    } finally {
      clearInterval(beat);
    }
    await eventually(async () => assert.ok(await lockIsFree(), "a silent holder still holds the lock"), 20_000, 100);
    const freedAfter = Date.now() - stoppedAt;
    recordFigure({
      group: "faults",
      name: "host lock holder whose client went silent (SIGSTOP), silence bound 2 s: lock free after",
      value: `${freedAfter} ms`,
      target: "≤ 10000 ms (bound + 8 s)",
      ok: freedAfter <= 10_000,
    });
    assert.ok(freedAfter >= 1000, `freed after ${freedAfter} ms, before the silence bound`);
    assert.ok(freedAfter <= 10_000, `freed after ${freedAfter} ms`);
    lock.child.kill("SIGCONT");
  });

  function shimInputs(name: string, extra: Record<string, unknown> = {}) {
    return { connection: connectionFor(host, extra), name, parent: host.lanParent, address: "198.51.100.248/32", routes: [] };
  }

  it("refuses a link change when another process holds the host lock past the deadline, naming the lock, host unchanged", async () => {
    const lock = await holdLockOutOfBand();
    const name = uniqueName("lk");
    links.push(name);
    const before = await snapshotHost(host);
    const checked = await hostShimProvider.check({}, shimInputs(name, { commandTimeoutMs: 2000 }));
    const started = Date.now();
    await assert.rejects(
      hostShimProvider.create(checked.inputs),
      refused("hostLocked", [HOST_LOCK_PATH], /another process holds the host's lock "\/run\/lock\/pulumi-underlay".*waited \d+ ms/),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1500 && elapsed <= 3000, `gave up after ${elapsed} ms`);
    assert.equal(await snapshotHost(host), before);
    await lock.release();
  });

  it("makes a HostShim create wait for the host lock another process holds, and complete once it is released", async () => {
    const lock = await holdLockOutOfBand();
    const name = uniqueName("lk");
    links.push(name);
    const checked = await hostShimProvider.check({}, shimInputs(name));
    let settled = false;
    const started = Date.now();
    const creating = hostShimProvider.create(checked.inputs).finally(() => {
      settled = true;
    });
    // The create's own holder waits on the host; nothing of the shim exists yet.
    await eventually(async () => assert.equal((await processesOnHost("flock -E 75")).length, 1), 10_000, 50);
    assert.equal(settled, false);
    const link = await host.exec(["ip", "-j", "link", "show", "dev", name], { allowFail: true });
    assert.notEqual(link.code, 0, "the shim was made while another process held the lock");
    const releasedAt = Date.now();
    await lock.release();
    const created = await creating;
    assert.equal(created.id, name);
    const shown = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", name])).stdout)[0];
    assert.equal(shown.linkinfo?.info_kind, "macvlan");
    recordFigure({
      group: "concurrency",
      name: "HostShim create while another process holds the host lock: waited, then created",
      value: `waited ${releasedAt - started} ms, done ${Date.now() - releasedAt} ms after release`,
      target: "waits for the release, then completes",
      ok: true,
    });
  });

  it("never interleaves two processes' shim creates on one host: 10 each, 0 failures, exact final links", async () => {
    const workerScript = path.join(__dirname, "..", "support", "shimWorker.js");
    const tag = `${process.pid % 1000}`;
    const jobs = ["a", "b"].map((p, w) => ({
      connection: connectionFor(host),
      shims: Array.from({ length: 10 }, (_, i) => ({
        name: `c${p}${tag}x${i}`,
        parent: host.lanParent,
        address: `198.51.100.${200 + w * 10 + i}/32`,
        routes: [`203.0.113.${100 + w * 10 + i}/32`],
      })),
    }));
    const names = jobs.flatMap((j) => j.shims.map((s) => s.name));
    links.push(...names);
    // The host's own record of every link, address and route change, in the order it made them.
    const monitorLog = `/tmp/udeadl-monitor-${process.pid}.log`;
    const monitor = await host.exec(["sh", "-c", `ip -o monitor link address route >${monitorLog} 2>&1 & echo $!`]);
    const monitorPid = monitor.stdout.trim();
    let log: string[];
    const started = Date.now();
    try {
      const results = await Promise.all(jobs.map((job) => runWorker(workerScript, job)));
      const failures = results.flatMap((r) => r.failures);
      recordFigure({
        group: "concurrency",
        name: "two processes × 10 HostShims on one host: failures",
        value: failures.length,
        target: "0",
        ok: failures.length === 0,
      });
      assert.deepEqual(failures, []);
      assert.deepEqual(
        results.map((r) => r.created),
        [10, 10],
      );
    } finally {
      await host.exec(["kill", monitorPid], { allowFail: true });
      log = (await host.exec(["cat", monitorLog], { allowFail: true })).stdout.split("\n");
      await host.exec(["rm", "-f", monitorLog], { allowFail: true });
    }
    const elapsed = Date.now() - started;
    // Exactly the 20 shims, each a macvlan on the parent with its address and its route.
    const all = JSON.parse((await host.exec(["ip", "-j", "-d", "address", "show"])).stdout) as {
      ifname: string;
      link?: string;
      linkinfo?: { info_kind: string };
      addr_info: { family: string; local: string; prefixlen: number }[];
    }[];
    const ours = all.filter((l) => l.ifname.startsWith(`ca${tag}x`) || l.ifname.startsWith(`cb${tag}x`));
    assert.deepEqual(ours.map((l) => l.ifname).sort(), [...names].sort());
    for (const job of jobs) {
      for (const shim of job.shims) {
        const l = ours.find((x) => x.ifname === shim.name);
        assert.equal(l?.linkinfo?.info_kind, "macvlan", shim.name);
        assert.deepEqual(
          l?.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
          [shim.address],
        );
      }
    }
    const routes = JSON.parse((await host.exec(["ip", "-j", "route", "show"])).stdout) as { dst: string; dev: string }[];
    for (const job of jobs) {
      for (const shim of job.shims) {
        assert.deepEqual(
          routes.filter((r) => r.dev === shim.name).map((r) => r.dst),
          [shim.routes[0].replace("/32", "")],
          shim.name,
        );
      }
    }
    // Each shim's sequence, from its link appearing to its route, as the host saw it: no other
    // shim's change may fall inside it.
    const spans = names.map((name) => {
      const word = new RegExp(`(^|[^A-Za-z0-9_])${name}([^A-Za-z0-9_]|$)`);
      const first = log.findIndex((line) => word.test(line));
      const routeLine = log.findIndex((line) => line.startsWith(`203.0.113.`) && word.test(line));
      return { name, first, last: routeLine };
    });
    for (const s of spans) assert.ok(s.first >= 0 && s.last > s.first, `${s.name} not in the monitor log: ${JSON.stringify(s)}`);
    const interleaved = spans.filter((s) => spans.some((o) => o !== s && o.first > s.first && o.first < s.last));
    recordFigure({
      group: "concurrency",
      name: "two processes × 10 HostShims on one host: sequences interleaved",
      value: interleaved.length,
      target: `0 (${elapsed} ms for 20 creates)`,
      ok: interleaved.length === 0,
    });
    assert.deepEqual(
      interleaved.map((s) => s.name),
      [],
      "sequences overlapped",
    );
  });

  function runWorker(script: string, job: object): Promise<{ created: number; failures: string[] }> {
    const child = spawn(process.execPath, [script, JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
    return new Promise((resolve, reject) =>
      child.once("exit", (code) => {
        try {
          resolve(JSON.parse(out));
        } catch {
          reject(new Error(`worker exited with ${code}: ${out}${err}`));
        }
      }),
    );
  }
});
