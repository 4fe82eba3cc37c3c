// `npm run bench` (as root): starts its own network-namespace lab hosts and prints one table
// of the provider against the usual way (one OpenSSH `ssh host docker network ...` process per
// operation, all at once and one after another) and against the floor (dockerd's own socket,
// a warm SSH round trip), for N = 10, 50, 200 networks on one host and M = 1, 5, 20 hosts with
// 10 each (with their floor, every host's dockerd socket at once, and where the machine's CPU
// went: every lab host runs on this machine's cores); then two plain lines computed from this
// run. Asserts nothing.
//
// Under the real engine (main's tools/engine build, built here first when missing): `pulumi up`,
// `refresh` and `destroy` of a stack of BENCH_ENGINE_N (50) networks, BENCH_ENGINE=0 to skip.
//
// Knobs: BENCH_RUNS (3: each figure is the median of this many runs), BENCH_N ("10,50,200"),
// BENCH_M ("1,5,20"), BENCH_SEQUENTIAL_MAX (50: the one-after-another usual way is measured up
// to this N; above it, ~0.45 s x 3N per run), BENCH_USUAL_RUNS_LARGE (1: runs of the usual ways
// at N >= 200).

import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { ConnectionSchema } from "../provider/ssh/connection";
import { closeAllSessions, hostSession } from "../provider/ssh/pool";
import type { NetnsLab } from "../test/lab/netnsLab";
import type { LabHost } from "../test/lab/types";
import type { DriveResult } from "./driveProvider";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SIZES = (process.env.BENCH_N ?? "10,50,200").split(",").map(Number);
const HOST_COUNTS = (process.env.BENCH_M ?? "1,5,20").split(",").map(Number);
const SEQUENTIAL_MAX = Number(process.env.BENCH_SEQUENTIAL_MAX ?? 50);
const USUAL_RUNS_LARGE = Number(process.env.BENCH_USUAL_RUNS_LARGE ?? 1);
const PER_HOST_M = 10;
const ENGINE_N = Number(process.env.BENCH_ENGINE_N ?? 50);
const ENGINE = process.env.BENCH_ENGINE !== "0";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const seconds = (ms: number | undefined) => (ms === undefined ? "—" : (ms / 1000).toFixed(ms < 1000 ? 3 : 2));
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// The lab: parents (veth pairs) and subnets for every network the bench makes.

interface Target {
  host: LabHost;
  dir: string;
  keyFile: string;
  knownHosts: string;
  parents: string[];
  subnets: string[];
}

async function prepare(lab: NetnsLab, host: LabHost, count: number, scratch: string): Promise<Target> {
  // Each macvlan network needs a parent of its own (Docker allows one macvlan network per parent).
  await host.exec(["sh", "-c", `for i in $(seq 1 ${count}); do ip link add bp$i type veth peer name bq$i && ip link set bp$i up; done`], {
    timeoutMs: 120_000,
  });
  const keyFile = path.join(scratch, `${host.name}.key`);
  const knownHosts = path.join(scratch, `${host.name}.known_hosts`);
  await fs.writeFile(keyFile, host.ssh.privateKey, { mode: 0o600 });
  await fs.writeFile(knownHosts, `[127.0.0.1]:${host.ssh.port} ${host.ssh.hostPublicKey}\n`);
  const parents = Array.from({ length: count }, (_, i) => `bp${i + 1}`);
  // 198.18.0.0/15 (benchmarking range): only ever inside the lab namespaces.
  const subnets = Array.from({ length: count }, (_, i) => `198.${18 + Math.floor((i + 1) / 256)}.${(i + 1) % 256}.0/24`);
  return { host, dir: path.join(lab.dir, host.name), keyFile, knownHosts, parents, subnets };
}

function connectionOf(t: Target): Record<string, unknown> {
  return {
    host: t.host.ssh.host,
    port: t.host.ssh.port,
    user: t.host.ssh.user,
    privateKey: t.host.ssh.privateKey,
    hostKey: t.host.ssh.hostPublicKey,
  };
}

// CPU the lab hosts have used so far, from /proc (USER_HZ is 100 on Linux): their dockerd and
// containerd, and every SSH session they served, which socat's per-connection child (`sshd -i`
// and all it ran: shells, `ip`, `docker system dial-stdio`) hands to the listener when it is reaped.
interface LabCpu {
  daemons: number;
  sessions: number;
}

