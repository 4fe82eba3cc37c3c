// A VlanSubinterface whose `name` output is a MacvlanNetwork's `parent`: the engine must create
// the link before the network and delete it after. Config (namespace "underlay"): host, port,
// user, privateKey (secret), hostKey; trunk, vlanId, network, subnet, ipRange.
import * as pulumi from "@pulumi/pulumi";
import { type Connection, MacvlanNetwork, VlanSubinterface } from "pulumi-underlay";

const config = new pulumi.Config("underlay");

const connection: Connection = {
  host: config.require("host"),
  port: config.requireNumber("port"),
  user: config.require("user"),
  privateKey: config.requireSecret("privateKey"),
  hostKey: config.require("hostKey"),
};

const vlan = new VlanSubinterface("vlan", {
  connection,
  parent: config.require("trunk"),
  vlanId: config.requireNumber("vlanId"),
});

const lan = new MacvlanNetwork("vlan-lan", {
  connection,
  name: config.require("network"),
  parent: vlan.name,
  subnet: config.require("subnet"),
  ipRange: config.require("ipRange"),
});

export const vlanName = vlan.name;
export const networkParent = lan.parent;
