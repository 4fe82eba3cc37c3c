// multi-host: the same underlay on every Docker host listed in stack config: on each, a macvlan
// network on the LAN NIC and a host shim, each host with its own slice of the LAN. The hosts sit
// on a private network reached only through a bastion (OpenSSH's ProxyJump); one SSH connection
// per host, each verifying that host's own key.
//
// Config (namespace "underlay"):
//   hosts          [{ name, host, port?, hostKey, ipRange, shimAddress }, ...]
//   bastion        { host, port?, user?, hostKey }
//   privateKey     (secret) the key for the hosts;  bastionKey (secret, optional) the bastion's, default the same
//   parent, subnet, gateway   the LAN, the same on every host

import * as pulumi from "@pulumi/pulumi";
import { type Connection, HostShim, MacvlanNetwork } from "pulumi-underlay";

interface HostEntry {
  name: string;
  host: string;
  port?: number;
  hostKey: string;
  ipRange: string;
  shimAddress: string;
}
interface BastionEntry {
  host: string;
  port?: number;
  user?: string;
  hostKey: string;
}

const config = new pulumi.Config("underlay");
const hosts = config.requireObject<HostEntry[]>("hosts");
const bastion = config.requireObject<BastionEntry>("bastion");
const privateKey = config.requireSecret("privateKey");
const bastionKey = config.getSecret("bastionKey") ?? privateKey;
const parent = config.get("parent") ?? "eth1";
const subnet = config.get("subnet") ?? "198.51.100.0/24";
const gateway = config.get("gateway") ?? "198.51.100.1";

export const networks: Record<string, pulumi.Output<string>> = {};
export const shims: Record<string, pulumi.Output<string>> = {};

for (const h of hosts) {
  const connection: Connection = {
    host: h.host,
    port: h.port ?? 22,
    privateKey,
    hostKey: h.hostKey,
    proxyJump: [
      { host: bastion.host, port: bastion.port ?? 22, user: bastion.user ?? "root", privateKey: bastionKey, hostKey: bastion.hostKey },
    ],
  };
  const network = new MacvlanNetwork(`${h.name}-lan`, {
    connection,
    name: "lan",
    parent,
    subnet,
    gateway,
    ipRange: h.ipRange,
    auxAddresses: { "host-shim": h.shimAddress },
  });
  const shim = new HostShim(`${h.name}-shim`, {
    connection,
    name: "lan-shim",
    parent,
    address: `${h.shimAddress}/32`,
    routes: [h.ipRange],
  });
  networks[h.name] = network.networkId;
  shims[h.name] = shim.name;
}
