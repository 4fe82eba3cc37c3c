// The stack `npm run bench` drives with the real engine: `count` macvlan networks on one lab
// host, each on its own parent (bp1, bp2, ...) with its own /24 from 198.18.0.0/15.
//
// Config (namespace "underlay"): connection (the whole Connection as JSON, secret), count.
import * as pulumi from "@pulumi/pulumi";
import { type Connection, MacvlanNetwork } from "pulumi-underlay";

const config = new pulumi.Config("underlay");
const connection = config.requireSecretObject<Connection>("connection");

export const networkIds = Array.from(
  { length: config.requireNumber("count") },
  (_, i) =>
    new MacvlanNetwork(`net${i}`, {
      connection,
      name: `be${i}`,
      parent: `bp${i + 1}`,
      subnet: `198.${18 + Math.floor((i + 1) / 256)}.${(i + 1) % 256}.0/24`,
    }).networkId,
);
