// The lab the integration suite runs against, started once for the whole run and stopped
// after it, even when tests fail. LAB_KIND=netns (default) or vm picks the kind; the tests are
// the same for both.

import { strict as assert } from "node:assert";
import type * as pulumi from "@pulumi/pulumi";
import { RefusalError, type RefusalKind, TransportError, type TransportReason } from "../../provider/errors";
import { closeAllSessions } from "../../provider/ssh/pool";
import type { Lab, LabHost } from "../lab/types";

let started: Promise<Lab> | undefined;

export function lab(): Promise<Lab> {
  if (!started) {
    const kind = process.env.LAB_KIND ?? "netns";
    started =
      kind === "vm"
        ? import("../lab/vmLab").then((m) => m.startVmLab())
        : import("../lab/netnsLab").then((m) => m.startNetnsLab({ hosts: 1 }));
  }
  return started;
}

/** A connection input that reaches the lab host with its pinned host key. */
export function connectionFor(host: LabHost, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    host: host.ssh.host,
    port: host.ssh.port,
    user: host.ssh.user,
    privateKey: host.ssh.privateKey,
    hostKey: host.ssh.hostPublicKey,
    ...overrides,
  };
}

/**
 * What a host looks like, for "nothing changed" assertions: its Docker networks and its
 * `ip -j` links, addresses and routes, each entry on a line of its own, sorted. What changes
 * by itself (address lifetimes, duplicate address detection) is left out.
 */
export async function snapshotHost(host: LabHost): Promise<string> {
  const ipJson = ["link", "address", "route", "-6 route"].map((what) => host.exec(["ip", "-j", ...what.split(" "), "show"]));
  const parts = await Promise.all([
    host.docker(["network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.Driver}}"]).then((r) => r.stdout.split("\n")),
    ...ipJson.map((p) => p.then((r) => (JSON.parse(r.stdout || "[]") as unknown[]).map(withoutTransient))),
  ]);
  return parts
    .map((lines) =>
      lines
        .filter((l) => l !== "")
        .sort()
        .join("\n"),
    )
    .join("\n--\n");
}

// Address lifetimes count down on a SLAAC address; "tentative" is set while the kernel's duplicate
// address detection runs (the first second or so of a new link, a fresh lab's included).
const TRANSIENT = new Set(["valid_life_time", "preferred_life_time", "tentative"]);

function withoutTransient(entry: unknown): string {
  return JSON.stringify(entry, (key, value) => (TRANSIENT.has(key) ? undefined : value));
}

/**
 * A read right after a create returns what the host has, mapped as the inputs were written: its
 * diff against those inputs must be empty, or every `pulumi refresh` would show drift.
 */
export async function assertReadsBackAsAsked(
  provider: Pick<pulumi.dynamic.ResourceProvider, "read" | "diff">,
  id: string,
  outs: object,
  inputs: Record<string, unknown>,
): Promise<void> {
  const read = await provider.read!(id, outs);
  assert.equal(read.id, id, "the object just created reads as gone");
  const diff = await provider.diff!(id, read.props, inputs);
  assert.equal(diff.changes, false, `read after create differs from the inputs: ${JSON.stringify(diff)}`);
}

/** An assert.rejects check: a RefusalError of this kind, naming these objects, saying this. */
export function refused(kind: RefusalKind, names: string[] | undefined, text: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof RefusalError, `expected a RefusalError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (names) assert.deepEqual(err.names, names);
    assert.match(err.message, text);
    return true;
  };
}

/** An assert.rejects check: a TransportError for this reason, saying this. */
export function transportFailed(reason: TransportReason, text: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, text);
    return true;
  };
}

let unique = 0;
/** A short name nobody else on the host uses (interface names stop at 15 bytes). */
export function uniqueName(prefix: string): string {
  unique += 1;
  return `${prefix}${process.pid % 1000}x${unique}`;
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(180_000);
    closeAllSessions();
    if (started) {
      const running = await started.catch(() => undefined);
      await running?.stop();
    }
  },
};
