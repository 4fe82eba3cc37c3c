// dual-stack: a macvlan network with the LAN's IPv4 and IPv6 subnets; containers get an
// address of each family, and the host shim's IPv4 address is reserved.
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; parent (eth1),
// subnet, gateway, ipRange, ipv6Subnet, ipv6Gateway, ipv6Range.

import * as pulumi from "@pulumi/pulumi";
import { type Connection, MacvlanNetwork } from "pulumi-underlay";

const config = new pulumi.Config("underlay");

// How to reach the Docker host over SSH; the host key is pinned (`ssh-keyscan HOST` prints it).
const connection: Connection = {
  host: config.require("host"),
  port: config.getNumber("port") ?? 22,
  user: config.get("user") ?? "root",
  privateKey: config.requireSecret("privateKey"),
  hostKey: config.require("hostKey"),
};

const network = new MacvlanNetwork("lan", {
  connection,
  parent: config.get("parent") ?? "eth1",
  subnet: config.get("subnet") ?? "198.51.100.0/24",
  gateway: config.get("gateway") ?? "198.51.100.1",
  ipRange: config.get("ipRange") ?? "198.51.100.160/27",
  ipv6: {
    subnet: config.get("ipv6Subnet") ?? "fd18:0:0:51::/64",
    gateway: config.get("ipv6Gateway") ?? "fd18:0:0:51::1",
    ipRange: config.get("ipv6Range") ?? "fd18:0:0:51:1::/80",
  },
});

export const networkName = network.name;
export const ipv6Subnet = network.ipv6.apply((v6) => v6?.subnet ?? null);