async function procCpuMs(pidFile: string, withChildren: boolean): Promise<number> {
  const pid = (await fs.readFile(pidFile, "utf8").catch(() => "")).trim();
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Fields after the command name (which may hold spaces): utime is the 14th field, cstime the 17th.
  const f = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  const own = (f[11] ?? 0) + (f[12] ?? 0);
  return (withChildren ? own + (f[13] ?? 0) + (f[14] ?? 0) : own) * 10;
}

async function labCpu(targets: Target[]): Promise<LabCpu> {
  let daemons = 0;
  let sessions = 0;
  for (const t of targets) {
    daemons += (await procCpuMs(path.join(t.dir, "dockerd.pid"), false)) + (await procCpuMs(path.join(t.dir, "containerd.pid"), false));
    sessions += await procCpuMs(path.join(t.dir, "socat.pid"), true);
  }
  return { daemons, sessions };
}

const minus = (a: LabCpu, b: LabCpu): LabCpu => ({ daemons: a.daemons - b.daemons, sessions: a.sessions - b.sessions });

async function handshakes(t: Target): Promise<number> {
  const text = await fs.readFile(path.join(t.dir, "sshd.log"), "utf8").catch(() => "");
  return text.split("\n").filter((l) => l.includes("Accepted publickey")).length;
}

// ---------------------------------------------------------------------------------------------
// Ours: one child process per run (an empty pool, its own peak memory).

function driveProvider(targets: Target[], n: number, prefix: string): Promise<DriveResult> {
  const plan = {
    prefix,
    hosts: targets.map((t) => ({ connection: connectionOf(t), parents: t.parents.slice(0, n), subnets: t.subnets.slice(0, n) })),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, "driveProvider.js"), JSON.stringify(plan)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as DriveResult) : reject(new Error(`driveProvider exited ${code}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// The usual way: one OpenSSH process per operation.

function ssh(t: Target, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "ssh",
      [
        "-q",
        "-i",
        t.keyFile,
        "-p",
        String(t.host.ssh.port),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${t.knownHosts}`,
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
        `root@127.0.0.1`,
        ...argv,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`ssh ${argv.join(" ")}: exit ${code}: ${err.trim()}`))));
  });
}

async function timed(ops: (() => Promise<void>)[], concurrent: boolean): Promise<number> {
  const start = performance.now();
  if (concurrent) await Promise.all(ops.map((op) => op()));
  else for (const op of ops) await op();
  return performance.now() - start;
}

interface Phases {
  create: number;
  read: number;
  delete: number;
}

async function usualWay(t: Target, n: number, prefix: string, concurrent: boolean): Promise<Phases> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const create = await timed(
    names.map(
      (name, i) => () =>
        ssh(t, ["docker", "network", "create", "-d", "macvlan", "-o", `parent=${t.parents[i]}`, "--subnet", t.subnets[i], name]),
    ),
    concurrent,
  );
  const read = await timed(
    names.map((name) => () => ssh(t, ["docker", "network", "inspect", name])),
    concurrent,
  );
  const del = await timed(
    names.map((name) => () => ssh(t, ["docker", "network", "rm", name])),
    concurrent,
  );
  return { create, read, delete: del };
}

// ---------------------------------------------------------------------------------------------
// The floor: dockerd's own socket (no SSH), keep-alive, one request at a time (Docker 20.10
// handles network changes fastest that way), and a warm SSH round trip.

async function floor(t: Target, n: number, prefix: string): Promise<Phases & { listAll: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method: string, p: string, body?: unknown) =>
    new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          socketPath: path.join(t.dir, "docker.sock"),
          agent,
          method,
          path: `/v1.41${p}`,
          headers: payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : {},
        },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  const ids: string[] = [];
  let start = performance.now();
  for (let i = 0; i < n; i++) {
    const r = await call("POST", "/networks/create", {
      Name: `${prefix}${i}`,
      Driver: "macvlan",
      Options: { parent: t.parents[i] },
      IPAM: { Config: [{ Subnet: t.subnets[i] }] },
    });
    ids.push((r.json as { Id: string }).Id);
  }
  const create = performance.now() - start;
  start = performance.now();
  for (const id of ids) await call("GET", `/networks/${id}`);
  const read = performance.now() - start;
  start = performance.now();
  await call("GET", "/networks");
  const listAll = performance.now() - start;
  start = performance.now();
  for (const id of ids) await call("DELETE", `/networks/${id}`);
  const del = performance.now() - start;
  agent.destroy();
  return { create, read, delete: del, listAll };
}

