// `npm run bench`: prints speed and memory figures; asserts nothing (targets live here, not in
// timed tests). With BENCH_LAB=1 (as root) it also starts a lab host and measures the SSH
// transport: a fresh connection against a pooled one.

import { performance } from "node:perf_hooks";
import { ed25519KeyPair } from "../test/support/keys";
import { toRemoteCommand } from "../provider/host/command";
import { ConnectionSchema } from "../provider/ssh/connection";
import { closeAllSessions, hostSession } from "../provider/ssh/pool";
import { macvlanNetworkProvider } from "../provider/resources/network/macvlan";
import { SAMPLE_LAN } from "../test/support/samples";

function figure(label: string, value: number, unit: string): void {
  console.log(`${label.padEnd(48)} ${value.toFixed(value < 10 ? 3 : 1).padStart(12)} ${unit}`);
}

async function timePerOp(iterations: number, op: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(200, iterations); i++) await op();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await op();
  return ((performance.now() - start) * 1000) / iterations;
}

async function pureLogic(): Promise<void> {
  const key = ed25519KeyPair();
  const inputs = {
    connection: { host: "198.51.100.11", privateKey: key.private, hostKey: key.public },
    ...SAMPLE_LAN,
    ipv6: { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1" },
  };
  const checked = (await macvlanNetworkProvider.check({}, inputs)).inputs;
  figure("MacvlanNetwork check() (incl. key parse)", await timePerOp(2000, () => macvlanNetworkProvider.check({}, inputs)), "us/op");
  figure("MacvlanNetwork diff()", await timePerOp(20000, () => macvlanNetworkProvider.diff("id", { ...checked, networkId: "id" }, checked)), "us/op");
  const argv = ["docker", "network", "create", "--label", "it's a label", "--", "lan"];
  figure("argv quoting (7 words)", await timePerOp(100000, () => toRemoteCommand(argv, { sudo: true })), "us/op");

  const before = process.memoryUsage().heapUsed;
  const kept: unknown[] = [];
  for (let i = 0; i < 1000; i++) kept.push(await macvlanNetworkProvider.check({}, inputs));
  figure("heap per checked input (1000 kept)", (process.memoryUsage().heapUsed - before) / 1000 / 1024, "KiB");
  figure("process RSS", process.memoryUsage().rss / 1024 / 1024, "MiB");
}

async function transport(): Promise<void> {
  const { startNetnsLab } = await import("../test/lab/netnsLab");
  const lab = await startNetnsLab({ hosts: 1 });
  try {
    const host = lab.hosts[0];
    const connection = ConnectionSchema.parse({
      host: host.ssh.host,
      port: host.ssh.port,
      privateKey: host.ssh.privateKey,
      hostKey: host.ssh.hostPublicKey,
    });
    const fresh = await timePerOp(10, async () => {
      closeAllSessions();
      await hostSession(connection).run(["true"]);
    });
    figure("command on a fresh SSH connection", fresh / 1000, "ms/op");
    const pooled = await timePerOp(50, () => hostSession(connection).run(["true"]));
    figure("command on the pooled SSH connection", pooled / 1000, "ms/op");
    const inspect = await timePerOp(20, () => hostSession(connection).run(["docker", "network", "ls"]));
    figure("`docker network ls` over the pooled connection", inspect / 1000, "ms/op");
  } finally {
    closeAllSessions();
    await lab.stop();
  }
}

async function main(): Promise<void> {
  await pureLogic();
  if (process.env.BENCH_LAB === "1") await transport();
  else console.log("(set BENCH_LAB=1 and run as root to measure the SSH transport against a lab host)");
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
