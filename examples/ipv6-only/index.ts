// ipv6-only: a macvlan network with only an IPv6 subnet, the classic
// `docker network create -d macvlan --ipv6 --subnet=fd18:...::/64 -o parent=eth1 v6only`.
// Needs Docker 26 or later on the host: older daemons add an IPv4 subnet from their default
// pools anyway, so the provider refuses them (saying which version the host runs).
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; parent (eth1),
// ipv6Subnet, ipv6Gateway.

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

const network = new MacvlanNetwork("v6only", {
  connection,
  parent: config.get("parent") ?? "eth1",
  ipv6: {
    subnet: config.get("ipv6Subnet") ?? "fd18:0:0:60::/64",
    gateway: config.get("ipv6Gateway") ?? "fd18:0:0:60::1",
  },
});

export const networkName = network.name;
export const ipv6Subnet = network.ipv6.apply((v6) => v6?.subnet ?? null);
