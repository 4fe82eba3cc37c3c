// Quickstart: a macvlan network on the Docker host's LAN NIC, a host shim so the host can reach
// its own containers, and a container with a fixed address on the LAN (via @pulumi/docker).
//
// Config (namespace "underlay"), set by examples/quickstart/run.sh against a lab host:
//   host, port, user          how to reach the Docker host over SSH
//   privateKey (secret)       the SSH key
//   hostKey                   the host's public key line ("ssh-ed25519 AAAA...")
//   parent                    the host's LAN NIC (eth1)
//   subnet, gateway, ipRange  the LAN and the slice Docker may hand out
//   shimAddress               an address in the LAN, outside ipRange, for the host shim
//   containerIp               the container's address (inside ipRange)
//   image                     an image present on the host
//   dockerHost (optional)     @pulumi/docker's host ("ssh://root@host:port"); without it no container
//                             is made (run.sh leaves it out where the Docker provider plugin is missing)

import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { type Connection, HostShim, MacvlanNetwork } from "pulumi-underlay";

const config = new pulumi.Config("underlay");

const connection: Connection = {
  host: config.require("host"),
  port: config.getNumber("port") ?? 22,
  user: config.get("user") ?? "root",
  privateKey: config.requireSecret("privateKey"),
  hostKey: config.require("hostKey"),
};

const parent = config.require("parent");
const subnet = config.require("subnet");
const ipRange = config.require("ipRange");
const shimAddress = config.require("shimAddress");

const lan = new MacvlanNetwork("lan", {
  connection,
  parent,
  subnet,
  gateway: config.require("gateway"),
  ipRange,
  // Docker must never hand the shim's address to a container.
  auxAddresses: { "host-shim": shimAddress },
});

// The shim needs the NIC, not the network: naming the parent directly keeps a replacement of
// the network (say, a new ipRange) from replacing the shim too.
const shim = new HostShim("lan-shim", {
  connection,
  parent,
  address: `${shimAddress}/32`,
  routes: [ipRange],
});

const dockerHost = config.get("dockerHost");
let containerIp: pulumi.Output<string> | undefined;
if (dockerHost) {
  const dockerProvider = new docker.Provider("lab-docker", {
    host: dockerHost,
    sshOpts: config.getObject<string[]>("dockerSshOpts") ?? [],
  });
  const app = new docker.Container(
    "legacy-app",
    {
      image: config.require("image"),
      command: ["httpd", "-f", "-p", "80"],
      networksAdvanced: [{ name: lan.name, ipv4Address: config.require("containerIp") }],
    },
    { provider: dockerProvider },
  );
  containerIp = app.networkDatas.apply((n) => n?.[0]?.ipAddress ?? "");
}

export const networkId = lan.networkId;
export const networkName = lan.name;
export const shimInterface = shim.name;
export const shimMac = shim.macAddress;
// null, not undefined, when there is no container: Pulumi drops undefined outputs with a warning.
export const appAddress = containerIp ?? null;
