// The examples that need a full kernel (802.1q VLANs, ipvlan, dummy links) or a newer Docker,
// run by the real engine on the VM lab: `up`, a `preview` with no change, the example's point
// proven on the host and from the LAN's external device, `destroy` back to the host's first
// state. Runs inside the VM suite so it shares its VM.

import { strict as assert } from "node:assert";
import type { ConfigMap, OutputMap } from "@pulumi/pulumi/automation";
import { lab } from "../../integration/fixture";
import type { Lab, LabHost } from "../../lab/types";
import { eventually } from "../../support/eventually";
import { changesIn, type EngineStack, NetworkCanary } from "../engine";
import { refusedExample, runExample } from "../example";

describe("examples under the real engine on a VM", function () {
  this.timeout(1_200_000);
  let theLab: Lab;
  let host: LabHost;
  const canary = new NetworkCanary();
  /** Commands that undo what a test added to the external device. */
  const extUndo: string[][] = [];

  before(async function () {
    this.timeout(900_000);
    theLab = await lab();
    host = theLab.hosts[0];
    await canary.start();
  });

  after(async function () {
    this.timeout(120_000);
    await canary.stop();
  });

  afterEach(async () => {
    for (const argv of extUndo.splice(0).reverse()) await theLab.lan.external.exec(argv, { allowFail: true });
  });

  const connectionConfig = (): ConfigMap => ({
    "underlay:host": { value: host.ssh.host },
    "underlay:port": { value: String(host.ssh.port) },
    "underlay:user": { value: host.ssh.user },
    "underlay:privateKey": { value: host.ssh.privateKey, secret: true },
    "underlay:hostKey": { value: host.ssh.hostPublicKey },
  });

  const runOnVm = (program: string, extra: ConfigMap, prove: (outputs: OutputMap, es: EngineStack) => Promise<void>) =>
    runExample({ program, config: { ...connectionConfig(), ...extra }, canary, hosts: [host], prove });

  /** A container on `network` at `ip`, removed after `body`. */
  async function withContainer(name: string, network: string, ip: string, body: () => Promise<void>): Promise<void> {
    await host.docker(["run", "-d", "--name", name, "--network", network, "--ip", ip, theLab.image, "sleep", "900"]);
    try {
      await body();
    } finally {
      await host.docker(["rm", "-f", name], { allowFail: true });
    }
  }

  const ping = (container: string, ip: string) => host.docker(["exec", container, "ping", "-c", "1", "-W", "2", ip]);
  const arping = (container: string, ip: string) =>
    host.docker(["exec", container, "busybox", "arping", "-c", "2", "-w", "3", "-I", "eth0", ip], { allowFail: true });

  async function extVlan(vlanId: number, cidr: string): Promise<void> {
    const dev = `eth2.${vlanId}`;
    await theLab.lan.external.exec(["ip", "link", "add", "link", "eth2", "name", dev, "type", "vlan", "id", String(vlanId)]);
    extUndo.push(["ip", "link", "delete", "dev", dev]);
    await theLab.lan.external.exec(["ip", "address", "add", cidr, "dev", dev]);
    await theLab.lan.external.exec(["ip", "link", "set", "dev", dev, "up"]);
  }

  it("vlan-trunk: containers on VLAN 50 reach the peer tagged 50, and nothing on VLAN 60", async () => {
    await extVlan(50, "203.0.113.1/26");
    await extVlan(60, "203.0.113.65/26");
    await runOnVm("examples/vlan-trunk", {}, async (outputs) => {
      assert.deepEqual(outputs.links.value, { 50: "eth1.50", 60: "eth1.60" });
      const [link] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", "eth1.50"])).stdout);
      assert.equal(link.linkinfo.info_data.id, 50);
      await withContainer("vt-50", "vlan50", "203.0.113.10", async () => {
        await withContainer("vt-60", "vlan60", "203.0.113.70", async () => {
          await eventually(() => ping("vt-50", "203.0.113.1"), 30_000);
          await eventually(() => ping("vt-60", "203.0.113.65"), 30_000);
          assert.notEqual((await arping("vt-50", "203.0.113.70")).code, 0, "a VLAN 60 container answered ARP on VLAN 50");
        });
      });
    });
  });

  it("docker-managed-vlan: Docker makes eth1.70 for the network and deletes it with the network", async () => {
    await extVlan(70, "203.0.113.129/26");
    await runOnVm("examples/docker-managed-vlan", {}, async (outputs) => {
      assert.equal(outputs.parent.value, "eth1.70");
      const [link] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", "eth1.70"])).stdout);
      assert.equal(link.linkinfo.info_kind, "vlan");
      assert.equal(link.linkinfo.info_data.id, 70);
      await withContainer("dmv", outputs.networkName.value as string, "203.0.113.140", async () => {
        await eventually(() => ping("dmv", "203.0.113.129"), 30_000);
      });
    });
    // destroy's snapshot comparison has already shown eth1.70 gone.
  });

  it("ipvlan-l2: a container shares the parent's MAC address and reaches the LAN", async () => {
    await runOnVm("examples/ipvlan-l2", {}, async (outputs) => {
      assert.equal(outputs.mode.value, "l2");
      const parentMac = JSON.parse((await host.exec(["ip", "-j", "link", "show", "dev", host.lanParent])).stdout)[0].address;
      await withContainer("ipl2", outputs.networkName.value as string, "198.51.100.200", async () => {
        const mac = (await host.docker(["exec", "ipl2", "cat", "/sys/class/net/eth0/address"])).stdout.trim();
        assert.equal(mac, parentMac);
        await eventually(() => ping("ipl2", theLab.lan.external.address), 30_000);
      });
    });
  });

  it("ipvlan-l3 in l3s mode: two subnets, no gateway; the exported route lets the LAN reach a container", async () => {
    const hostAddress = host.lanAddress.split("/")[0];
    await runOnVm(
      "examples/ipvlan-l3",
      { "underlay:hostAddress": { value: hostAddress }, "underlay:mode": { value: "l3s" } },
      async (outputs) => {
        assert.equal(outputs.mode.value, "l3s");
        const routes = outputs.upstreamRoutes.value as { destination: string; via: string }[];
        assert.deepEqual(routes, [
          { destination: "203.0.113.0/26", via: hostAddress },
          { destination: "203.0.113.64/26", via: hostAddress },
        ]);
        const inspected = JSON.parse((await host.docker(["network", "inspect", outputs.networkName.value as string])).stdout)[0];
        assert.equal(inspected.Options.ipvlan_mode, "l3s");
        assert.ok(
          inspected.IPAM.Config.every((c: { Gateway?: string }) => !c.Gateway || c.Gateway === ""),
          JSON.stringify(inspected.IPAM.Config),
        );
        for (const r of routes) {
          await theLab.lan.external.exec(["ip", "route", "add", r.destination, "via", r.via]);
          extUndo.push(["ip", "route", "del", r.destination]);
        }
        await withContainer("ipl3a", outputs.networkName.value as string, "203.0.113.10", async () => {
          await withContainer("ipl3b", outputs.networkName.value as string, "203.0.113.70", async () => {
            await eventually(() => theLab.lan.external.exec(["ping", "-c", "1", "-W", "2", "203.0.113.10"]), 30_000);
            await eventually(() => ping("ipl3a", "203.0.113.70"), 30_000);
          });
        });
      },
    );
  });

  it("internal: no parent; Docker's dummy link exists only with the network, containers reach only each other, refresh shows no drift", async () => {
    await runOnVm("examples/internal", {}, async (outputs, es) => {
      const id = outputs.networkId.value as string;
      const dummy = `dm-${id.slice(0, 12)}`;
      const [link] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", dummy])).stdout);
      assert.equal(link.linkinfo.info_kind, "dummy");
      const refresh = await es.stack.refresh({ onOutput: (s) => es.output.push(s) });
      assert.deepEqual(changesIn(refresh.summary.resourceChanges), {}, "refresh found drift");
      const network = outputs.networkName.value as string;
      await withContainer("int-a", network, "203.0.113.200", async () => {
        await withContainer("int-b", network, "203.0.113.201", async () => {
          await eventually(() => ping("int-a", "203.0.113.201"), 30_000);
          const out = await host.docker(["exec", "int-a", "ping", "-c", "1", "-W", "2", theLab.lan.external.address], { allowFail: true });
          assert.notEqual(out.code, 0, "a container on an internal network reached the LAN");
        });
      });
    });
  });

  it("ipv6-only: refused on the VM's Docker 26 with the version it needs (26.1 still adds an IPv4 pool), the host unchanged", async () => {
    await refusedExample({
      program: "examples/ipv6-only",
      config: connectionConfig(),
      canary,
      hosts: [host],
      message: /an IPv6-only network needs Docker 28\.0 or later; the host runs Docker 26\./,
    });
  });
});
