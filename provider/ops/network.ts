// The lifecycle of a Docker network on one host, shared by MacvlanNetwork and IpvlanNetwork:
// the resource files decide what the network is (a NetworkSpec); this module makes, finds and
// removes it, with the checks an operator would do by hand first.

import { HostRunner, RunCommand } from "../ssh/connection";
import {
  buildContainersOnNetwork,
  buildNetworkCreate,
  buildNetworkInspect,
  buildNetworkListIds,
  buildNetworkRemove,
  InspectedNetwork,
  isNoSuchNetwork,
  NetworkSpec,
  parseContainerLines,
  parseIdList,
  parseNetworkInspect,
} from "../host/docker";
import { LinkInfo } from "../host/iproute";
import { listLinks } from "./links";
import { parsePrefix, prefixesOverlap } from "../ipnet";

/** The network, or undefined when the host says it does not exist. Any other failure throws. */
export async function inspectNetwork(run: RunCommand, idOrName: string): Promise<InspectedNetwork | undefined> {
  const result = await run(buildNetworkInspect(idOrName), { allowFailure: (r) => isNoSuchNetwork(r.stderr) });
  if (result.exitCode !== 0) return undefined;
  const [network] = parseNetworkInspect(result.stdout);
  // `inspect NAME` also matches an id prefix; only an exact name or id counts.
  return network && (network.id === idOrName || network.name === idOrName) ? network : undefined;
}

/** Every Docker network on the host; none when the host has no docker CLI at all. */
export async function listAllNetworks(run: RunCommand): Promise<InspectedNetwork[]> {
  // 127 is the shell's "command not found": a host without Docker has no networks to protect.
  const listed = await run(buildNetworkListIds(), { allowFailure: (r) => r.exitCode === 127 });
  const ids = parseIdList(listed.stdout);
  if (ids.length === 0) return [];
  return parseNetworkInspect((await run(buildNetworkInspect(...ids))).stdout);
}

/** Differences between what was asked and what a host has, as "field: asked X, host has Y". */
export function specDifferences(spec: NetworkSpec, actual: NetworkSpec): string[] {
  const differences: string[] = [];
  const show = (v: unknown) => (v === undefined ? "nothing" : JSON.stringify(v));
  const compare = (field: string, asked: unknown, has: unknown) => {
    if (JSON.stringify(asked) !== JSON.stringify(has)) differences.push(`${field}: asked ${show(asked)}, host has ${show(has)}`);
  };
  compare("driver", spec.driver, actual.driver);
  for (const [key, value] of Object.entries(spec.options)) compare(`option ${key}`, value, actual.options[key]);
  compare("ipv6", spec.enableIPv6, actual.enableIPv6);
  compare("internal", spec.internal, actual.internal);
  compare("labels", sortKeys(spec.labels), sortKeys(actual.labels));
  compare("subnets", spec.ipam.map((c) => c.subnet).sort(), actual.ipam.map((c) => c.subnet).sort());
  for (const asked of spec.ipam) {
    const family = parsePrefix(asked.subnet)?.family;
    const has = actual.ipam.find((c) => c.subnet === asked.subnet);
    compare(`IPv${family} subnet`, asked.subnet, has?.subnet);
    if (asked.gateway) compare(`IPv${family} gateway`, asked.gateway, has?.gateway);
    compare(`IPv${family} ip range`, asked.ipRange, has?.ipRange);
    compare(`IPv${family} aux addresses`, sortKeys(asked.auxAddresses), sortKeys(has?.auxAddresses ?? {}));
  }
  return differences;
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
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
      throw new Error(`${host.target}: Docker ${other} network "${n.name}" uses parent "${parent}"; the kernel cannot put ${driver} and ${other} ports on one parent`);
    }
  }
  for (const l of host.links) {
    if (l.parent === parent && l.kind === other) {
      throw new Error(`${host.target}: ${other} interface "${l.name}" (a host shim?) already sits on parent "${parent}"; the kernel cannot put ${driver} and ${other} ports on one parent`);
    }
  }
}

