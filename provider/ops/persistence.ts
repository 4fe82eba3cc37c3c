// Keeping a link across reboots, in whatever way the host manages its network: the method is
// detected on the host, never assumed, and every file written is read back by `read` so a
// file removed or edited by hand shows as drift.

import { RefusalError } from "../errors";
import {
  buildMakeDirectory,
  buildNetworkctlList,
  buildNetworkdActive,
  buildReadFile,
  buildRemoveEmptyDirectory,
  buildRemoveFiles,
  buildSystemdRunning,
  buildUnitDisable,
  buildUnitEnable,
  buildUnitIsEnabled,
  buildWriteFile,
  type HostFile,
  networkdFiles,
  type PersistentLink,
  type PersistMethod,
  parseNetworkFileOf,
  systemdUnitFiles,
} from "../host/persistentLinks";
import type { RunCommand } from "../ssh/pool";
import type { HostStep } from "./steps";

/** What the state records about how a link is persisted. */
export interface PersistRecord {
  method: PersistMethod;
  /** networkd only: the parent's .network file that the drop-in extends. */
  parentNetworkFile?: string;
}

/**
 * systemd-networkd when it runs and manages the parent (its .network file gets the drop-in);
 * otherwise a systemd unit, which works beside NetworkManager and ifupdown alike because it
 * only replays `ip` commands once the parent exists.
 */
export async function detectPersistMethod(run: RunCommand, parent: string, target: string): Promise<PersistRecord> {
  const networkd = await run(buildNetworkdActive(), { allowFailure: true });
  if (networkd.exitCode === 0) {
    const list = await run(buildNetworkctlList(), { allowFailure: true });
    const file = list.exitCode === 0 ? parseNetworkFileOf(list.stdout, parent) : undefined;
    if (file) return { method: "networkd", parentNetworkFile: file };
  }
  const systemd = await run(buildSystemdRunning(), { allowFailure: true });
  if (systemd.exitCode === 0) return { method: "systemd-unit" };
  throw new RefusalError(target, { kind: "persistUnsupported", parent });
}

function filesFor(link: PersistentLink, record: PersistRecord): HostFile[] {
  return record.method === "networkd" && record.parentNetworkFile ? networkdFiles(link, record.parentNetworkFile) : systemdUnitFiles(link);
}

function directoryOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/** Steps that write the files (and enable the unit); each written file is removed on undo. */
export function persistSteps(link: PersistentLink, record: PersistRecord): HostStep[] {
  const steps: HostStep[] = [];
  for (const file of filesFor(link, record)) {
    steps.push({ argv: buildMakeDirectory(directoryOf(file.path)) });
    steps.push({ argv: buildWriteFile(file.path), stdin: file.content, undo: buildRemoveFiles([file.path]) });
  }
  // networkd reads its files at boot; reloading now would reconfigure the (busy) parent.
  if (record.method === "systemd-unit") {
    const [reload, enable] = buildUnitEnable(link);
    steps.push({ argv: reload }, { argv: enable, undo: buildUnitDisable(link)[0] });
  }
  return steps;
}

/** Steps that remove every trace of the persistence. */
export function unpersistSteps(link: PersistentLink, record: PersistRecord): HostStep[] {
  const files = filesFor(link, record);
  const steps: HostStep[] = [];
  if (record.method === "systemd-unit") {
    const [disable, reload] = buildUnitDisable(link);
    steps.push({ argv: disable });
    steps.push({ argv: buildRemoveFiles(files.map((f) => f.path)) }, { argv: reload });
  } else {
    steps.push({ argv: buildRemoveFiles(files.map((f) => f.path)) });
    for (const dir of new Set(files.map((f) => directoryOf(f.path)).filter((d) => d.endsWith(".d")))) {
      steps.push({ argv: buildRemoveEmptyDirectory(dir) });
    }
  }
  return steps;
}

/** True when every file is on the host with exactly the content this link needs (and the unit is enabled). */
export async function isPersisted(run: RunCommand, link: PersistentLink, record: PersistRecord): Promise<boolean> {
  for (const file of filesFor(link, record)) {
    const read = await run(buildReadFile(file.path), { allowFailure: true });
    if (read.exitCode !== 0 || read.stdout !== file.content) return false;
  }
  if (record.method === "systemd-unit") {
    const enabled = await run(buildUnitIsEnabled(link), { allowFailure: true });
    if (enabled.exitCode !== 0) return false;
  }
  return true;
}

/**
 * The steps an update needs: remove the persistence when `persist` was turned off, otherwise
 * rewrite every file for the link as it now is (which also repairs files removed or edited by
 * hand). Returns the record the state keeps afterwards.
 */
export async function updatePersistenceSteps(
  run: RunCommand,
  target: string,
  before: { link: PersistentLink; record: PersistRecord | undefined },
  after: { link: PersistentLink; persist: boolean },
): Promise<{ steps: HostStep[]; record: PersistRecord | undefined }> {
  if (!after.persist) {
    return { steps: before.record ? unpersistSteps(before.link, before.record) : [], record: undefined };
  }
  const record = before.record ?? (await detectPersistMethod(run, after.link.parent, target));
  return { steps: persistSteps(after.link, record), record };
}
