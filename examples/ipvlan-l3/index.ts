// ipvlan-l3: the host routes for its containers. Two subnets that exist nowhere on the LAN, no
// gateway (the containers' default route points at the parent with no next hop), and the route
// the upstream router needs: each subnet via the host's own LAN address, as a stack output.
// mode "l3s" also passes the containers' traffic through the host's netfilter (conntrack).
//
// Config (namespace "underlay"): host, port, user, privateKey (secret), hostKey; parent (eth1),
// hostAddress (the host's address on the parent: the routes' next hop), mode (l3 or l3s),
// subnets (two by default).

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

const [first, ...more] = config.getObject<string[]>("subnets") ?? ["203.0.113.0/26", "203.0.113.64/26"];
const hostAddress = config.require("hostAddress");

const network = new IpvlanNetwork("routed", {
  connection,
  parent: config.get("parent") ?? "eth1",
  mode: (config.get("mode") ?? "l3") as "l3" | "l3s",
  subnet: first,
  additionalSubnets: more.map((subnet) => ({ subnet })),
});

export const networkName = network.name;
export const mode = network.mode;
/** What the upstream router needs, e.g. `ip route add 203.0.113.0/26 via 198.51.100.11`. */
export const upstreamRoutes = [first, ...more].map((destination) => ({ destination, via: hostAddress }));
