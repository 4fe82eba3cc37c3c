import { strict as assert } from "node:assert";
import { buildLinkUp, buildVlanAdd } from "../../../provider/host/iproute";
import {
  deviceUnitName,
  linkSetupCommands,
  networkdFiles,
  parseNetworkFileOf,
  quoteSystemdWord,
  systemdCommand,
  systemdUnitFiles,
} from "../../../provider/host/persistentLinks";

describe("persistent link files", () => {
  it("escapes device unit names the way systemd-escape --path does", () => {
    assert.equal(deviceUnitName("eth1"), "sys-subsystem-net-devices-eth1.device");
    assert.equal(deviceUnitName("br-lan"), "sys-subsystem-net-devices-br\\x2dlan.device");
    assert.equal(deviceUnitName("eth1.50"), "sys-subsystem-net-devices-eth1.50.device");
  });

  it("writes networkd files for a VLAN and attaches it to the parent's network by a drop-in", () => {
    const files = networkdFiles(
      { kind: "vlan", name: "eth1.50", parent: "eth1", vlanId: 50, mtu: 1496 },
      "/etc/systemd/network/10-eth1.network",
    );
    assert.deepEqual(
      files.map((f) => f.path),
      [
        "/etc/systemd/network/60-underlay-eth1.50.netdev",
        "/etc/systemd/network/60-underlay-eth1.50.network",
        "/etc/systemd/network/10-eth1.network.d/60-underlay-eth1.50.conf",
      ],
    );
    assert.match(files[0].content, /Kind=vlan\nMTUBytes=1496\n\n\[VLAN\]\nId=50\n/);
    assert.match(files[2].content, /\[Network\]\nVLAN=eth1\.50\n/);
  });

  it("writes a shim's address and routes into its networkd .network", () => {
    const [, network, dropIn] = networkdFiles(
      { kind: "macvlan", name: "shim0", parent: "eth1", mode: "bridge", address: "198.51.100.250/32", routes: ["198.51.100.128/26"] },
      "/run/systemd/network/10-eth1.network",
    );
    assert.match(network.content, /Address=198\.51\.100\.250\/32\n\n\[Route\]\nDestination=198\.51\.100\.128\/26\n/);
    assert.equal(dropIn.path, "/etc/systemd/network/10-eth1.network.d/60-underlay-shim0.conf");
    assert.match(dropIn.content, /MACVLAN=shim0/);
  });

  it("replays the ip commands in a unit bound to the parent device", () => {
    const [unit] = systemdUnitFiles({
      kind: "macvlan",
      name: "shim0",
      parent: "eth1",
      mode: "bridge",
      address: "198.51.100.250/32",
      routes: ["198.51.100.128/26", "fd18:0:0:1::/64"],
    });
    assert.equal(unit.path, "/etc/systemd/system/underlay-link-shim0.service");
    assert.match(unit.content, /BindsTo=sys-subsystem-net-devices-eth1\.device/);
    assert.match(unit.content, /ExecStart=ip link add link eth1 name shim0 type macvlan mode bridge\n/);
    assert.match(unit.content, /ExecStart=ip -4 route add 198\.51\.100\.128\/26 dev shim0\n/);
    assert.match(unit.content, /ExecStart=ip -6 route add fd18:0:0:1::\/64 dev shim0\n/);
    assert.match(unit.content, /Before=docker\.service/);
  });

  it("finds the .network file networkd applies to a link", () => {
    const out = JSON.stringify({
      Interfaces: [
        { Index: 3, Name: "eth1", NetworkFile: "/etc/systemd/network/10-eth1.network" },
        { Index: 4, Name: "eth2" },
      ],
    });
    assert.equal(parseNetworkFileOf(out, "eth1"), "/etc/systemd/network/10-eth1.network");
    assert.equal(parseNetworkFileOf(out, "eth2"), undefined);
  });
});

describe("persistent link commands", () => {
  it("are the live create argv: the unit replays exactly linkSetupCommands", () => {
    const vlan = { kind: "vlan" as const, name: "eth1.50", parent: "eth1", vlanId: 50, mtu: 1400 };
    assert.deepEqual(linkSetupCommands(vlan), [buildVlanAdd("eth1.50", "eth1", 50, 1400), buildLinkUp("eth1.50")]);
    const [unit] = systemdUnitFiles(vlan);
    assert.match(
      unit.content,
      /\nExecStart=ip link add link eth1 name eth1\.50 mtu 1400 type vlan id 50\nExecStart=ip link set dev eth1\.50 up\n/,
    );
    assert.deepEqual(linkSetupCommands({ kind: "vlan", name: "v", parent: "eth1", vlanId: 7 })[0], [
      "ip",
      "link",
      "add",
      "link",
      "eth1",
      "name",
      "v",
      "type",
      "vlan",
      "id",
      "7",
    ]);
    const shim = {
      kind: "macvlan" as const,
      name: "shim0",
      parent: "eth1",
      mode: "bridge",
      address: "198.51.100.250/32",
      routes: ["198.51.100.128/26", "fd18:0:0:1::/64"],
    };
    assert.deepEqual(linkSetupCommands(shim), [
      ["ip", "link", "add", "link", "eth1", "name", "shim0", "type", "macvlan", "mode", "bridge"],
      ["ip", "address", "add", "198.51.100.250/32", "dev", "shim0"],
      ["ip", "link", "set", "dev", "shim0", "up"],
      ["ip", "-4", "route", "add", "198.51.100.128/26", "dev", "shim0"],
      ["ip", "-6", "route", "add", "fd18:0:0:1::/64", "dev", "shim0"],
    ]);
  });

  it("quote a word for systemd's command line only when it needs it", () => {
    assert.equal(quoteSystemdWord("eth1.50"), "eth1.50");
    assert.equal(quoteSystemdWord("fd18:0:0:1::/64"), "fd18:0:0:1::/64");
    assert.equal(quoteSystemdWord(""), '""');
    assert.equal(quoteSystemdWord("a b"), '"a b"');
    assert.equal(quoteSystemdWord('say "hi"\\'), '"say \\"hi\\"\\\\"');
    assert.equal(quoteSystemdWord("100%"), '"100%%"');
    assert.equal(quoteSystemdWord("$HOME"), '"$$HOME"');
    assert.equal(quoteSystemdWord("a;b"), '"a;b"');
    assert.equal(quoteSystemdWord("tab\there\n"), '"tab\\x09here\\x0a"');
    assert.equal(quoteSystemdWord("del\u007f"), '"del\\x7f"');
    assert.equal(systemdCommand(["echo", "a b", "c"]), 'echo "a b" c');
  });
});
