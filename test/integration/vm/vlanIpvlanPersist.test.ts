// VLANs, ipvlan, dual stack and persistence across a reboot. These need a full kernel (the
// machine's own has no 802.1q and no ipvlan), so they run only against VM lab hosts
// (LAB_KIND=vm) and fail loudly anywhere else. Every assertion reads the VM's real state.

import { strict as assert } from "node:assert";
import { hostShimProvider } from "../../../provider/resources/link/hostShim";
import { vlanSubinterfaceProvider } from "../../../provider/resources/link/vlanSubinterface";
import { ipvlanNetworkProvider } from "../../../provider/resources/network/ipvlan";
import { macvlanNetworkProvider } from "../../../provider/resources/network/macvlan";
import { closeAllSessions } from "../../../provider/ssh/pool";
import type { ExecResult, Lab, LabHost } from "../../lab/types";
import { eventually } from "../../support/eventually";
import { assertReadsBackAsAsked, connectionFor, lab, refused, uniqueName } from "../fixture";

type Provider = {
  check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ inputs?: Record<string, unknown>; failures?: unknown[] }>;
  create(inputs: Record<string, unknown>): Promise<{ id: string; outs?: unknown }>;
  read(id: string, props: never): Promise<{ id?: string; props?: unknown }>;
  diff(id: string, olds: object, news: object): Promise<{ changes?: boolean }>;
};

interface Made {
  id: string;
  inputs: Record<string, unknown>;
  outs: Record<string, unknown>;
}

async function make(provider: Provider, raw: Record<string, unknown>): Promise<Made> {
  const checked = await provider.check({}, raw);
  assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
  assert.ok(checked.inputs);
  const created = await provider.create(checked.inputs);
  await assertReadsBackAsAsked(provider as never, created.id, created.outs as object, checked.inputs);
  return { id: created.id, inputs: checked.inputs, outs: created.outs as Record<string, unknown> };
}

/** `check` comes true within `ms` (polled by the shared eventually()), or the test fails naming `what`. */
function becomes(what: string, check: () => Promise<boolean>, ms = 15_000, pollMs?: number): Promise<void> {
  return eventually(async () => assert.ok(await check(), `${what}: still not true after ${ms} ms`), ms, pollMs);
}

const ok = (r: ExecResult) => r.code === 0;