async function warmRoundTrips(t: Target): Promise<{ ssh2Warm: number; opensshFresh: number }> {
  const session = hostSession(ConnectionSchema.parse(connectionOf(t)));
  await session.run(["true"]);
  const warm: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    await session.run(["true"]);
    warm.push(performance.now() - start);
  }
  closeAllSessions();
  const fresh: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await ssh(t, ["true"]);
    fresh.push(performance.now() - start);
  }
  return { ssh2Warm: median(warm), opensshFresh: median(fresh) };
}

// ---------------------------------------------------------------------------------------------

interface SizeResult {
  n: number;
  ours: Phases;
  oursRuns: number;
  trips: Phases;
  usualConcurrent: Phases;
  usualSequential?: Phases;
  usualRuns: number;
  floor: Phases & { listAll: number };
  handshakesPerRun: number;
  maxRssMiB: number;
  drift: number;
}

const medianPhases = (runs: Phases[]): Phases => ({
  create: median(runs.map((r) => r.create)),
  read: median(runs.map((r) => r.read)),
  delete: median(runs.map((r) => r.delete)),
});
const total = (p: Phases) => p.create + p.read + p.delete;

async function measureSize(t: Target, n: number): Promise<SizeResult> {
  const ours: DriveResult[] = [];
  const before = await handshakes(t);
  for (let r = 0; r < RUNS; r++) ours.push(await driveProvider([t], n, `bo${r}x`));
  const handshakesPerRun = ((await handshakes(t)) - before) / RUNS;
  const usualRuns = n >= 200 ? Math.min(RUNS, USUAL_RUNS_LARGE) : RUNS;
  const concurrent: Phases[] = [];
  const sequential: Phases[] = [];
  for (let r = 0; r < usualRuns; r++) {
    log(`N=${n}: usual way, all at once (run ${r + 1}/${usualRuns})`);
    concurrent.push(await usualWay(t, n, `uc${r}x`, true));
    if (n <= SEQUENTIAL_MAX) {
      log(`N=${n}: usual way, one after another (run ${r + 1}/${usualRuns})`);
      sequential.push(await usualWay(t, n, `us${r}x`, false));
    }
  }
  const floors: (Phases & { listAll: number })[] = [];
  for (let r = 0; r < RUNS; r++) floors.push(await floor(t, n, `fl${r}x`));
  return {
    n,
    ours: medianPhases(ours.map((o) => ({ create: o.createMs, read: o.readMs, delete: o.deleteMs }))),
    oursRuns: RUNS,
    trips: medianPhases(ours.map((o) => o.roundTrips)),
    usualConcurrent: medianPhases(concurrent),
    usualSequential: sequential.length ? medianPhases(sequential) : undefined,
    usualRuns,
    floor: { ...medianPhases(floors), listAll: median(floors.map((f) => f.listAll)) },
    handshakesPerRun,
    maxRssMiB: Math.max(...ours.map((o) => o.maxRssMiB)),
    drift: ours.reduce((sum, o) => sum + o.driftAfterRead, 0),
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("npm run bench needs root: it starts network-namespace lab hosts (sshd, dockerd)");
    process.exit(2);
  }
  const maxM = Math.max(...HOST_COUNTS);
  const maxN = Math.max(...SIZES);
  const { startNetnsLab } = await import("../test/lab/netnsLab");
  log(`starting ${maxM} lab host(s)`);
  const lab = await startNetnsLab({ hosts: maxM });
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "ulab-bench-"));
  try {
    const targets = await Promise.all(lab.hosts.map((h, i) => prepare(lab, h, i === 0 ? maxN : PER_HOST_M, scratch)));
    const one = targets[0];
    const rtt = await warmRoundTrips(one);

    const sizes: SizeResult[] = [];
    for (const n of SIZES) {
      log(`N=${n}`);
      sizes.push(await measureSize(one, n));
    }

    const multi: Multi[] = [];
    for (const m of HOST_COUNTS) {
      const hosts = targets
        .slice(0, m)
        .map((t) => ({ ...t, parents: t.parents.slice(0, PER_HOST_M), subnets: t.subnets.slice(0, PER_HOST_M) }));
      const before = await Promise.all(hosts.map(handshakes));
      const runs: DriveResult[] = [];
      const lab: LabCpu[] = [];
      for (let r = 0; r < RUNS; r++) {
        const cpuBefore = await labCpu(hosts);
        runs.push(await driveProvider(hosts, PER_HOST_M, `bm${r}x`));
        lab.push(minus(await labCpu(hosts), cpuBefore));
      }
      const after = await Promise.all(hosts.map(handshakes));
      // The floor for M hosts: the same work straight against each host's dockerd socket, every
      // host at once (no SSH, no provider), so what the machine itself allows shows beside ours.
      const floors: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const start = performance.now();
        await Promise.all(hosts.map((t) => floor(t, PER_HOST_M, `fm${r}x`)));
        floors.push(performance.now() - start);
      }
      multi.push({
        floorMs: median(floors),
        m,
        ms: median(runs.map((o) => o.createMs + o.readMs + o.deleteMs)),
        cpuMs: median(runs.map((o) => o.cpuMs)),
        machineBusyMs: median(runs.map((o) => o.machineBusyMs)),
        lab: { daemons: median(lab.map((l) => l.daemons)), sessions: median(lab.map((l) => l.sessions)) },
        handshakesPerHost: Math.max(...after.map((a, i) => a - before[i])) / RUNS,
      });
    }

    const engine = ENGINE
      ? await underEngine(one).catch((err: Error) => {
          log(`engine: ${err.message}`);
          return { failed: err.message.split("\n")[0] };
        })
      : { failed: "skipped (BENCH_ENGINE=0)" };

    print(sizes, multi, rtt, engine);
  } finally {
    closeAllSessions();
    await lab.stop();
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The real engine: main's Pulumi CLI build, the Automation API, a file:// backend, no network.

type EngineResult = { up: number; refresh: number; destroy: number; handshakes: number } | { failed: string };

async function underEngine(t: Target): Promise<EngineResult> {
  const engine = await import("../test/engine/engine");
  try {
    await engine.pulumiCommand();
  } catch {
    log("building the Pulumi engine (tools/engine/build.sh)");
    await new Promise<void>((resolve, reject) => {
      const child = spawn("bash", [path.join(engine.REPO, "tools/engine/build.sh")], { stdio: ["ignore", "ignore", "inherit"] });
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`tools/engine/build.sh exited ${code}`))));
    });
  }
  const canary = new engine.NetworkCanary();
  await canary.start();
  const es = await engine.openStack({
    program: "bench/engine",
    canary,
    config: {
      "underlay:connection": { value: JSON.stringify(connectionOf(t)), secret: true },
      "underlay:count": { value: String(ENGINE_N) },
    },
  });
  try {
    log(`engine: pulumi up of ${ENGINE_N} networks`);
    const before = await handshakes(t);
    let start = performance.now();
    await es.stack.up();
    const up = performance.now() - start;
    start = performance.now();
    await es.stack.refresh();
    const refresh = performance.now() - start;
    start = performance.now();
    await es.stack.destroy();
    const destroy = performance.now() - start;
    if (canary.attempts.length) throw new Error(`the engine tried the network: ${canary.attempts.join(", ")}`);
    return { up, refresh, destroy, handshakes: (await handshakes(t)) - before };
  } finally {
    await es.stack.destroy().catch(() => undefined);
    await es.remove();
    await canary.stop();
  }
}

