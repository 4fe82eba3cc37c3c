// How a Docker host spells networks: argv builders for `docker network ...` and parsers for
// what `docker network inspect` prints. Nothing here knows about Pulumi or a resource.

import { z } from "zod";
import { Argv } from "./command";
import { canonicalAddress, canonicalPrefix, parsePrefix } from "../ipnet";

export interface IpamConfig {
  subnet: string;
  gateway?: string;
  ipRange?: string;
  auxAddresses: Record<string, string>;
}

/** What `docker network create` is asked for; shared by the macvlan and ipvlan resources. */
export interface NetworkSpec {
  name: string;
  driver: "macvlan" | "ipvlan";
  /** Driver options (-o): parent, macvlan_mode, ipvlan_mode, ipvlan_flag. */
  options: Record<string, string>;
  ipam: IpamConfig[];
  enableIPv6: boolean;
  internal: boolean;
  labels: Record<string, string>;
}

/** A network as `docker network inspect` reports it, mapped to the spec's vocabulary. */
export interface InspectedNetwork extends Omit<NetworkSpec, "driver"> {
  /** Any driver: the host's other networks (bridge, overlay, ...) are inspected too. */
  driver: string;
  id: string;
  /** Containers attached right now: name and id. */
  containers: { id: string; name: string }[];
}

export function buildNetworkCreate(spec: NetworkSpec): Argv {
  const argv = ["docker", "network", "create", "--driver", spec.driver];
  for (const ipam of spec.ipam) {
    argv.push("--subnet", ipam.subnet);
    if (ipam.gateway) argv.push("--gateway", ipam.gateway);
    if (ipam.ipRange) argv.push("--ip-range", ipam.ipRange);
    for (const [name, address] of Object.entries(ipam.auxAddresses)) argv.push("--aux-address", `${name}=${address}`);
  }
  if (spec.enableIPv6) argv.push("--ipv6");
  // IPv6-only: without this Docker allocates an IPv4 subnet from its default pools (Docker 28+).
  if (spec.ipam.length > 0 && spec.ipam.every((c) => c.subnet.includes(":"))) argv.push("--ipv4=false");
  if (spec.internal) argv.push("--internal");
  for (const [key, value] of Object.entries(spec.options)) argv.push("--opt", `${key}=${value}`);
  for (const [key, value] of Object.entries(spec.labels)) argv.push("--label", `${key}=${value}`);
  // "--" so a name can never be read as a flag, whatever validation upstream allowed.
  argv.push("--", spec.name);
  return argv;
}

/** The daemon's version ("26.1.5+dfsg1"), for features older daemons lack. */
export function buildServerVersion(): Argv {
  return ["docker", "version", "--format", "{{.Server.Version}}"];
}

/** The major version of a daemon's version string, or undefined when it cannot be read. */
export function parseMajorVersion(stdout: string): number | undefined {
  const m = /^(\d+)\./.exec(stdout.trim());
  return m ? Number(m[1]) : undefined;
}

export function buildNetworkInspect(...idsOrNames: string[]): Argv {
  return ["docker", "network", "inspect", "--", ...idsOrNames];
}

export function buildNetworkRemove(id: string): Argv {
  return ["docker", "network", "rm", "--", id];
}

/** Every network id on the host, one per line (ids are hex, so a line split is exact). */
export function buildNetworkListIds(): Argv {
  return ["docker", "network", "ls", "--no-trunc", "--quiet"];
}

export function parseIdList(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^[0-9a-f]{12,64}$/.test(line));
}

/**
 * Every container, running or stopped, that refers to the network. `network inspect` lists only
 * running endpoints; a stopped container would be left pointing at a deleted network.
 */
export function buildContainersOnNetwork(network: string): Argv {
  return ["docker", "ps", "--all", "--no-trunc", "--filter", `network=${network}`, "--format", "{{json .}}"];
}

const PsLine = z.object({ ID: z.string(), Names: z.string() });

export function parseContainerLines(stdout: string): { id: string; name: string }[] {
  return stdout
    .split("\n")
    .filter((line) => line.trim().startsWith("{"))
    .map((line) => PsLine.parse(JSON.parse(line)))
    .map((c) => ({ id: c.ID, name: c.Names }));
}

// Docker 20.10 says "No such network: X"; newer daemons say "network X not found".
export function isNoSuchNetwork(stderr: string): boolean {
  return /no such network|network .* not found/i.test(stderr);
}

const InspectJson = z.array(
  z.object({
    Id: z.string(),
    Name: z.string(),
    Driver: z.string(),
    EnableIPv6: z.boolean().optional().default(false),
    Internal: z.boolean().optional().default(false),
    IPAM: z
      .object({
        Config: z
          .array(
            z.object({
              Subnet: z.string().optional(),
              Gateway: z.string().optional(),
              IPRange: z.string().optional(),
              AuxiliaryAddresses: z.record(z.string(), z.string()).nullish(),
            }),
          )
          .nullish(),
      })
      .nullish(),
    Options: z.record(z.string(), z.string()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
    Containers: z.record(z.string(), z.object({ Name: z.string().optional() })).nullish(),
  }),
);

export function parseNetworkInspect(stdout: string): InspectedNetwork[] {
  return InspectJson.parse(JSON.parse(stdout)).map((n) => ({
    id: n.Id,
    name: n.Name,
    driver: n.Driver,
    options: n.Options ?? {},
    enableIPv6: n.EnableIPv6,
    internal: n.Internal,
    labels: n.Labels ?? {},
    ipam: (n.IPAM?.Config ?? [])
      .filter((c): c is typeof c & { Subnet: string } => typeof c.Subnet === "string")
      .map((c) => ({
        subnet: canonicalPrefix(c.Subnet),
        gateway: c.Gateway ? canonicalAddress(c.Gateway) : undefined,
        ipRange: c.IPRange ? canonicalPrefix(c.IPRange) : undefined,
        auxAddresses: Object.fromEntries(
          Object.entries(c.AuxiliaryAddresses ?? {}).map(([k, v]) => [k, canonicalAddress(v)]),
        ),
      })),
    containers: Object.entries(n.Containers ?? {}).map(([id, c]) => ({ id, name: c.Name ?? id })),
  }));
}

/** The IPAM entry of one family (Docker keeps IPv4 and IPv6 configs in one list). */
export function ipamOfFamily(ipam: IpamConfig[], family: 4 | 6): IpamConfig | undefined {
  return ipam.find((c) => parsePrefix(c.subnet)?.family === family);
}