describe("VLANs, ipvlan and persistence on a full-kernel VM host", function () {
  this.timeout(900_000);
  let theLab: Lab;
  let host: LabHost;
  const containers: string[] = [];
  const networks: string[] = [];
  const links: string[] = [];
  const extCommands: string[][] = [];

  before(async function () {
    this.timeout(1_200_000);
    theLab = await lab();
    if (theLab.kind !== "vm") {
      throw new Error(`these tests need a full-kernel VM lab host (LAB_KIND=vm); this lab is "${theLab.kind}"`);
    }
    host = theLab.hosts[0];
  });

  afterEach(async () => {
    for (const c of containers.splice(0)) await host.docker(["rm", "-f", c], { allowFail: true });
    for (const n of networks.splice(0)) await host.docker(["network", "rm", n], { allowFail: true });
    for (const l of links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
    for (const argv of extCommands.splice(0)) await theLab.lan.external.exec(argv, { allowFail: true });
    // Persistence files of every test, whatever state it ended in.
    await host.exec(
      [
        "sh",
        "-c",
        'rm -f /etc/systemd/network/60-underlay-* /etc/systemd/network/*.d/60-underlay-*; for u in /etc/systemd/system/underlay-link-*.service; do [ -e "$u" ] && systemctl disable "$(basename "$u")"; rm -f "$u"; done; systemctl daemon-reload',
      ],
      { allowFail: true },
    );
    closeAllSessions();
  });

  const conn = () => connectionFor(host);

  async function vlan(vlanId: number, extra: Record<string, unknown> = {}): Promise<Made> {
    links.push(`${host.lanParent}.${vlanId}`);
    return make(vlanSubinterfaceProvider, { connection: conn(), parent: host.lanParent, vlanId, persist: false, ...extra });
  }

  async function network(provider: Provider, raw: Record<string, unknown>): Promise<Made> {
    const name = uniqueName("vn");
    networks.push(name);
    return make(provider, { connection: conn(), name, ...raw });
  }

  async function run(networkName: string, ip: string, extra: string[] = []): Promise<string> {
    const name = uniqueName("vc");
    containers.push(name);
    await host.docker(["run", "-d", "--name", name, "--network", networkName, "--ip", ip, ...extra, theLab.image, "sleep", "900"]);
    return name;
  }

  async function extVlan(vlanId: number, cidr: string): Promise<void> {
    const dev = `eth2.${vlanId}`;
    extCommands.push(["ip", "link", "delete", "dev", dev]);
    await theLab.lan.external.exec(["ip", "link", "add", "link", "eth2", "name", dev, "type", "vlan", "id", String(vlanId)]);
    await theLab.lan.external.exec(["ip", "address", "add", cidr, "dev", dev]);
    await theLab.lan.external.exec(["ip", "link", "set", "dev", dev, "up"]);
  }

  const pingFrom = (container: string, ip: string) =>
    host.docker(["exec", container, "ping", "-c", "1", "-W", "2", ip], { allowFail: true });
  // ARP answers ignore IP subnets, so a reply proves a shared L2 segment and silence its absence.
  const arpFrom = (container: string, ip: string) =>
    host.docker(["exec", container, "busybox", "arping", "-c", "2", "-w", "3", "-I", "eth0", ip], { allowFail: true });

  it("isolates VLAN 50 from VLAN 60: same-VLAN containers and the tagged peer reach each other, others do not", async () => {
    const v50 = await vlan(50);
    const v60 = await vlan(60);
    const [l50] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", "eth1.50"])).stdout);
    assert.equal(l50.linkinfo.info_kind, "vlan");
    assert.equal(l50.linkinfo.info_data.id, 50);
    assert.equal(l50.link, host.lanParent);
    assert.ok(l50.flags.includes("UP"));
    assert.equal(v50.outs.name, "eth1.50");

    const n50 = await network(macvlanNetworkProvider, { parent: v50.outs.name, subnet: "203.0.113.0/26", gateway: "203.0.113.1" });
    const n60 = await network(macvlanNetworkProvider, { parent: v60.outs.name, subnet: "203.0.113.64/26", gateway: "203.0.113.65" });
    await extVlan(50, "203.0.113.1/26");
    await extVlan(60, "203.0.113.65/26");

    const a50 = await run(n50.inputs.name as string, "203.0.113.10");
    await run(n50.inputs.name as string, "203.0.113.11");
    const a60 = await run(n60.inputs.name as string, "203.0.113.70");

    assert.ok(ok(await pingFrom(a50, "203.0.113.11")), "containers on VLAN 50 cannot reach each other");
    assert.ok(ok(await pingFrom(a50, "203.0.113.1")), "a VLAN 50 container cannot reach the peer tagged 50");
    assert.ok(ok(await pingFrom(a60, "203.0.113.65")), "a VLAN 60 container cannot reach the peer tagged 60");
    assert.ok(ok(await arpFrom(a50, "203.0.113.11")), "ARP does not work inside VLAN 50");
    assert.ok(!ok(await arpFrom(a50, "203.0.113.70")), "a VLAN 60 container answered ARP on VLAN 50: the VLANs leak");
    // Container to container both ways (the peer's namespace answers ARP for all its addresses on
    // any of its interfaces, so it cannot show a leak).
    assert.ok(!ok(await arpFrom(a60, "203.0.113.10")), "a VLAN 50 container answered ARP on VLAN 60: the VLANs leak");
    assert.ok(!ok(await pingFrom(a50, "203.0.113.70")), "a VLAN 50 container reached a VLAN 60 container");
  });

  it("leaves a VLAN link it did not create when Docker deletes a network on it, and refuses to delete the link while it is a parent", async () => {
    const v80 = await vlan(80);
    const net = await network(macvlanNetworkProvider, { parent: v80.outs.name, subnet: "203.0.113.128/26" });
    await assert.rejects(
      vlanSubinterfaceProvider.delete(v80.id, v80.outs as never),
      refused("inUse", [net.inputs.name as string], new RegExp(`parent of Docker network\\(s\\) "${net.inputs.name}"`)),
    );
    assert.ok(ok(await host.exec(["ip", "link", "show", "dev", "eth1.80"], { allowFail: true })), "the link was deleted anyway");
    await macvlanNetworkProvider.delete(net.id, net.outs as never);
    assert.ok(
      ok(await host.exec(["ip", "link", "show", "dev", "eth1.80"], { allowFail: true })),
      "Docker deleted a link it did not create",
    );
    await vlanSubinterfaceProvider.delete(v80.id, v80.outs as never);
    assert.ok(!ok(await host.exec(["ip", "link", "show", "dev", "eth1.80"], { allowFail: true })), "the VLAN link is still there");
  });

  it("ipvlan l2: containers get their addresses, reach the external peer, and share the parent's MAC", async () => {
    const net = await network(ipvlanNetworkProvider, {
      parent: host.lanParent,
      subnet: "198.51.100.0/24",
      gateway: "198.51.100.1",
      ipRange: "198.51.100.192/27",
    });
    const inspected = JSON.parse((await host.docker(["network", "inspect", net.inputs.name as string])).stdout)[0];
    assert.equal(inspected.Driver, "ipvlan");
    assert.equal(inspected.Options.parent, host.lanParent);
    assert.equal(inspected.Options.ipvlan_mode ?? "l2", "l2");
    const a = await run(net.inputs.name as string, "198.51.100.200");
    const b = await run(net.inputs.name as string, "198.51.100.201");
    const parentMac = (await host.exec(["cat", `/sys/class/net/${host.lanParent}/address`])).stdout.trim();
    for (const [c, ip] of [
      [a, "198.51.100.200"],
      [b, "198.51.100.201"],
    ]) {
      const addrs = (await host.docker(["exec", c, "ip", "-o", "-4", "addr", "show", "dev", "eth0"])).stdout;
      assert.match(addrs, new RegExp(`${ip.replace(/\./g, "\\.")}/24`));
      const mac = (await host.docker(["exec", c, "cat", "/sys/class/net/eth0/address"])).stdout.trim();
      assert.equal(mac, parentMac, `container ${c} does not share the parent's MAC`);
      assert.ok(ok(await pingFrom(c, theLab.lan.external.address)), `container ${c} cannot reach the external peer`);
    }
  });

  it("ipvlan l3: two subnets on one parent route to each other with no gateway; the peer reaches them via the host", async () => {
    const net = await network(ipvlanNetworkProvider, {
      parent: host.lanParent,
      mode: "l3",
      subnet: "203.0.113.0/27",
      additionalSubnets: [{ subnet: "203.0.113.32/27" }],
    });
    const inspected = JSON.parse((await host.docker(["network", "inspect", net.inputs.name as string])).stdout)[0];
    assert.deepEqual(inspected.IPAM.Config.map((c: { Subnet: string }) => c.Subnet).sort(), ["203.0.113.0/27", "203.0.113.32/27"]);
    assert.equal(inspected.Options.ipvlan_mode, "l3");
    const a = await run(net.inputs.name as string, "203.0.113.10");
    const b = await run(net.inputs.name as string, "203.0.113.40");
    assert.ok(ok(await pingFrom(a, "203.0.113.40")), "l3 subnets do not route to each other");
    assert.ok(ok(await pingFrom(b, "203.0.113.10")), "l3 subnets do not route to each other (back)");
    const hostIp = host.lanAddress.split("/")[0];
    extCommands.push(["ip", "route", "delete", "203.0.113.0/26"]);
    await theLab.lan.external.exec(["ip", "route", "add", "203.0.113.0/26", "via", hostIp]);
    for (const ip of ["203.0.113.10", "203.0.113.40"]) {
      const r = await theLab.lan.external.exec(["ping", "-c", "1", "-W", "2", ip], { allowFail: true });
      assert.ok(ok(r), `the external peer cannot reach ${ip} through the host`);
    }
  });

  it("dual stack: macvlan with an IPv6 subnet; containers get both addresses and ping each other over IPv6", async () => {
    const net = await network(macvlanNetworkProvider, {
      parent: host.lanParent,
      subnet: "198.51.100.0/24",
      gateway: "198.51.100.1",
      ipRange: "198.51.100.128/26",
      ipv6: { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1" },
    });
    const inspected = JSON.parse((await host.docker(["network", "inspect", net.inputs.name as string])).stdout)[0];
    assert.equal(inspected.EnableIPv6, true);
    const a = await run(net.inputs.name as string, "198.51.100.130", ["--ip6", "fd18:0:0:1::130"]);
    const b = await run(net.inputs.name as string, "198.51.100.131", ["--ip6", "fd18:0:0:1::131"]);
    for (const [c, v4, v6] of [
      [a, "198.51.100.130", "fd18:0:0:1::130"],
      [b, "198.51.100.131", "fd18:0:0:1::131"],
    ]) {
      const addrs = (await host.docker(["exec", c, "ip", "-o", "addr", "show", "dev", "eth0"])).stdout;
      assert.ok(addrs.includes(`${v4}/24`), addrs);
      assert.ok(addrs.includes(`${v6}/64`), addrs);
    }
    // Duplicate address detection keeps a new IPv6 address tentative for a moment.
    await becomes("IPv6 ping between the containers", async () => ok(await pingFrom(a, "fd18:0:0:1::131")));
    await becomes("IPv6 ping back", async () => ok(await pingFrom(b, "fd18:0:0:1::130")));
  });

  it("refuses an ipvlan network on a parent that carries a macvlan shim, naming it, and creates nothing", async () => {
    const shimName = uniqueName("vs");
    links.push(shimName);
    await make(hostShimProvider, { connection: conn(), name: shimName, parent: host.lanParent, address: "198.51.100.250/32", routes: [] });
    const name = uniqueName("vn");
    networks.push(name);
    const checked = await ipvlanNetworkProvider.check({}, { connection: conn(), name, parent: host.lanParent, subnet: "203.0.113.0/24" });
    await assert.rejects(
      ipvlanNetworkProvider.create(checked.inputs),
      refused("parentConflict", [shimName], new RegExp(`macvlan interface "${shimName}" .*already sits on parent "${host.lanParent}"`)),
    );
    const names = (await host.docker(["network", "ls", "--format", "{{.Name}}"])).stdout.split("\n");
    assert.ok(!names.includes(name), "the refused ipvlan network exists");
  });

  it("refuses a macvlan shim on a parent that an ipvlan network uses, naming it, and creates nothing", async () => {
    const net = await network(ipvlanNetworkProvider, { parent: host.lanParent, subnet: "203.0.113.0/24" });
    const shimName = uniqueName("vs");
    links.push(shimName);
    const checked = await hostShimProvider.check(
      {},
      { connection: conn(), name: shimName, parent: host.lanParent, address: "203.0.113.250/32" },
    );
    await assert.rejects(
      hostShimProvider.create(checked.inputs),
      refused(
        "parentConflict",
        [net.inputs.name as string],
        new RegExp(`ipvlan network "${net.inputs.name}" uses parent "${host.lanParent}"`),
      ),
    );
    assert.ok(!ok(await host.exec(["ip", "link", "show", "dev", shimName], { allowFail: true })), "the refused shim exists");
  });

  it("reads a persistence file removed by hand as drift, writes it back in place, and removes it all when persist is turned off", async () => {
    const v90 = await vlan(90, { persist: true });
    const netdev = "/etc/systemd/network/60-underlay-eth1.90.netdev";
    assert.ok(ok(await host.exec(["test", "-s", netdev], { allowFail: true })), "no .netdev was written");
    await host.exec(["rm", "-f", netdev]);
    const drifted = await vlanSubinterfaceProvider.read(v90.id, v90.outs as never);
    assert.ok(drifted.props);
    assert.equal(drifted.props.persist, false, "a missing persistence file was not noticed");
    const diff = await vlanSubinterfaceProvider.diff(v90.id, drifted.props, v90.inputs);
    assert.equal(diff.changes, true);
    assert.deepEqual(diff.replaces, [], "repairing persistence must not replace the link");
    const before = JSON.parse((await host.exec(["ip", "-j", "link", "show", "dev", "eth1.90"])).stdout)[0].ifindex;
    const repaired = await vlanSubinterfaceProvider.update(v90.id, drifted.props, v90.inputs);
    assert.equal(repaired.outs?.persist, true);
    assert.ok(ok(await host.exec(["test", "-s", netdev], { allowFail: true })), "the .netdev was not written back");

    const off = (await vlanSubinterfaceProvider.check({}, { ...v90.inputs, persist: false })).inputs ?? {};
    const updated = await vlanSubinterfaceProvider.update(v90.id, repaired.outs as never, off);
    assert.equal(updated.outs?.persistence, undefined);
    const leftovers = await host.exec(["sh", "-c", "ls /etc/systemd/network/ /etc/systemd/network/*.d 2>/dev/null | grep eth1.90 || true"]);
    assert.equal(leftovers.stdout.trim(), "", `persistence files left: ${leftovers.stdout}`);
    const after = JSON.parse((await host.exec(["ip", "-j", "link", "show", "dev", "eth1.90"])).stdout)[0].ifindex;
    assert.equal(after, before, "the link was recreated");
  });

  it("brings persisted VLAN links and shims back after a reboot, with no drift, and keeps the Docker networks", async () => {
    const v70 = await vlan(70, { persist: true, mtu: 1400 });
    assert.equal((v70.outs.persistence as { method: string }).method, "networkd", "the VM's eth1 is managed by systemd-networkd");
    // A link on a parent networkd does not manage (eth1.70 stays unmanaged until networkd
    // reloads) falls back to a systemd unit: 802.1q in 802.1q, tagged 7 inside 70.
    links.unshift("eth1.70.7");
    const v7 = await make(vlanSubinterfaceProvider, { connection: conn(), parent: v70.outs.name, vlanId: 7, persist: true });
    assert.equal((v7.outs.persistence as { method: string }).method, "systemd-unit");
    const shimName = uniqueName("ps");
    links.push(shimName);
    const shim = await make(hostShimProvider, {
      connection: conn(),
      name: shimName,
      parent: host.lanParent,
      address: "198.51.100.250/32",
      routes: ["198.51.100.128/26"],
      persist: true,
    });
    const onVlan = await network(macvlanNetworkProvider, { parent: v70.outs.name, subnet: "203.0.113.96/27" });
    const onLan = await network(macvlanNetworkProvider, {
      parent: host.lanParent,
      subnet: "198.51.100.0/24",
      gateway: "198.51.100.1",
      ipRange: "198.51.100.128/26",
      auxAddresses: { shim: "198.51.100.250" },
    });

    // The parent going down and up must not lose the shim's routes.
    await host.exec(["ip", "link", "set", "dev", host.lanParent, "down"]);
    await host.exec(["ip", "link", "set", "dev", host.lanParent, "up"]);
    await becomes("shim route after parent down/up", async () =>
      (await host.exec(["ip", "route", "show", "dev", shimName])).stdout.includes("198.51.100.128/26"),
    );

    const bootBefore = (await host.exec(["cat", "/proc/sys/kernel/random/boot_id"])).stdout.trim();
    closeAllSessions();
    await host.exec(["systemctl", "reboot"], { allowFail: true, timeoutMs: 10_000 }).catch(() => undefined);
    await becomes(
      "the VM came back with a new boot id",
      async () => {
        const r = await host
          .exec(["cat", "/proc/sys/kernel/random/boot_id"], { allowFail: true, timeoutMs: 15_000 })
          .catch(() => undefined);
        return r !== undefined && r.code === 0 && r.stdout.trim() !== bootBefore;
      },
      270_000,
      3000,
    ).catch((err: Error) => {
      // What the console said is the only record of why a reboot did not finish: it goes with the lab.
      throw new Error(`${err.message}\n--- last lines of the VM's serial console ---\n${host.consoleTail?.(60) ?? "(none)"}`);
    });
    await becomes("docker after the reboot", async () => ok(await host.docker(["info"], { allowFail: true })), 120_000, 2000);

    const [l70] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", "eth1.70"])).stdout);
    assert.equal(l70.linkinfo.info_data.id, 70);
    assert.equal(l70.mtu, 1400);
    assert.ok(l70.flags.includes("UP"), "eth1.70 is down after the reboot");
    const [l7] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", "eth1.70.7"])).stdout);
    assert.equal(l7.linkinfo.info_data.id, 7, "the unit-persisted link is not back");
    assert.equal(l7.link, "eth1.70");
    const shimAddrs = (await host.exec(["ip", "-br", "address", "show", "dev", shimName])).stdout;
    assert.ok(shimAddrs.includes("198.51.100.250/32"), `shim address missing after reboot: ${shimAddrs}`);
    await becomes("shim route after the reboot", async () =>
      (await host.exec(["ip", "route", "show", "dev", shimName])).stdout.includes("198.51.100.128/26"),
    );

    const readVlan = await vlanSubinterfaceProvider.read(v70.id, v70.outs as never);
    assert.ok(readVlan.props);
    assert.equal((await vlanSubinterfaceProvider.diff(v70.id, readVlan.props, v70.inputs)).changes, false, "VLAN link drifted");
    const read7 = await vlanSubinterfaceProvider.read(v7.id, v7.outs as never);
    assert.ok(read7.props);
    assert.equal((await vlanSubinterfaceProvider.diff(v7.id, read7.props, v7.inputs)).changes, false, "unit-persisted VLAN link drifted");
    const readShim = await hostShimProvider.read(shim.id, shim.outs as never);
    assert.ok(readShim.props);
    assert.equal((await hostShimProvider.diff(shim.id, readShim.props, shim.inputs)).changes, false, "shim drifted");
    for (const n of [onVlan, onLan]) {
      const read = await macvlanNetworkProvider.read(n.id, n.outs as never);
      assert.equal(read.id, n.id, `Docker network ${n.inputs.name} is gone after the reboot`);
    }

    // The host reaches a container on the LAN network through the persisted shim.
    const c = await run(onLan.inputs.name as string, "198.51.100.140");
    await becomes("host -> container through the shim", async () =>
      ok(await host.exec(["ping", "-c", "1", "-W", "1", "198.51.100.140"], { allowFail: true })),
    );

    // Deleting removes the persistence too: nothing of ours is left in the host's config.
    await host.docker(["rm", "-f", c]);
    await macvlanNetworkProvider.delete(onVlan.id, onVlan.outs as never);
    await macvlanNetworkProvider.delete(onLan.id, onLan.outs as never);
    await hostShimProvider.delete(shim.id, (readShim.props ?? shim.outs) as never);
    await vlanSubinterfaceProvider.delete(v7.id, read7.props as never);
    await vlanSubinterfaceProvider.delete(v70.id, (readVlan.props ?? v70.outs) as never);
    const leftovers = await host.exec([
      "sh",
      "-c",
      "ls /etc/systemd/network/ /etc/systemd/network/*.d /etc/systemd/system /etc/systemd/system/*.wants 2>/dev/null | grep underlay || true",
    ]);
    assert.equal(leftovers.stdout.trim(), "", `persistence files left: ${leftovers.stdout}`);
  });
});
