// docker-managed-vlan: a macvlan network whose parent is `eth1.70`. There is no
// VlanSubinterface: Docker creates the 802.1q link itself when the network is created (the
// trunk must exist) and deletes it with the network. Use a VlanSubinterface instead when the
// link must outlive the network or survive a reboot without Docker.
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; trunk (eth1),
// vlanId (70), subnet, gateway.

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

const trunk = config.get("trunk") ?? "eth1";
const vlanId = config.getNumber("vlanId") ?? 70;

const network = new MacvlanNetwork("vlan70", {
  connection,
  parent: `${trunk}.${vlanId}`,
  subnet: config.get("subnet") ?? "203.0.113.128/26",
  gateway: config.get("gateway") ?? "203.0.113.129",
});

export const networkName = network.name;
export const parent = network.parent;
