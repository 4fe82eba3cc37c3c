// The lifecycle of a Docker network on one host, shared by MacvlanNetwork and IpvlanNetwork:
// the resources decide what the network is (a NetworkSpec); this module makes and removes it,
// with the checks an operator would do by hand first.

import { DockerApiError, RefusalError, TransportError } from "../errors";
import {
  apiVersionAtLeast,
  ENABLE_IPV4_API,
  type InspectedNetwork,
  ipamOfFamily,
  type NetworkSpec,
  networkCreateRequest,
  networkRemoveRequest,
  parseCreatedId,
  parseMajorVersion,
  parseServerApiVersion,
  parseServerVersion,
  versionRequest,
} from "../host/docker";
import { subnetsOverlap } from "../ipnet";
import type { HostRunner } from "../ssh/pool";
import { PENDING_ID, viewOf } from "./hostView";
import { callDocker, type HostInventory, inspectNetwork } from "./inventory";

export interface CreateOptions {
  /**
   * Take over an existing network of the same name when `differences` (what the spec asks
   * against what the host has) finds none.
   */
  adopt: boolean;
  differences: (existing: InspectedNetwork) => string[];
  /** Extra checks a driver needs against what is already on the host (parent rules). */
  precheck?: (context: HostInventory) => void;
}

/**
 * The first Docker major version with IPv6-only networks (`EnableIPv4: false`, Engine API 1.48;
 * experimental in 27).
 * Before it a network given only an IPv6 subnet gets an IPv4 subnet from the daemon's default
 * pools anyway (measured: 20.10.24 added 172.17.0.0/16, 26.1.5 added 172.18.0.0/16).
 */
export const IPV6_ONLY_SINCE = 28;

export function isIpv6Only(spec: NetworkSpec): boolean {
  return spec.ipam.length > 0 && spec.ipam.every((c) => c.subnet.includes(":"));
}

/** Refusals that need only the spec and the inventory: a missing parent, an overlapping subnet. */
export function networkRefusals(spec: NetworkSpec, inventory: HostInventory): void {
  const { links, networks, target } = inventory;
  const parent = spec.options.parent;
  if (parent && !links.some((l) => l.name === parent)) {
    // Docker creates "<base>.<vlan id>" itself when the base exists (and removes it again).
    const vlanBase = /^(.+)\.(\d{1,4})$/.exec(parent)?.[1];
    if (!vlanBase || !links.some((l) => l.name === vlanBase)) {
      throw new RefusalError(target, { kind: "parentMissing", parent, hostHas: links.map((l) => l.name) });
    }
  }
  for (const asked of spec.ipam) {
    for (const other of networks) {
      const clash = other.ipam.find((config) => subnetsOverlap(asked.subnet, config.subnet));
      if (clash) {
        throw new RefusalError(target, {
          kind: "subnetOverlap",
          subnet: asked.subnet,
          network: other.name,
          networkSubnet: clash.subnet,
          networkId: other.id,
        });
      }
    }
  }
}

/**
 * Creates the network, or adopts an identical existing one. Everything that can be checked is
 * checked before the create request, the only step that changes the host, so a refusal leaves
 * the host exactly as it was. Creates that run together check against one inventory of the
 * host, in which each claims its network (name, parent, subnets) before asking Docker, so two
 * of them can never both pass a check the other would fail.
 */
export function createNetwork(host: HostRunner, spec: NetworkSpec, options: CreateOptions): Promise<InspectedNetwork> {
  const view = viewOf(host);
  return host.shared((run) =>
    view.write(async () => {
      const inventory = await view.inventory(host, run);
      // The checks that ask the host come first: from the name check to the claim nothing may
      // await, so creates running together each see the others' claims.
      if (isIpv6Only(spec)) {
        const answer = (await callDocker(host, versionRequest(), [200])).json;
        const version = parseServerVersion(answer);
        const major = parseMajorVersion(version);
        if (major === undefined || major < IPV6_ONLY_SINCE || !apiVersionAtLeast(parseServerApiVersion(answer), ENABLE_IPV4_API)) {
          throw new RefusalError(host.target, {
            kind: "dockerTooOld",
            feature: "an IPv6-only network",
            needs: `${IPV6_ONLY_SINCE}.0`,
            version,
          });
        }
      }
      const parent = spec.options.parent;
      if (spec.driver === "macvlan" && parent !== undefined && (await view.isWireless(run, inventory, parent))) {
        throw new RefusalError(host.target, { kind: "wifiParent", parent, driver: "macvlan" });
      }
      const existing = inventory.networks.find((n) => n.name === spec.name);
      if (existing) return takeExisting(host.target, spec, existing, options);
      networkRefusals(spec, inventory);
      options.precheck?.(inventory);

      const claim = view.claim(inventory, spec);
      let network: InspectedNetwork | undefined;
      try {
        const created = await view.networkChanges.take(() => callDocker(host, networkCreateRequest(spec), [201]));
        const id = parseCreatedId(created.json);
        network = await view.created(host, id);
        if (!network) throw new RefusalError(host.target, { kind: "vanished", object: "Docker network", name: id, during: "create" });
        const ipv4 = isIpv6Only(spec) ? ipamOfFamily(network.ipam, 4) : undefined;
        if (ipv4) {
          // The daemon ignored EnableIPv4: false: an IPv4 subnet from its pools is not what was asked.
          network = undefined;
          await view.networkChanges.take(() => callDocker(host, networkRemoveRequest(id), [204, 200, 404]));
          throw new RefusalError(host.target, { kind: "ipv4Added", network: spec.name, subnet: ipv4.subnet });
        }
      } catch (err) {
        if (outcomeUnknown(err)) await removeLateNetwork(host, spec);
        throw vlanRefusal(host.target, spec, inventory, err) ?? err;
      } finally {
        claim.settle(network);
      }
      // Docker makes a missing "<base>.<vlan id>" parent itself: the inventory's links are stale.
      if (spec.options.parent && !inventory.links.some((l) => l.name === spec.options.parent)) view.invalidate();
      return network;
    }),
  );
}