/** Docker allows one network of a driver per parent; besides, the kernel's rule above. */
export function parentConflicts(parent: string, driver: NetworkSpec["driver"], host: HostInventory): void {
  const same = host.networks.find((n) => n.options.parent === parent && n.driver === driver);
  if (same) {
    throw new Error(`${host.target}: Docker network "${same.name}" already uses parent "${parent}" with the ${driver} driver; Docker allows one ${driver} network per parent`);
  }
  kernelParentConflicts(parent, driver, host);
}

export interface CreateOptions {
  /** Take over an existing network of the same name when its settings match the spec. */
  adopt: boolean;
  /** Extra checks a driver needs against what is already on the host (ipvlan's parent rules). */
  precheck?: (context: HostInventory) => void;
}

/**
 * Creates the network, or adopts an identical existing one. Everything that can be checked is
 * checked before `docker network create`, the only step that changes the host, so a refusal
 * leaves the host exactly as it was.
 */
export function createNetwork(host: HostRunner, spec: NetworkSpec, options: CreateOptions): Promise<InspectedNetwork> {
  return host.exclusive(async (run) => {
    const existing = await inspectNetwork(run, spec.name);
    if (existing) {
      if (!options.adopt) {
        throw new Error(
          `${host.target}: a Docker network named "${spec.name}" already exists (id ${existing.id.slice(0, 12)}); ` +
            `set adopt: true to take it over if its settings match, or choose another name`,
        );
      }
      const differences = specDifferences(spec, existing);
      if (differences.length > 0) {
        throw new Error(
          `${host.target}: cannot adopt Docker network "${spec.name}": its settings differ:\n  - ${differences.join("\n  - ")}`,
        );
      }
      return existing;
    }

    const inventory = await hostInventory(run, host.target);
    const { links, networks } = inventory;
    const parent = spec.options.parent;
    if (parent && !links.some((l) => l.name === parent)) {
      // Docker creates "<base>.<vlan id>" itself when the base exists (and removes it again).
      const vlanBase = /^(.+)\.(\d{1,4})$/.exec(parent)?.[1];
      if (!vlanBase || !links.some((l) => l.name === vlanBase)) {
        throw new Error(
          `${host.target}: parent interface "${parent}" does not exist on the host (it has: ${links.map((l) => l.name).join(", ")})`,
        );
      }
    }

    for (const asked of spec.ipam) {
      const askedPrefix = parsePrefix(asked.subnet);
      for (const other of networks) {
        for (const config of other.ipam) {
          const otherPrefix = parsePrefix(config.subnet);
          if (askedPrefix && otherPrefix && prefixesOverlap(askedPrefix, otherPrefix)) {
            throw new Error(
              `${host.target}: subnet ${asked.subnet} overlaps ${config.subnet} of existing Docker network "${other.name}" (id ${other.id.slice(0, 12)})`,
            );
          }
        }
      }
    }
    options.precheck?.(inventory);

    const created = await run(buildNetworkCreate(spec));
    const id = created.stdout.trim();
    const network = await inspectNetwork(run, id);
    if (!network) throw new Error(`${host.target}: Docker reported network ${id} created, but cannot inspect it`);
    return network;
  });
}

/**
 * Removes the network. Refuses, naming them, while containers (running or stopped) still use
 * it; a network that is already gone counts as deleted.
 */
export function deleteNetwork(host: HostRunner, id: string, name: string): Promise<void> {
  return host.exclusive(async (run) => {
    const network = await inspectNetwork(run, id);
    if (!network) return;
    const users = parseContainerLines((await run(buildContainersOnNetwork(id))).stdout);
    const attached = [...new Set([...users.map((c) => c.name), ...network.containers.map((c) => c.name)])];
    if (attached.length > 0) {
      throw new Error(
        `${host.target}: Docker network "${name}" is still used by container(s) ${attached.join(", ")}; ` +
          `remove them or disconnect them from the network first`,
      );
    }
    await run(buildNetworkRemove(id), { allowFailure: (r) => isNoSuchNetwork(r.stderr) });
  });
}
