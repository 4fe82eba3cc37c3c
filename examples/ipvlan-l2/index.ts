// ipvlan-l2: containers on the LAN like macvlan's, but sharing the host NIC's MAC address (for
// switch ports with a MAC limit, and Wi-Fi parents, where macvlan does not work).
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; parent (eth1),
// subnet, gateway, ipRange.

import * as pulumi from "@pulumi/pulumi";
import { type Connection, IpvlanNetwork } from "pulumi-underlay";

const config = new pulumi.Config("underlay");

// How to reach the Docker host over SSH; the host key is pinned (`ssh-keyscan HOST` prints it).
const connection: Connection = {
  host: config.require("host"),
  port: config.getNumber("port") ?? 22,
  user: config.get("user") ?? "root",
  privateKey: config.requireSecret("privateKey"),
  hostKey: config.require("hostKey"),
};

const network = new IpvlanNetwork("lan", {
  connection,
  parent: config.get("parent") ?? "eth1",
  mode: "l2",
  subnet: config.get("subnet") ?? "198.51.100.0/24",
  gateway: config.get("gateway") ?? "198.51.100.1",
  ipRange: config.get("ipRange") ?? "198.51.100.192/27",
});

export const networkName = network.name;
export const mode = network.mode;
