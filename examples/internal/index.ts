// internal: a network with no parent. Docker's macvlan and ipvlan drivers then make a dummy
// link of their own (`dm-<network id>`) as the parent, deleted with the network: containers on
// it reach each other and nothing else (a database only its app may reach, a test bed).
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; subnet.

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

const network = new MacvlanNetwork("backend", {
  connection,
  subnet: config.get("subnet") ?? "203.0.113.192/26",
});

export const networkName = network.name;
export const networkId = network.networkId;
