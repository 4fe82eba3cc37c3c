// The examples as a user runs them: each program under examples/ through the real engine
// against a netns lab host. `up`, a `preview` that shows no change, the example's point proven
// on the host, and `destroy` back to the host's first state.

import { strict as assert } from "node:assert";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { snapshotHost } from "../integration/fixture";
import { type LanSshd, startLanSshd } from "../lab/lanSshd";
import { type NetnsLab, startNetnsLab } from "../lab/netnsLab";
import type { LabHost } from "../lab/types";
import { eventually } from "../support/eventually";
import { changesIn, type EngineStack, NetworkCanary, openStack } from "./engine";
import { refusedExample, runExample } from "./example";

describe("examples under the real engine", function () {
  this.timeout(900_000);
  let lab: NetnsLab;
  let host: LabHost;
  const canary = new NetworkCanary();

  before(async function () {
    this.timeout(600_000);
    lab = await startNetnsLab({ hosts: 2 });
    host = lab.hosts[0];
    await canary.start();
  });

  after(async function () {
    this.timeout(300_000);
    await canary.stop();
    await lab?.stop();
  });

  /** The connection config every example reads, for lab host h. */
  const connectionConfig = (h: LabHost): ConfigMap => ({
    "underlay:host": { value: h.ssh.host },
    "underlay:port": { value: String(h.ssh.port) },
    "underlay:privateKey": { value: h.ssh.privateKey, secret: true },
    "underlay:hostKey": { value: h.ssh.hostPublicKey },
  });

  /** A container on `network` with fixed addresses, removed after `body`. */
  async function withContainer(h: LabHost, name: string, network: string, addresses: string[], body: () => Promise<void>): Promise<void> {
    const flags = addresses.flatMap((a) => (a.includes(":") ? ["--ip6", a] : ["--ip", a]));
    await h.docker(["run", "-d", "--name", name, "--network", network, ...flags, lab.image, "sleep", "600"]);
    try {
      await body();
    } finally {
      await h.docker(["rm", "-f", name], { allowFail: true });
    }
  }

  it("dual-stack: a container gets an address of each family and reaches the LAN over both", async () => {
    await lab.lan.external.exec(["ip", "address", "add", "fd18:0:0:51::1/64", "dev", "eth0", "nodad"]);
    try {
      await runExample({
        program: "examples/dual-stack",
        config: connectionConfig(host),
        canary,
        hosts: [host],
        prove: async (outputs) => {
          assert.equal(outputs.ipv6Subnet.value, "fd18:0:0:51::/64");
          const network = outputs.networkName.value as string;
          const inspected = JSON.parse((await host.docker(["network", "inspect", network])).stdout)[0];
          assert.equal(inspected.EnableIPv6, true);
          assert.deepEqual(inspected.IPAM.Config.map((c: { Subnet: string }) => c.Subnet).sort(), ["198.51.100.0/24", "fd18:0:0:51::/64"]);
          await withContainer(host, "ds-app", network, ["198.51.100.161", "fd18:0:0:51:1::5"], async () => {
            await eventually(
              () => host.docker(["exec", "ds-app", "ping", "-c", "1", "-W", "1", lab.lan.external.address]).then(() => undefined),
              30_000,
            );
            await eventually(
              () => host.docker(["exec", "ds-app", "ping", "-6", "-c", "1", "-W", "1", "fd18:0:0:51::1"]).then(() => undefined),
              30_000,
            );
          });
        },
      });
    } finally {
      await lab.lan.external.exec(["ip", "address", "del", "fd18:0:0:51::1/64", "dev", "eth0"], { allowFail: true });
    }
  });

  it("ipv6-only: refused on this lab's Docker 20.10 with the version it needs, the host unchanged", async () => {
    await refusedExample({
      program: "examples/ipv6-only",
      config: connectionConfig(host),
      canary,
      hosts: [host],
      message: /an IPv6-only network needs Docker 28\.0 or later; the host runs Docker 20\.10/,
    });
  });

  it("multi-host: the same underlay on two hosts reached only through a bastion, each reaching its own container", async () => {
    const lanSshds: LanSshd[] = [];
    try {
      for (const i of [0, 1]) lanSshds.push(await startLanSshd(lab, i));
      const hosts = lab.hosts.slice(0, 2).map((h, i) => ({
        name: h.name,
        host: lanSshds[i].address,
        hostKey: h.ssh.hostPublicKey,
        ipRange: `198.51.100.${128 + 32 * i}/27`,
        shimAddress: `198.51.100.${240 + i}`,
      }));
      // The hosts' keys differ; the lab's authorized_keys of each host takes its own key, so
      // each host's key is added to the other's file for this test.
      const config: ConfigMap = {
        "underlay:hosts": { value: JSON.stringify(hosts) },
        "underlay:bastion": {
          value: JSON.stringify({ host: lab.hosts[0].ssh.host, port: lab.hosts[0].ssh.port, hostKey: lab.hosts[0].ssh.hostPublicKey }),
        },
        "underlay:privateKey": { value: lab.hosts[1].ssh.privateKey, secret: true },
        "underlay:bastionKey": { value: lab.hosts[0].ssh.privateKey, secret: true },
      };
      await authorizeOn(0, lab.hosts[1]);
      await runExample({
        program: "examples/multi-host",
        config,
        canary,
        hosts: lab.hosts.slice(0, 2),
        prove: async (outputs) => {
          const shims = outputs.shims.value as Record<string, string>;
          for (const [i, h] of lab.hosts.slice(0, 2).entries()) {
            const ip = `198.51.100.${130 + 32 * i}`;
            await withContainer(h, `mh-app-${i}`, "lan", [ip], async () => {
              await eventually(() => h.exec(["ping", "-c", "1", "-W", "1", ip]).then(() => undefined), 30_000);
              assert.match((await h.exec(["ip", "route", "get", ip])).stdout, new RegExp(`dev ${shims[h.name]} `));
            });
          }
        },
      });
    } finally {
      for (const d of lanSshds) d.stop();
    }
  });

  /** Lets `who`'s lab key log in to host i as well (restored by the lab's teardown). */
  async function authorizeOn(i: number, who: LabHost): Promise<void> {
    const pub = (await who.exec(["ssh-keygen", "-y", "-f", `${lab.dir}/${who.name}/id_ed25519`])).stdout.trim();
    const file = `${lab.dir}/h${i + 1}/authorized_keys`;
    const fs = await import("node:fs/promises");
    const text = await fs.readFile(file, "utf8");
    if (!text.includes(pub)) await fs.appendFile(file, `${pub}\n`);
  }

  it("quickstart: the lab host reaches a container on the macvlan network through the shim", async () => {
    const before = await snapshotHost(host);
    let es: EngineStack | undefined;
    try {
      es = await openStack({
        program: "examples/quickstart",
        canary,
        config: {
          "underlay:host": { value: host.ssh.host },
          "underlay:port": { value: String(host.ssh.port) },
          "underlay:privateKey": { value: host.ssh.privateKey, secret: true },
          "underlay:hostKey": { value: host.ssh.hostPublicKey },
          "underlay:parent": { value: host.lanParent },
          "underlay:subnet": { value: "198.51.100.0/24" },
          "underlay:gateway": { value: "198.51.100.1" },
          "underlay:ipRange": { value: "198.51.100.128/26" },
          "underlay:shimAddress": { value: "198.51.100.250" },
          "underlay:containerIp": { value: "198.51.100.130" },
          "underlay:image": { value: lab.image },
        },
      });
      const up = await es.stack.up({ onOutput: (s) => es?.output.push(s) });
      assert.equal(up.summary.result, "succeeded");
      const network = up.outputs.networkName.value as string;
      const preview = await es.stack.preview({ onOutput: (s) => es?.output.push(s) });
      assert.deepEqual(changesIn(preview.changeSummary), {});

      // No @pulumi/docker plugin can be built here (tools/engine/build.sh says why), so the
      // container the example would declare is started beside the stack.
      await host.docker(["run", "-d", "--name", "qs-app", "--network", network, "--ip", "198.51.100.130", lab.image, "sleep", "600"]);
      try {
        await eventually(async () => {
          await host.exec(["ping", "-c", "1", "-W", "1", "198.51.100.130"]);
        }, 30_000);
        const route = (await host.exec(["ip", "route", "get", "198.51.100.130"])).stdout;
        assert.match(route, new RegExp(`dev ${up.outputs.shimInterface.value as string} `));
      } finally {
        await host.docker(["rm", "-f", "qs-app"], { allowFail: true });
      }

      const down = await es.stack.destroy({ onOutput: (s) => es?.output.push(s) });
      assert.equal(down.summary.result, "succeeded");
      assert.equal(await snapshotHost(host), before);
      assert.deepEqual(canary.attempts, []);
    } finally {
      await es?.stack.destroy().catch(() => undefined);
      await es?.remove();
    }
  });
});
