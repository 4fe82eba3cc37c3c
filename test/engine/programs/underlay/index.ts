// The stack the engine suite (test/engine/stack.test.ts) drives with the real Pulumi CLI: a
// macvlan network and a host shim on one lab host, every value from stack config so each test
// changes one input and watches what the engine does with it.
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; parent,
// network, subnet, ipRange, auxAddress; shim, shimParent, shimAddress, shimRoutes (JSON list).
import * as pulumi from "@pulumi/pulumi";
import { type Connection, HostShim, MacvlanNetwork } from "pulumi-underlay";

const config = new pulumi.Config("underlay");

const connection: Connection = {
  host: config.require("host"),
  port: config.requireNumber("port"),
  user: config.require("user"),
  privateKey: config.requireSecret("privateKey"),
  hostKey: config.require("hostKey"),
};

const lan = new MacvlanNetwork("lan", {
  connection,
  name: config.require("network"),
  parent: config.require("parent"),
  subnet: config.require("subnet"),
  ipRange: config.require("ipRange"),
  auxAddresses: { shim: config.require("auxAddress") },
});

// The shim names the parent itself rather than taking `lan.parent`: it needs the NIC, not the
// network, so replacing the network must not touch it.
const shim = new HostShim("lan-shim", {
  connection,
  name: config.require("shim"),
  parent: config.get("shimParent") ?? config.require("parent"),
  address: config.require("shimAddress"),
  routes: config.requireObject<string[]>("shimRoutes"),
});

export const networkId = lan.networkId;
export const networkName = lan.name;
export const ipRange = lan.ipRange;
export const shimName = shim.name;
export const shimMac = shim.macAddress;