interface Multi {
  m: number;
  ms: number;
  /** The same work on every host's dockerd socket at once, no SSH (create, inspect, list, delete). */
  floorMs: number;
  cpuMs: number;
  /** CPU time the whole machine (all cores: the driver, every lab host's sshd, docker, dockerd) spent during the run. */
  machineBusyMs: number;
  /** CPU the lab hosts spent over the whole run (their daemons; their SSH sessions and all they ran). */
  lab: LabCpu;
  handshakesPerHost: number;
}

function print(sizes: SizeResult[], multi: Multi[], rtt: { ssh2Warm: number; opensshFresh: number }, engine: EngineResult): void {
  const row = (cells: (string | number)[]) => console.log(`| ${cells.join(" | ")} |`);
  console.log(
    `\nMachine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; Node ${process.version}; lab: network-namespace hosts, Docker 20.10, OpenSSH sshd.`,
  );
  console.log(`Medians of ${RUNS} runs (the usual ways at N >= 200: ${Math.min(RUNS, USUAL_RUNS_LARGE)} run(s)). Times in seconds.\n`);
  row([
    "N on one host",
    "phase",
    "ours",
    "usual, all at once",
    "usual, one after another",
    "usual (at once) / ours",
    "floor: dockerd socket, one at a time",
    "our round trips per op",
  ]);
  row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---:"]);
  for (const s of sizes) {
    for (const phase of ["create", "read", "delete"] as const) {
      row([
        s.n,
        phase === "read" ? "read (refresh)" : phase,
        seconds(s.ours[phase]),
        seconds(s.usualConcurrent[phase]),
        seconds(s.usualSequential?.[phase]),
        `${(s.usualConcurrent[phase] / s.ours[phase]).toFixed(1)}x`,
        phase === "read" ? `${seconds(s.floor.read)} (one list of all: ${seconds(s.floor.listAll)})` : seconds(s.floor[phase]),
        (s.trips[phase] / s.n).toFixed(2),
      ]);
    }
    row([
      s.n,
      "**all three**",
      `**${seconds(total(s.ours))}**`,
      seconds(total(s.usualConcurrent)),
      s.usualSequential ? seconds(total(s.usualSequential)) : `— (N > ${SEQUENTIAL_MAX})`,
      `**${(total(s.usualConcurrent) / total(s.ours)).toFixed(1)}x**`,
      seconds(total(s.floor)),
      (total(s.trips) / s.n).toFixed(2),
    ]);
  }
  console.log("");
  row([
    "M hosts, 10 networks each",
    "ours create+read+delete",
    "against M = 1",
    "floor: dockerd sockets, no SSH, all hosts at once",
    "floor against M = 1",
    "CPU of the driving process",
    "CPU of the whole machine during it",
    "cores busy on average",
    "CPU of the lab hosts' dockerd + containerd",
    "CPU of their SSH sessions",
    "SSH handshakes per host per run",
  ]);
  row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]);
  const one = multi.find((m) => m.m === 1) ?? multi[0];
  const base = one?.ms;
  for (const m of multi)
    row([
      m.m,
      seconds(m.ms),
      `${(m.ms / base).toFixed(2)}x`,
      seconds(m.floorMs),
      `${(m.floorMs / one.floorMs).toFixed(2)}x`,
      seconds(m.cpuMs),
      seconds(m.machineBusyMs),
      (m.machineBusyMs / m.ms).toFixed(2),
      seconds(m.lab.daemons),
      seconds(m.lab.sessions),
      m.handshakesPerHost.toFixed(1),
    ]);
  console.log(
    "(every lab host shares this machine's cores: M hosts' sshd, docker and dockerd work is done by the same CPUs that run the provider)",
  );
  console.log("");
  row(["other figures", "value"]);
  row(["---", "---:"]);
  row(["warm SSH round trip (pooled ssh2, `true`)", `${rtt.ssh2Warm.toFixed(1)} ms`]);
  row(["fresh OpenSSH `ssh host true`", `${rtt.opensshFresh.toFixed(0)} ms`]);
  for (const s of sizes) row([`peak RSS of the process driving the provider, N = ${s.n}`, `${s.maxRssMiB.toFixed(0)} MiB`]);
  for (const s of sizes) row([`SSH handshakes on the lab sshd per provider run, N = ${s.n}`, s.handshakesPerRun.toFixed(1)]);
  row(["reads that came back gone or with a diff (all runs)", sizes.reduce((sum, s) => sum + s.drift, 0)]);
  if ("failed" in engine)
    row([`\`pulumi up\` / \`refresh\` / \`destroy\` of ${ENGINE_N} networks under the real engine`, `not measured: ${engine.failed}`]);
  else {
    row([`\`pulumi up\` of ${ENGINE_N} networks, real engine (one run)`, `${seconds(engine.up)} s`]);
    row([`\`pulumi refresh\` of them`, `${seconds(engine.refresh)} s`]);
    row([`\`pulumi destroy\` of them`, `${seconds(engine.destroy)} s`]);
    row(["SSH handshakes on the lab sshd for up + refresh + destroy (one provider process each)", engine.handshakes]);
  }
  row([
    "the same stack with @pulumi/command `remote.Command`",
    'not measured: the Go module proxy here refuses github.com/pulumi/pulumi-command/provider (403 "This module version is not available"), so its provider cannot be built',
  ]);
  const n50 = sizes.find((s) => s.n === 50) ?? sizes[0];
  const allHandshakes = [...sizes.map((s) => s.handshakesPerRun), ...multi.map((m) => m.handshakesPerHost)];
  console.log("");
  console.log(`ratio N=${n50.n}: ${(total(n50.usualConcurrent) / total(n50.ours)).toFixed(1)}x`);
  console.log(`handshakes per host: ${Math.max(...allHandshakes).toFixed(0)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
