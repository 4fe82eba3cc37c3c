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
  unitWantsLink,
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

/** What the host has of a link's persistence before a change. */
export interface PersistedNow {
  /** Each file's content by path; undefined when the file is not there. */
  files: Map<string, string | undefined>;
  /** systemd-unit only: the unit is enabled already. */
  enabled: boolean;
}

/** A file's content, or undefined when it does not exist; any other failure to read it throws. */
async function readHostFile(run: RunCommand, path: string): Promise<string | undefined> {
  const read = await run(buildReadFile(path), { allowFailure: (r) => /No such file or directory/.test(r.stderr) });
  return read.exitCode === 0 ? read.stdout : undefined;
}

/** The link's persistence as the host has it now (what an update's undo must put back). */
export async function readPersisted(run: RunCommand, link: PersistentLink, record: PersistRecord): Promise<PersistedNow> {
  const files = new Map<string, string | undefined>();
  for (const file of filesFor(link, record)) files.set(file.path, await readHostFile(run, file.path));
  const enabled = record.method === "systemd-unit" && (await run(buildUnitIsEnabled(link), { allowFailure: true })).exitCode === 0;
  return { files, enabled };
}

/**
 * Steps that write the files (and enable the unit). Without `now` (a create) every file is new
 * and its undo removes it. With `now` (an update) a file that already has the content is left
 * alone, one that exists is written back as it was on undo, and a unit that was enabled stays
 * enabled: a failed update leaves the persistence that worked before.
 */
export function persistSteps(link: PersistentLink, record: PersistRecord, now?: PersistedNow): HostStep[] {
  const steps: HostStep[] = [];
  let written = false;
  for (const file of filesFor(link, record)) {
    const before = now?.files.get(file.path);
    if (before === file.content) continue;
    written = true;
    steps.push({ argv: buildMakeDirectory(directoryOf(file.path)) });
    steps.push(
      before === undefined
        ? { argv: buildWriteFile(file.path), stdin: file.content, undo: buildRemoveFiles([file.path]) }
        : { argv: buildWriteFile(file.path), stdin: file.content, undo: buildWriteFile(file.path), undoStdin: before },
    );
  }
  // networkd reads its files at boot; reloading now would reconfigure the (busy) parent.
  if (record.method === "systemd-unit") {
    const [reload, enable] = buildUnitEnable(link);
    if (written) steps.push({ argv: reload });
    if (!now?.enabled) steps.push({ argv: enable, undo: buildUnitDisable(link)[0] });
  }
  return steps;
}

/**
 * Steps that remove every trace of the persistence, and still succeed when someone removed
 * some or all of it by hand (a delete must not get stuck on what is already gone): `rm -f`
 * instead of `systemctl disable`, which fails once the unit file is missing, and an `rmdir`
 * of a drop-in directory that `mkdir -p` makes sure exists.
 */
export function unpersistSteps(link: PersistentLink, record: PersistRecord): HostStep[] {
  const files = filesFor(link, record);
  const steps: HostStep[] = [];
  if (record.method === "systemd-unit") {
    const [reload] = buildUnitEnable(link);
    steps.push({ argv: buildRemoveFiles([unitWantsLink(link), ...files.map((f) => f.path)]) }, { argv: reload });
  } else {
    steps.push({ argv: buildRemoveFiles(files.map((f) => f.path)) });
    for (const dir of new Set(files.map((f) => directoryOf(f.path)).filter((d) => d.endsWith(".d")))) {
      steps.push({ argv: buildMakeDirectory(dir) }, { argv: buildRemoveEmptyDirectory(dir) });
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
 * hand), undoing to what the host had before. Returns the record the state keeps afterwards.
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
  return { steps: persistSteps(after.link, record, await readPersisted(run, after.link, record)), record };
}
