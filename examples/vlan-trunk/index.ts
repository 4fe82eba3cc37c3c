// vlan-trunk: two 802.1q subinterfaces (VLAN 50 and 60) on one trunk NIC and a macvlan network
// on each. Containers on VLAN 50 reach the tagged peers of VLAN 50, never VLAN 60's.
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; trunk (eth1),
// and per VLAN its subnet and gateway (defaults: the lab's 203.0.113.0/26 and .64/26).

import * as pulumi from "@pulumi/pulumi";
import { type Connection, MacvlanNetwork, VlanSubinterface } from "pulumi-underlay";

const config = new pulumi.Config("underlay");

// How to reach the Docker host over SSH; the host key is pinned (`ssh-keyscan HOST` prints it).
const connection: Connection = {
  host: config.require("host"),
  port: config.getNumber("port") ?? 22,
  user: config.get("user") ?? "root",
  privateKey: config.requireSecret("privateKey"),
  hostKey: config.require("hostKey"),
};

const trunk = config.get("trunk") ?? "eth1";
const vlans = [
  { id: 50, subnet: config.get("subnet50") ?? "203.0.113.0/26", gateway: config.get("gateway50") ?? "203.0.113.1" },
  { id: 60, subnet: config.get("subnet60") ?? "203.0.113.64/26", gateway: config.get("gateway60") ?? "203.0.113.65" },
];

export const networks: Record<string, pulumi.Output<string>> = {};
export const links: Record<string, pulumi.Output<string>> = {};
for (const v of vlans) {
  const link = new VlanSubinterface(`vlan${v.id}`, { connection, parent: trunk, vlanId: v.id });
  // The link's name output as the parent: Pulumi creates the link first and deletes it last.
  const network = new MacvlanNetwork(`vlan${v.id}-lan`, {
    connection,
    name: `vlan${v.id}`,
    parent: link.name,
    subnet: v.subnet,
    gateway: v.gateway,
  });
  networks[v.id] = network.name;
  links[v.id] = link.name;
}
