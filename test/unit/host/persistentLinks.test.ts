import { strict as assert } from "node:assert";
import { deviceUnitName, networkdFiles, parseNetworkFileOf, systemdUnitFiles } from "../../../provider/host/persistentLinks";

describe("persistent link files", () => {
  it("escapes device unit names the way systemd-escape --path does", () => {
    assert.equal(deviceUnitName("eth1"), "sys-subsystem-net-devices-eth1.device");
    assert.equal(deviceUnitName("br-lan"), "sys-subsystem-net-devices-br\\x2dlan.device");
    assert.equal(deviceUnitName("eth1.50"), "sys-subsystem-net-devices-eth1.50.device");
  });

  it("writes networkd files for a VLAN and attaches it to the parent's network by a drop-in", () => {
    const files = networkdFiles({ kind: "vlan", name: "eth1.50", parent: "eth1", vlanId: 50, mtu: 1496 }, "/etc/systemd/network/10-eth1.network");
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
    const [unit] = systemdUnitFiles({ kind: "macvlan", name: "shim0", parent: "eth1", mode: "bridge", address: "198.51.100.250/32", routes: ["198.51.100.128/26", "fd18:0:0:1::/64"] });
    assert.equal(unit.path, "/etc/systemd/system/underlay-link-shim0.service");
    assert.match(unit.content, /BindsTo=sys-subsystem-net-devices-eth1\.device/);
    assert.match(unit.content, /ExecStart=ip link add link eth1 name shim0 type macvlan mode bridge\n/);
    assert.match(unit.content, /ExecStart=ip -4 route add 198\.51\.100\.128\/26 dev shim0\n/);
    assert.match(unit.content, /ExecStart=ip -6 route add fd18:0:0:1::\/64 dev shim0\n/);
    assert.match(unit.content, /Before=docker\.service/);
  });

  it("finds the .network file networkd applies to a link", () => {
    const out = JSON.stringify({ Interfaces: [{ Index: 3, Name: "eth1", NetworkFile: "/etc/systemd/network/10-eth1.network" }, { Index: 4, Name: "eth2" }] });
    assert.equal(parseNetworkFileOf(out, "eth1"), "/etc/systemd/network/10-eth1.network");
    assert.equal(parseNetworkFileOf(out, "eth2"), undefined);
  });
});
