// One run of the provider as Pulumi drives it, in a process of its own (so its pool starts
// empty and its peak memory is its own): every resource in this process, each phase issued
// all at once: create N networks on each host, read (refresh) them, delete them. Prints one
// JSON line with the phase times, the round trips and the peak RSS.
//
// Input (argv[2], JSON): { hosts: [{ connection, parents: string[], subnets: string[] }], prefix }

import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { macvlanNetworkProvider as provider } from "../provider/resources/network/macvlan";
import { closeAllSessions, sessionStats } from "../provider/ssh/pool";

interface HostPlan {
  connection: Record<string, unknown>;
  parents: string[];
  subnets: string[];
}

export interface DriveResult {
  createMs: number;
  readMs: number;
  deleteMs: number;
  /** Remote round trips (commands + Docker API requests) per phase, all hosts together. */
  roundTrips: { create: number; read: number; delete: number };
  handshakes: number;
  maxRssMiB: number;
  /** CPU time (user + system) of this process over the three phases. */
  cpuMs: number;
  /** CPU time the whole machine (every core, every process) spent over the three phases. */
  machineBusyMs: number;
  driftAfterRead: number;
}

function roundTrips(): number {
  return sessionStats().reduce((sum, s) => sum + s.commands + s.dockerRequests, 0);
}

// Busy CPU time of the whole machine so far, every core (/proc/stat; USER_HZ is 100 on Linux).
async function machineBusyMs(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0];
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) * 10;
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2]) as { hosts: HostPlan[]; prefix: string };
  const inputs = await Promise.all(
    plan.hosts.flatMap((h, hi) =>
      h.parents.map(async (parent, i) => {
        const checked = await provider.check(
          {},
          { connection: h.connection, name: `${plan.prefix}${hi}x${i}`, parent, subnet: h.subnets[i] },
        );
        if (checked.failures?.length) throw new Error(JSON.stringify(checked.failures));
        return checked.inputs;
      }),
    ),
  );

  const cpuBefore = process.cpuUsage();
  const busyBefore = await machineBusyMs();
  let t = performance.now();
  let trips = roundTrips();
  const created = await Promise.all(inputs.map((i) => provider.create(i)));
  const createMs = performance.now() - t;
  const createTrips = roundTrips() - trips;

  t = performance.now();
  trips = roundTrips();
  const read = await Promise.all(created.map((c) => provider.read!(c.id, c.outs!)));
  const readMs = performance.now() - t;
  const readTrips = roundTrips() - trips;
  const diffs = await Promise.all(read.map((r, i) => provider.diff!(r.id ?? "", r.props ?? {}, inputs[i])));

  t = performance.now();
  trips = roundTrips();
  await Promise.all(created.map((c) => provider.delete!(c.id, c.outs!)));
  const deleteMs = performance.now() - t;
  const deleteTrips = roundTrips() - trips;
  const machineBusy = (await machineBusyMs()) - busyBefore;

  const result: DriveResult = {
    createMs,
    readMs,
    deleteMs,
    roundTrips: { create: createTrips, read: readTrips, delete: deleteTrips },
    handshakes: sessionStats().reduce((sum, s) => sum + s.handshakes, 0),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    cpuMs: ((c) => (c.user + c.system) / 1000)(process.cpuUsage(cpuBefore)),
    machineBusyMs: machineBusy,
    driftAfterRead: diffs.filter((d) => d.changes).length + read.filter((r) => r.id === undefined).length,
  };
  closeAllSessions();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
