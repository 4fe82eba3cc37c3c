// Links a resource owns on a host (a shim, a VLAN subinterface): the checks before making one,
// and deleting one only while it is still what the resource made.

import { RefusalError } from "../errors";
import { buildLinkDelete, isNoSuchDevice, LinkInfo } from "../host/iproute";
import { RunCommand } from "../ssh/pool";
import { listLinks, showLink } from "./inventory";
import { applySteps, HostStep } from "./steps";

/** Refuses a name already taken (never adopting someone else's link) or a missing parent; returns the parent. */
export async function requireNewLink(run: RunCommand, target: string, name: string, parent: string): Promise<LinkInfo> {
  if (await showLink(run, name)) throw new RefusalError(target, { kind: "nameTaken", object: "interface", name });
  const parentLink = await showLink(run, parent);
  if (!parentLink) {
    const hostHas = (await listLinks(run)).map((l) => l.name);
    throw new RefusalError(target, { kind: "parentMissing", parent, hostHas });
  }
  return parentLink;
}

/**
 * Runs `beforeDelete` (removing persistence) and deletes the link. A link that is already gone
 * counts as deleted; one that is now of another kind is someone else's and is left alone.
 */
export async function deleteOwnLink(
  run: RunCommand,
  target: string,
  name: string,
  kind: string,
  beforeDelete: readonly HostStep[],
): Promise<void> {
  const link = await showLink(run, name);
  if (link && link.kind !== kind) {
    throw new RefusalError(target, { kind: "notOurs", name, expected: kind, actual: link.kind });
  }
  await applySteps(run, beforeDelete);
  if (link) await run(buildLinkDelete(name), { allowFailure: (r) => isNoSuchDevice(r.stderr) });
}
