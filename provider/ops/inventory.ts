// What is on a host already: its links and Docker networks, and the refusals that depend on
// them (the kernel's rule that macvlan and ipvlan ports never share a parent).

import { RefusalError } from "../errors";
import {
  buildNetworkInspect,
  buildNetworkListIds,
  InspectedNetwork,
  isNoSuchNetwork,
  NetworkSpec,
  parseIdList,
  parseNetworkInspect,
} from "../host/docker";
import { buildIsWireless, buildLinkShow, isNoSuchDevice, LinkInfo, parseLinks } from "../host/iproute";
import { RunCommand } from "../ssh/pool";

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

export async function listLinks(run: RunCommand): Promise<LinkInfo[]> {
  return parseLinks((await run(buildLinkShow())).stdout);
}

/** The network, or undefined when the host says it does not exist. Any other failure throws. */
export async function inspectNetwork(run: RunCommand, idOrName: string): Promise<InspectedNetwork | undefined> {
  const result = await run(buildNetworkInspect(idOrName), { allowFailure: (r) => isNoSuchNetwork(r.stderr) });
  if (result.exitCode !== 0) return undefined;
  const [network] = parseNetworkInspect(result.stdout);
  // `inspect NAME` also matches an id prefix; only an exact name or id counts.
  return network && (network.id === idOrName || network.name === idOrName) ? network : undefined;
}

/**
 * A host without the docker CLI has no networks to protect. Every command runs as
 * `env LC_ALL=C [sudo -n --] argv`: without sudo, `env` exits 127 when docker is missing;
 * with sudo, sudo exits 1 saying "docker: command not found".
 */
export function isDockerMissing(result: { exitCode: number; stderr: string }): boolean {
  return result.exitCode === 127 || (result.exitCode === 1 && /^sudo: .*command not found/m.test(result.stderr));
}

/** Every Docker network on the host; none when the host has no docker CLI at all. */
export async function listAllNetworks(run: RunCommand): Promise<InspectedNetwork[]> {
  const listed = await run(buildNetworkListIds(), { allowFailure: isDockerMissing });
  const ids = parseIdList(listed.stdout);
  if (ids.length === 0) return [];
  return parseNetworkInspect((await run(buildNetworkInspect(...ids))).stdout);
}

/** What is on a host already, for refusals that depend on it. */
export interface HostInventory {
  networks: InspectedNetwork[];
  links: LinkInfo[];
  /** The host, as error messages name it. */
  target: string;
}

/** Every Docker network and every link on the host. */
export async function hostInventory(run: RunCommand, target: string): Promise<HostInventory> {
  return { links: await listLinks(run), networks: await listAllNetworks(run), target };
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
