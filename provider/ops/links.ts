// Links a resource owns on a host (a shim, a VLAN subinterface): finding them, the checks before
// making one, and deleting one only while it is still what the resource made.

import { RunCommand } from "../ssh/connection";
import { buildLinkDelete, buildLinkShow, isNoSuchDevice, LinkInfo, parseLinks } from "../host/iproute";
import { applySteps, HostStep } from "./steps";

/** The link, or undefined when the host has no such device. */
export async function showLink(run: RunCommand, name: string): Promise<LinkInfo | undefined> {
  const result = await run(buildLinkShow(name), { allowFailure: (r) => isNoSuchDevice(r.stderr) });
  if (result.exitCode !== 0) return undefined;
  return parseLinks(result.stdout)[0];
}

export async function listLinks(run: RunCommand): Promise<LinkInfo[]> {
  return parseLinks((await run(buildLinkShow())).stdout);
}

/** Refuses a name already taken (never adopting someone else's link) or a missing parent; returns the parent. */
export async function requireNewLink(run: RunCommand, target: string, name: string, parent: string): Promise<LinkInfo> {
  if (await showLink(run, name)) {
    throw new Error(`${target}: interface "${name}" already exists; remove it or choose another name`);
  }
  const parentLink = await showLink(run, parent);
  if (!parentLink) throw new Error(`${target}: parent interface "${parent}" does not exist`);
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
    throw new Error(`${target}: "${name}" is now a ${link.kind ?? "plain"} link, not the ${kind} link this resource made; not deleting it`);
  }
  await applySteps(run, beforeDelete);
  if (link) await run(buildLinkDelete(name), { allowFailure: (r) => isNoSuchDevice(r.stderr) });
}
