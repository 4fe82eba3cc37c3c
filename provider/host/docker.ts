// How a Docker host spells networks: requests of the Docker Engine API and parsers for the
// network JSON it returns (the same `docker network inspect` prints). Nothing here knows about
// Pulumi or a resource.

import { z } from "zod";
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
  /**
   * Which resource made the network (see OWNER_LABEL): written as a label, kept apart from
   * `labels` both ways so the program's labels and the provider's mark never mix.
   */
  owner?: string;
}

/** The label that marks a network as made by one pulumi-underlay resource (its owner string). */
export const OWNER_LABEL = "io.pulumi-underlay.owner";

/** A network as `docker network inspect` reports it, mapped to the spec's vocabulary. */
export interface InspectedNetwork extends Omit<NetworkSpec, "driver"> {
  /** Any driver: the host's other networks (bridge, overlay, ...) are inspected too. */
  driver: string;
  id: string;
  /** Containers attached right now: name and id. */
  containers: { id: string; name: string }[];
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
  return parseNetworkJson(JSON.parse(stdout));
}

/**
 * Networks as the Engine API returns them: `GET /networks` (a list, whose entries carry no
 * containers) or `GET /networks/{id}` (one, wrapped in a list here); the CLI prints the same.
 */
export function parseNetworkJson(value: unknown): InspectedNetwork[] {
  return InspectJson.parse(Array.isArray(value) ? value : [value]).map((n) => ({
    id: n.Id,
    name: n.Name,
    driver: n.Driver,
    options: n.Options ?? {},
    enableIPv6: n.EnableIPv6,
    internal: n.Internal,
    ...splitOwner(n.Labels ?? {}),
    ipam: (n.IPAM?.Config ?? [])
      .filter((c): c is typeof c & { Subnet: string } => typeof c.Subnet === "string")
      .map((c) => ({
        subnet: canonicalPrefix(c.Subnet),
        gateway: c.Gateway ? canonicalAddress(c.Gateway) : undefined,
        ipRange: c.IPRange ? canonicalPrefix(c.IPRange) : undefined,
        auxAddresses: Object.fromEntries(Object.entries(c.AuxiliaryAddresses ?? {}).map(([k, v]) => [k, canonicalAddress(v)])),
      })),
    containers: Object.entries(n.Containers ?? {}).map(([id, c]) => ({ id, name: c.Name ?? id })),
  }));
}

function splitOwner(all: Record<string, string>): { labels: Record<string, string>; owner?: string } {
  const { [OWNER_LABEL]: owner, ...labels } = all;
  return owner === undefined ? { labels } : { labels, owner };
}

/** The IPAM entry of one family (Docker keeps IPv4 and IPv6 configs in one list). */
export function ipamOfFamily(ipam: IpamConfig[], family: 4 | 6): IpamConfig | undefined {
  return ipam.find((c) => parsePrefix(c.subnet)?.family === family);
}

// ---------------------------------------------------------------------------------------------
// The Engine API (paths relative to the negotiated version prefix).

export interface ApiRequest {
  method: "GET" | "POST" | "DELETE";
  path: string;
  body?: unknown;
}

/**
 * The Engine API version that knows EnableIPv4 (Docker 28.0). Daemons drop it from requests of
 * older versions (the version negotiated for everything else is 1.41), so an IPv6-only create
 * is sent as this version.
 */
export const ENABLE_IPV4_API = "1.48";

/** True when Engine API version `version` ("1.47") is `wanted` or newer. */
export function apiVersionAtLeast(version: string, wanted: string): boolean {
  const [am = Number.NaN, an = Number.NaN] = version.split(".").map(Number);
  const [bm, bn] = wanted.split(".").map(Number);
  return am > bm || (am === bm && an >= bn);
}