/**
 * A network of the asked name is already on the host. One carrying this resource's owner mark
 * is what an earlier create of it made whose result never reached the state (a crash, a lost
 * connection, a lost state): it is adopted when it is exactly what is asked, and refused naming
 * what differs otherwise (Docker cannot change a network, and replacing it silently could drop
 * containers). One marked by another resource (another stack declaring the same name) is never
 * adopted, `adopt: true` or not. An unmarked one is someone else's: refused unless `adopt: true`.
 */
function takeExisting(target: string, spec: NetworkSpec, existing: InspectedNetwork, options: CreateOptions): InspectedNetwork {
  // Another create in this process claimed the name and Docker has not answered it yet: there
  // is nothing to compare or adopt, only a name two resources declare.
  if (existing.id === PENDING_ID) {
    throw new RefusalError(target, { kind: "nameTaken", object: "network", name: spec.name, id: existing.id, pending: true });
  }
  if (existing.owner !== undefined && existing.owner !== spec.owner) {
    throw new RefusalError(target, {
      kind: "otherOwner",
      object: "Docker network",
      name: spec.name,
      owner: existing.owner,
      ours: spec.owner,
    });
  }
  const ours = existing.owner !== undefined;
  if (!ours && !options.adopt) {
    throw new RefusalError(target, { kind: "nameTaken", object: "network", name: spec.name, id: existing.id });
  }
  const differences = options.differences(existing);
  if (differences.length > 0) {
    throw new RefusalError(
      target,
      ours
        ? { kind: "resumeMismatch", object: "Docker network", name: spec.name, differences }
        : { kind: "adoptMismatch", name: spec.name, differences },
    );
  }
  return existing;
}

/**
 * Docker makes a missing "<base>.<vlan id>" parent itself, and on a kernel without 802.1q it
 * fails late in its own words ("operation not supported", "Unknown device type"): said as what
 * it is, a refusal naming the parent. Anything else is left as it came.
 */
function vlanRefusal(target: string, spec: NetworkSpec, inventory: HostInventory, err: unknown): RefusalError | undefined {
  const parent = spec.options.parent;
  if (!(err instanceof DockerApiError) || err.status === undefined || parent === undefined) return undefined;
  if (inventory.links.some((l) => l.name === parent) || !VLAN_UNSUPPORTED.test(err.message)) return undefined;
  return new RefusalError(target, { kind: "vlanUnsupported", parent, said: err.message.replace(/^.*? answered \d+: /, "") });
}

const VLAN_UNSUPPORTED = /not supported|Unknown device type/i;

/** A failure after which the request may or may not have reached the daemon. */
function outcomeUnknown(err: unknown): boolean {
  return (err instanceof TransportError && err.commandMayHaveRun) || (err instanceof DockerApiError && err.status === undefined);
}

/**
 * After a create whose outcome is unknown (the stream broke, the answer timed out), the host is
 * read again and a network of the name carrying this resource's mark (it was free a moment
 * before) is removed, so no late effect is left behind unrecorded. When the host cannot be
 * reached to check, the next create finds the network by its mark and adopts it.
 */
async function removeLateNetwork(host: HostRunner, spec: NetworkSpec): Promise<void> {
  if (spec.owner === undefined) return;
  try {
    const late = await inspectNetwork(host, spec.name);
    if (late?.owner === spec.owner) {
      await viewOf(host).networkChanges.take(() => callDocker(host, networkRemoveRequest(late.id), [204, 200, 404]));
    }
  } catch {
    // The create's own failure is what the caller needs to see.
  }
}

/**
 * Removes the network. Refuses, naming them, while containers (running or stopped) still use
 * it; a network that is already gone counts as deleted.
 */
export function deleteNetwork(host: HostRunner, id: string, name: string): Promise<void> {
  const view = viewOf(host);
  return host.shared(() =>
    view.write(async () => {
      const users = await view.users(host, id);
      if (users.length > 0) {
        throw new RefusalError(host.target, { kind: "inUse", object: "network", name, containers: users.map((c) => c.name) });
      }
      await view.networkChanges.take(() => callDocker(host, networkRemoveRequest(id), [204, 200, 404]));
      view.removed(id);
    }),
  );
}

/** The network as the host has it now, from one listing shared by the reads issued with it. */
export async function readNetwork(host: HostRunner, id: string): Promise<InspectedNetwork | undefined> {
  return (await viewOf(host).networks(host)).find((n) => n.id === id);
}
