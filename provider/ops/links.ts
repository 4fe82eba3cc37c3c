// Links a resource owns on a host (a shim, a VLAN subinterface): the checks before making one,
// and deleting one only while it is still what the resource made.

import { createHash } from "node:crypto";
import { RefusalError } from "../errors";
import { buildLinkDelete, isNoSuchDevice, type LinkInfo } from "../host/iproute";
import type { RunCommand } from "../ssh/pool";
import { listLinks, showLink } from "./inventory";
import { applySteps, type HostStep } from "./steps";

const MARK_PREFIX = "pulumi-underlay:";

/**
 * The alias that marks a link as made by the resource with this owner: a short hash, since an
 * owner string may be long and the alias is visible to anyone on the host (IFALIASZ is 256).
 * 64 bits tell apart any number of resources a host will ever carry.
 */
export function linkMark(owner: string): string {
  return `${MARK_PREFIX}${createHash("sha256").update(owner).digest("hex").slice(0, 16)}`;
}

/**
 * Refuses a missing parent and a name already taken, never adopting someone else's link: a
 * link under the name is returned as `own` only when it carries `mark` (an earlier create of
 * this very resource made it, and its result never reached the state), for the caller to check
 * and complete. One marked by another resource is refused naming the mark; an unmarked one (or
 * any, when there is no mark to go by) as a taken name.
 */
export async function requireNewLink(
  run: RunCommand,
  target: string,
  name: string,
  parent: string,
  mark?: string,
): Promise<{ parent: LinkInfo; own?: LinkInfo }> {
  const existing = await showLink(run, name);
  if (existing) {
    if (mark !== undefined && existing.alias?.startsWith(MARK_PREFIX) && existing.alias !== mark) {
      throw new RefusalError(target, { kind: "otherOwner", object: "interface", name, owner: existing.alias, ours: mark });
    }
    if (mark === undefined || existing.alias !== mark) throw new RefusalError(target, { kind: "nameTaken", object: "interface", name });
  }
  const parentLink = await showLink(run, parent);
  if (!parentLink) {
    const hostHas = (await listLinks(run)).map((l) => l.name);
    throw new RefusalError(target, { kind: "parentMissing", parent, hostHas });
  }
  return { parent: parentLink, own: existing };
}

/**
 * What tells this resource's link from another that later took its name, recorded at create:
 * the kind and parent never change for a link; the ifindex and MAC change only when the link is
 * made again (a reboot replaying persisted links, or someone else's `ip link add`).
 */
export interface LinkIdentity {
  kind: string;
  parent: string;
  macAddress: string;
  ifindex: number;
}

export function identityOf(link: LinkInfo): LinkIdentity {
  return { kind: link.kind ?? "", parent: link.parent ?? "", macAddress: link.mac ?? "", ifindex: link.index ?? -1 };
}

/** What differs between the recorded link and the one the host has under its name, as "field was, now". */
export function identityDifferences(recorded: LinkIdentity, link: LinkInfo): string[] {
  const now = identityOf(link);
  const fields: [keyof LinkIdentity, string][] = [
    ["kind", "kind"],
    ["parent", "parent"],
    ["macAddress", "MAC"],
    ["ifindex", "ifindex"],
  ];
  return fields
    .filter(([key]) => recorded[key] !== now[key])
    .map(
      ([key, label]) => `${label} ${JSON.stringify(recorded[key])} when made, now ${JSON.stringify(now[key] === "" ? "none" : now[key])}`,
    );
}

/** The same link by kind and parent: what survives the link being made again at boot. */
export function sameKindAndParent(recorded: LinkIdentity, link: LinkInfo): boolean {
  const now = identityOf(link);
  return now.kind === recorded.kind && now.parent === recorded.parent;
}

/**
 * The link under `name` when it is still the one recorded (undefined when none has the name).
 * Another link with the name is refused, naming what differs. State from before identities were
 * recorded has only the kind to go by.
 */
export async function showOwnLink(
  run: RunCommand,
  target: string,
  name: string,
  kind: string,
  recorded: LinkIdentity | undefined,
): Promise<LinkInfo | undefined> {
  const link = await showLink(run, name);
  if (!link) return undefined;
  if (recorded) {
    const differences = identityDifferences(recorded, link);
    if (differences.length > 0) throw new RefusalError(target, { kind: "notOurs", name, expected: kind, actual: link.kind, differences });
  } else if (link.kind !== kind) {
    throw new RefusalError(target, { kind: "notOurs", name, expected: kind, actual: link.kind });
  }
  return link;
}

/**
 * Runs `beforeDelete` (removing persistence) and deletes the link. A link that is already gone
 * counts as deleted; one that is not the link recorded is someone else's and is left alone.
 */
export async function deleteOwnLink(
  run: RunCommand,
  target: string,
  name: string,
  kind: string,
  beforeDelete: readonly HostStep[],
  recorded?: LinkIdentity,
): Promise<void> {
  const link = await showOwnLink(run, target, name, kind, recorded);
  await applySteps(run, beforeDelete);
  if (link) await run(buildLinkDelete(name), { allowFailure: (r) => isNoSuchDevice(r.stderr) });
}
