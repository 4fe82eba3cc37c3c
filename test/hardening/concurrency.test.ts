// Concurrency (issue 10): 30 HostShims on one parent created and then deleted all at once in one
// provider process; a macvlan network and 5 shims created at once; 2 provider processes
// creating and deleting 15 shims each at the same time; and 2 processes asking for the same 15
// shims, where one ask must be refused as a taken name (that needs a lock the host itself
// holds: the in-process HostLock cannot order two processes). Each is measured on the lab host
// (`ip -j`, `docker network inspect`): failures, races (anything the host shows that the
// declared state does not, or the reverse) and whether the host ends exactly as it began.

import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { type HostShimState, hostShimProvider } from "../../provider/resources/link/hostShim";
import { macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { connectionFor, lab, snapshotHost } from "../integration/fixture";
import type { LabHost } from "../lab/types";
import { recordFigure } from "../support/figures";
import type { ShimJob, ShimResult } from "./shimWorker";

/** Names of this run's links start with this (interface names stop at 15 bytes). */
const PREFIX = `cc${process.pid % 10000}`;
const WORKER_DEADLINE_MS = 240_000;

interface ShimSpec {
  name: string;
  address: string;
  routes: string[];
}

interface HostLink {
  kind?: string;
  parent?: string;
  mac: string;
  ifindex: number;
  up: boolean;
  addresses: string[];
  routes: string[];
}

function withPrefix(dst: string): string {
  return dst.includes("/") ? dst : `${dst}/32`;
}

/** This run's links on the host, with their IPv4 addresses and the routes through them. */
async function ourLinks(host: LabHost): Promise<Map<string, HostLink>> {
  const [links, addrs, routes] = await Promise.all([
    host.exec(["ip", "-j", "-d", "link", "show"]),
    host.exec(["ip", "-j", "-4", "address", "show"]),
    host.exec(["ip", "-j", "-4", "route", "show"]),
  ]);
  type Link = { ifname: string; ifindex: number; link?: string; address: string; flags: string[]; linkinfo?: { info_kind?: string } };
  type Addr = { ifname: string; addr_info: { local: string; prefixlen: number }[] };
  type Route = { dst: string; dev: string };
  const addressesOf = new Map(
    (JSON.parse(addrs.stdout) as Addr[]).map((a) => [a.ifname, a.addr_info.map((i) => `${i.local}/${i.prefixlen}`)]),
  );
  const routeList = JSON.parse(routes.stdout) as Route[];
  const out = new Map<string, HostLink>();
  for (const l of JSON.parse(links.stdout) as Link[]) {
    if (!l.ifname.startsWith(PREFIX)) continue;
    out.set(l.ifname, {
      kind: l.linkinfo?.info_kind,
      parent: l.link,
      mac: l.address,
      ifindex: l.ifindex,
      up: l.flags.includes("UP"),
      addresses: (addressesOf.get(l.ifname) ?? []).sort(),
      routes: routeList
        .filter((r) => r.dev === l.ifname)
        .map((r) => withPrefix(r.dst))
        .sort(),
    });
  }
  return out;
}

/**
 * Every way the host and the declared state disagree: a declared shim missing, or with another
 * kind, parent, MAC, ifindex, address, routes or link state than its state says or its inputs
 * asked; a link of this run's the state does not know of.
 */
function races(host: Map<string, HostLink>, declared: Map<string, HostShimState>, asked: ShimSpec[], parent: string): string[] {
  const found: string[] = [];
  for (const spec of asked) {
    const outs = declared.get(spec.name);
    if (!outs) continue; // a failed create is counted as a failure, not a race
    const l = host.get(spec.name);
    if (!l) {
      found.push(`${spec.name}: in the state, not on the host`);
      continue;
    }
    const expect: [string, unknown, unknown][] = [
      ["kind", l.kind, "macvlan"],
      ["parent", l.parent, parent],
      ["MAC", l.mac, outs.macAddress],
      ["ifindex", l.ifindex, outs.identity?.ifindex],
      ["up", l.up, true],
      ["addresses", l.addresses.join(","), spec.address],
      ["state's address", outs.address, spec.address],
      ["routes", l.routes.join(","), [...spec.routes].sort().join(",")],
      ["state's routes", [...outs.routes].sort().join(","), [...spec.routes].sort().join(",")],
    ];
    for (const [what, seen, want] of expect)
      if (seen !== want) found.push(`${spec.name}: ${what} ${String(seen)}, expected ${String(want)}`);
  }
  for (const name of host.keys()) if (!declared.has(name)) found.push(`${name}: on the host, in no state`);
  return found;
}

function shims(count: number, from: number, tag: string, route: (i: number) => string): ShimSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${PREFIX}${tag}${i}`,
    address: `198.51.100.${from + i}/32`,
    routes: [route(i)],
  }));
}

/** Runs one job in a child provider process (by pid, killed at the deadline). */
function inWorker(job: ShimJob): Promise<{ code: number | null; results: ShimResult[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, "shimWorker.js")], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, "SIGKILL");
      reject(new Error(`shim worker ${child.pid} still running after ${WORKER_DEADLINE_MS} ms`));
    }, WORKER_DEADLINE_MS);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const results = stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ShimResult);
      resolve({ code, results, stderr });
    });
    child.stdin.end(JSON.stringify(job));
  });
}

describe("concurrency on a lab host", function () {
  this.timeout(600_000);
  let host: LabHost;
  let hostBefore: string;

  before(async function () {
    this.timeout(600_000);
    host = (await lab()).hosts[0];
  });

  beforeEach(async () => {
    hostBefore = await snapshotHost(host);
  });

  afterEach(async () => {
    // Whatever a failed test left: this run's links, then its network.
    for (const name of (await ourLinks(host)).keys()) await host.exec(["ip", "link", "delete", "dev", name], { allowFail: true });
    await host.docker(["network", "rm", `${PREFIX}net`], { allowFail: true });
  });

  /** Figures for one case: failures, races after create, and the host's final state against its first. */
  async function record(label: string, failures: string[], raceList: string[]): Promise<void> {
    const leftovers = [...(await ourLinks(host)).keys()];
    const exact = leftovers.length === 0 && (await snapshotHost(host)) === hostBefore;
    recordFigure({ group: "concurrency", name: `${label}: failures`, value: failures.length, target: "0", ok: failures.length === 0 });
    recordFigure({
      group: "concurrency",
      name: `${label}: races (host vs declared state, ip -j)`,
      value: raceList.length,
      target: "0",
      ok: raceList.length === 0,
    });
    recordFigure({
      group: "concurrency",
      name: `${label}: final state`,
      value: exact ? "exact" : `${leftovers.length} links left, host differs`,
      target: "exact (as before)",
      ok: exact,
    });
    assert.deepEqual(failures, []);
    assert.deepEqual(raceList, []);
    assert.ok(exact, `the host did not end as it began; left: ${leftovers.join(", ")}`);
  }

  async function createAll(specs: ShimSpec[], failures: string[]): Promise<Map<string, HostShimState>> {
    const declared = new Map<string, HostShimState>();
    await Promise.all(
      specs.map(async (spec) => {
        try {
          const checked = await hostShimProvider.check({}, { connection: connectionFor(host), parent: host.lanParent, ...spec });
          assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
          const created = await hostShimProvider.create(checked.inputs);
          declared.set(spec.name, created.outs as HostShimState);
        } catch (err) {
          failures.push(`create ${spec.name}: ${String(err)}`);
        }
      }),
    );
    return declared;
  }

  async function deleteAll(declared: Map<string, HostShimState>, failures: string[]): Promise<void> {
    await Promise.all(
      [...declared].map(([name, outs]) =>
        hostShimProvider.delete(name, outs).catch((err: unknown) => {
          failures.push(`delete ${name}: ${String(err)}`);
        }),
      ),
    );
  }

  it("30 HostShims on one parent, created and then deleted all at once (one process)", async () => {
    const specs = shims(30, 100, "s", (i) => `203.0.113.${128 + i}/32`);
    const failures: string[] = [];
    const declared = await createAll(specs, failures);
    const raceList = races(await ourLinks(host), declared, specs, host.lanParent);
    await deleteAll(declared, failures);
    await record("30 HostShims on one parent, created then deleted in parallel (1 process)", failures, raceList);
  });

  it("a macvlan network and 5 shims on its parent, created and deleted all at once", async () => {
    const network = `${PREFIX}net`;
    const specs = shims(5, 200, "n", (i) => `198.51.100.${208 + i}/32`);
    const failures: string[] = [];
    const networkInputs = {
      connection: connectionFor(host),
      name: network,
      parent: host.lanParent,
      subnet: "198.51.100.0/24",
      gateway: "198.51.100.1",
      ipRange: "198.51.100.208/28",
      auxAddresses: Object.fromEntries(specs.map((s) => [s.name, s.address.replace("/32", "")])),
    };
    const checked = await macvlanNetworkProvider.check({}, networkInputs);
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    let networkState: { id: string; outs?: unknown } | undefined;
    const [, declared] = await Promise.all([
      macvlanNetworkProvider.create(checked.inputs).then(
        (created) => {
          networkState = created;
        },
        (err: unknown) => {
          failures.push(`create ${network}: ${String(err)}`);
        },
      ),
      createAll(specs, failures),
    ]);
    const raceList = races(await ourLinks(host), declared, specs, host.lanParent);
    const inspected = JSON.parse((await host.docker(["network", "inspect", network])).stdout)[0];
    const ipam = inspected.IPAM.Config[0];
    const seen = [
      inspected.Driver,
      inspected.Options.parent,
      ipam.Subnet,
      ipam.Gateway,
      ipam.IPRange,
      JSON.stringify(ipam.AuxiliaryAddresses),
    ];
    const want = [
      "macvlan",
      host.lanParent,
      "198.51.100.0/24",
      "198.51.100.1",
      "198.51.100.208/28",
      JSON.stringify(networkInputs.auxAddresses),
    ];
    seen.forEach((v, i) => {
      if (v !== want[i]) raceList.push(`${network}: ${v}, expected ${want[i]}`);
    });
    await Promise.all([
      networkState
        ? macvlanNetworkProvider.delete(networkState.id, networkState.outs as never).catch((err: unknown) => {
            failures.push(`delete ${network}: ${String(err)}`);
          })
        : undefined,
      deleteAll(declared, failures),
    ]);
    await record("a macvlan network and 5 shims on its parent, at once", failures, raceList);
  });

  it("2 provider processes creating and then deleting 15 shims each at the same time", async () => {
    const specs = shims(30, 130, "p", (i) => `203.0.113.${160 + i}/32`);
    const halves = [specs.slice(0, 15), specs.slice(15)];
    const connection = connectionFor(host);
    const failures: string[] = [];
    const created = await Promise.all(
      halves.map((half) => inWorker({ op: "create", connection, shims: half.map((s) => ({ ...s, parent: host.lanParent })) })),
    );
    const declared = new Map<string, HostShimState>();
    for (const [i, run] of created.entries()) {
      if (run.code !== 0) failures.push(`create worker ${i} exited ${run.code}: ${run.stderr.slice(0, 500)}`);
      for (const r of run.results) {
        if (r.ok && r.outs) declared.set(r.name, { ...r.outs, connection } as unknown as HostShimState);
        else failures.push(`create ${r.name}: ${r.error}`);
      }
    }
    const raceList = races(await ourLinks(host), declared, specs, host.lanParent);
    const states = [...declared.values()].map(({ connection: _, ...outs }) => outs as Record<string, unknown>);
    const byHalf = halves.map((half) => states.filter((s) => half.some((h) => h.name === s.name)));
    const deleted = await Promise.all(byHalf.map((half) => inWorker({ op: "delete", connection, shims: half })));
    for (const [i, run] of deleted.entries()) {
      if (run.code !== 0) failures.push(`delete worker ${i} exited ${run.code}: ${run.stderr.slice(0, 500)}`);
      for (const r of run.results) if (!r.ok) failures.push(`delete ${r.name}: ${r.error}`);
    }
    await record("2 processes x 15 HostShims on one parent, created then deleted at once", failures, raceList);
  });

  it("2 provider processes asking for the same 15 shims at once: each made once, the other ask refused as taken", async () => {
    const specs = shims(15, 170, "q", (i) => `203.0.113.${200 + i}/32`);
    const connection = connectionFor(host);
    const job: ShimJob = { op: "create", connection, shims: specs.map((s) => ({ ...s, parent: host.lanParent })) };
    const runs = await Promise.all([inWorker(job), inWorker(job)]);
    const failures: string[] = [];
    const declared = new Map<string, HostShimState>();
    for (const [i, run] of runs.entries()) if (run.code !== 0) failures.push(`worker ${i} exited ${run.code}: ${run.stderr.slice(0, 500)}`);
    for (const spec of specs) {
      const asks = runs.map((run) => run.results.find((r) => r.name === spec.name));
      const made = asks.filter((r) => r?.ok);
      // The other ask must be the refusal a taken name gets, not a command failing half-way.
      const refused = asks.filter((r) => r && !r.ok && /^RefusalError: .*already exists/.test(r.error ?? ""));
      if (made.length !== 1 || refused.length !== 1) {
        failures.push(`${spec.name}: ${asks.map((r) => (r ? (r.ok ? "made" : String(r.error).slice(0, 200)) : "no result")).join(" | ")}`);
      }
      if (made[0]?.outs) declared.set(spec.name, { ...made[0].outs, connection } as unknown as HostShimState);
    }
    const raceList = races(await ourLinks(host), declared, specs, host.lanParent);
    await deleteAll(declared, failures);
    await record("2 processes asking for the same 15 HostShims at once (one made, one refused)", failures, raceList);
  });
});