/** What `docker network create` sends the daemon for the same spec. */
export function networkCreateRequest(spec: NetworkSpec): ApiRequest {
  const ipv6Only = spec.ipam.length > 0 && spec.ipam.every((c) => c.subnet.includes(":"));
  return {
    method: "POST",
    path: ipv6Only ? `/v${ENABLE_IPV4_API}/networks/create` : "/networks/create",
    body: {
      Name: spec.name,
      // Refuse a second network of this name (Docker 20.10 otherwise allows duplicates).
      CheckDuplicate: true,
      Driver: spec.driver,
      Options: spec.options,
      IPAM: {
        Driver: "default",
        Config: spec.ipam.map((c) => ({
          Subnet: c.subnet,
          ...(c.gateway ? { Gateway: c.gateway } : {}),
          ...(c.ipRange ? { IPRange: c.ipRange } : {}),
          ...(Object.keys(c.auxAddresses).length ? { AuxiliaryAddresses: c.auxAddresses } : {}),
        })),
      },
      EnableIPv6: spec.enableIPv6,
      // IPv6-only: without this Docker allocates an IPv4 subnet from its default pools (API
      // 1.48, Docker 28+; older daemons ignore the field, which is why ops refuses them first
      // and checks the created network has no IPv4 subnet).
      ...(ipv6Only ? { EnableIPv4: false } : {}),
      Internal: spec.internal,
      Labels: spec.owner === undefined ? spec.labels : { ...spec.labels, [OWNER_LABEL]: spec.owner },
    },
  };
}

/** The daemon's version, for features older daemons lack. */
export function versionRequest(): ApiRequest {
  return { method: "GET", path: "/version" };
}

const VersionJson = z.object({ Version: z.string(), ApiVersion: z.string().optional() });

/** The daemon's version string ("26.1.5+dfsg1") from GET /version. */
export function parseServerVersion(value: unknown): string {
  return VersionJson.parse(value).Version;
}

/** The newest Engine API version the daemon speaks ("1.48"), from GET /version; "" when unsaid. */
export function parseServerApiVersion(value: unknown): string {
  return VersionJson.parse(value).ApiVersion ?? "";
}

/** The major version of a daemon's version string, or undefined when it cannot be read. */
export function parseMajorVersion(version: string): number | undefined {
  const m = /^(\d+)\./.exec(version.trim());
  return m ? Number(m[1]) : undefined;
}

export function networkListRequest(): ApiRequest {
  return { method: "GET", path: "/networks" };
}

/** The networks whose ids are given (the daemon's `id` filter matches all or part of an id: callers keep exact matches). */
export function networksByIdRequest(ids: readonly string[]): ApiRequest {
  const filters = encodeURIComponent(JSON.stringify({ id: ids }));
  return { method: "GET", path: `/networks?filters=${filters}` };
}

export function networkInspectRequest(id: string): ApiRequest {
  return { method: "GET", path: `/networks/${encodeURIComponent(id)}` };
}

export function networkRemoveRequest(id: string): ApiRequest {
  return { method: "DELETE", path: `/networks/${encodeURIComponent(id)}` };
}

/**
 * Every container, running or stopped, that refers to any of the networks (as `docker ps --all
 * --filter network=A --filter network=B`). Given ids, the daemon matches the start of each
 * container's NetworkID (it would also match a value equal to the name it knows a network by).
 */
export function containersOnNetworkRequest(...networks: string[]): ApiRequest {
  const filters = encodeURIComponent(JSON.stringify({ network: networks }));
  return { method: "GET", path: `/containers/json?all=1&filters=${filters}` };
}

const ContainerList = z.array(
  z.object({
    Id: z.string(),
    Names: z.array(z.string()).nullish(),
    NetworkSettings: z
      .object({ Networks: z.record(z.string(), z.object({ NetworkID: z.string().nullish() }).nullish()).nullish() })
      .nullish(),
  }),
);

export interface ContainerUse {
  id: string;
  /** As the CLI shows it (the API prefixes each name with "/"). */
  name: string;
  /** The networks it refers to: each by the name the container knows it by, and its id when the daemon gives one. */
  networks: { name: string; id?: string }[];
}

export function parseContainerList(value: unknown): ContainerUse[] {
  return ContainerList.parse(value).map((c) => ({
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id).replace(/^\//, ""),
    networks: Object.entries(c.NetworkSettings?.Networks ?? {}).map(([name, n]) => ({ name, id: n?.NetworkID ?? undefined })),
  }));
}

/**
 * Whether the container refers to the network of this id: the daemon's own filter given that id
 * (a NetworkID starting with it; for a whole id, the same id).
 */
export function usesNetwork(container: ContainerUse, id: string): boolean {
  return id !== "" && container.networks.some((n) => n.id?.startsWith(id));
}

const CreatedJson = z.object({ Id: z.string() });

export function parseCreatedId(value: unknown): string {
  return CreatedJson.parse(value).Id;
}
