// What is on a host already: its links and Docker networks, and the refusals that depend on
// them (the kernel's rule that macvlan and ipvlan ports never share a parent).

import { DockerApiError, RefusalError } from "../errors";
import {
  type ApiRequest,
  type InspectedNetwork,
  type NetworkSpec,
  networkInspectRequest,
  networkListRequest,
  parseNetworkJson,
} from "../host/docker";
import {
  buildAddressDump,
  buildAnyWireless,
  buildIsWireless,
  buildLinkShow,
  buildRouteDump,
  isNoSuchDevice,
  type LinkDump,
  type LinkInfo,
  parseLinkDump,
  parseLinks,
} from "../host/iproute";
import type { DockerApi, DockerResponse } from "../ssh/dockerApi";
import type { RunCommand } from "../ssh/pool";

/** What Docker calls need of a host: its name for messages and its Engine API. */
export interface DockerHost {
  readonly target: string;
  readonly docker: DockerApi;
}

/** The link, or undefined when the host has no such device. */
export async function showLink(run: RunCommand, name: string): Promise<LinkInfo | undefined> {
  const result = await run(buildLinkShow(name), { allowFailure: (r) => isNoSuchDevice(r.stderr) });
  if (result.exitCode !== 0) return undefined;
  return parseLinks(result.stdout)[0];
}

/** Whether the link is Wi-Fi, where an access point drops frames from MAC addresses it never associated. */
export async function isWireless(run: RunCommand, name: string): Promise<boolean> {
  return (await run(buildIsWireless(name), { allowFailure: true })).exitCode === 0;
}

/** Above this many candidates the one `test` would be a long command line: each parent is asked alone instead. */
export const ANY_WIRELESS_MAX = 256;

/**
 * Whether any of the links may be Wi-Fi, in one command. False means none is, so no per-link
 * check is needed; true means one is, or the question was not settled (more candidates than
 * ANY_WIRELESS_MAX, or `test` exiting 2: it could not parse), and each link in question is
 * checked on its own. Only links without a kind (hardware NICs) are asked about: the kernel
 * gives the `wireless` folder to a Wi-Fi device itself, never to a veth, bridge, VLAN or macvlan.
 */
export async function anyWireless(run: RunCommand, links: readonly LinkInfo[]): Promise<boolean> {
  const candidates = links.filter((l) => l.kind === undefined).map((l) => l.name);
  if (candidates.length === 0) return false;
  if (candidates.length > ANY_WIRELESS_MAX) return true;
  return (await run(buildAnyWireless(candidates), { allowFailure: true })).exitCode !== 1;
}

/** Every link with its addresses and routes: three listings, side by side. */
export async function dumpLinks(run: RunCommand): Promise<LinkDump> {
  const [addresses, routes4, routes6] = await Promise.all([run(buildAddressDump()), run(buildRouteDump(4)), run(buildRouteDump(6))]);
  return parseLinkDump(addresses.stdout, routes4.stdout, routes6.stdout);
}

export async function listLinks(run: RunCommand): Promise<LinkInfo[]> {
  return parseLinks((await run(buildLinkShow())).stdout);
}

/** Sends the request; any status but the expected ones throws a DockerApiError with the daemon's message. */
export async function callDocker(host: DockerHost, request: ApiRequest, expected: number[]): Promise<DockerResponse> {
  const response = await host.docker.request(request.method, request.path, request.body);
  if (!expected.includes(response.status)) {
    throw new DockerApiError(host.target, request.method, request.path, response.status, response.text);
  }
  return response;
}

/** The network, or undefined when the daemon says it does not exist. Any other failure throws. */
export async function inspectNetwork(host: DockerHost, idOrName: string): Promise<InspectedNetwork | undefined> {
  const response = await callDocker(host, networkInspectRequest(idOrName), [200, 404]);
  if (response.status === 404) return undefined;
  const [network] = parseNetworkJson(response.json);
  // The daemon also matches an id prefix; only an exact name or id counts.
  return network && (network.id === idOrName || network.name === idOrName) ? network : undefined;
}

/**
 * A host without the docker CLI has no networks to protect. dial-stdio runs as
 * `env LC_ALL=C timeout -k 1 N [sudo -n --] docker ...`: without sudo, `timeout` exits 127 when
 * docker is missing; with sudo, sudo exits 1 saying "docker: command not found".
 */
export function isDockerMissing(result: { exitCode: number; stderr: string }): boolean {
  return result.exitCode === 127 || (result.exitCode === 1 && /^sudo: .*command not found/m.test(result.stderr));
}

function dockerMissing(err: unknown): boolean {
  if (!(err instanceof DockerApiError) || err.status !== undefined) return false;
  const stderr = err.streamStderr ?? "";
  // The stream may be reported closed before its exit status (the HTTP client dropped it
  // first); timeout's (or env's) own message then stands for exit status 127.
  const exitCode =
    err.streamExitCode ??
    (/^(timeout: failed to run command|env:) .docker.: No such file or directory/m.test(stderr)
      ? 127
      : /^sudo: .*command not found/m.test(stderr)
        ? 1
        : -1);
  return isDockerMissing({ exitCode, stderr });
}

/** Every Docker network on the host, in one request (entries carry no containers). */
export async function listNetworks(host: DockerHost): Promise<InspectedNetwork[]> {
  return parseNetworkJson((await callDocker(host, networkListRequest(), [200])).json);
}

/** Every Docker network on the host; none when the host has no docker CLI at all. */
export async function listAllNetworks(host: DockerHost): Promise<InspectedNetwork[]> {
  try {
    return await listNetworks(host);
  } catch (err) {
    if (dockerMissing(err)) return [];
    throw err;
  }
}

/** What is on a host already, for refusals that depend on it. */
export interface HostInventory {
  networks: InspectedNetwork[];
  links: LinkInfo[];
  /** The host, as error messages name it. */
  target: string;
}

/** Every Docker network and every link on the host (`links` when the caller started that listing), fetched side by side. */
export async function hostInventory(run: RunCommand, host: DockerHost, links = listLinks(run)): Promise<HostInventory> {
  const [linkList, networks] = await Promise.all([links, listAllNetworks(host)]);
  return { links: linkList, networks, target: host.target };
}

/**
 * The kernel refuses macvlan and ipvlan ports on one parent ("device or resource busy", which
 * Docker reports only at the first container attach). Found here first, naming what is in the way.
 */
export function kernelParentConflicts(parent: string, driver: NetworkSpec["driver"], host: HostInventory): void {
  const other = driver === "macvlan" ? "ipvlan" : "macvlan";
  for (const n of host.networks) {
    if (n.options.parent === parent && n.driver === other) {
      throw new RefusalError(host.target, { kind: "parentConflict", parent, driver, other, network: n.name });
    }
  }
  for (const l of host.links) {
    if (l.parent === parent && l.kind === other) {
      throw new RefusalError(host.target, { kind: "parentConflict", parent, driver, other, link: l.name });
    }
  }
}

/** Docker allows one network of a driver per parent; besides, the kernel's rule above. */
export function parentConflicts(parent: string, driver: NetworkSpec["driver"], host: HostInventory): void {
  const same = host.networks.find((n) => n.options.parent === parent && n.driver === driver);
  if (same) throw new RefusalError(host.target, { kind: "parentTaken", parent, driver, network: same.name });
  kernelParentConflicts(parent, driver, host);
}
