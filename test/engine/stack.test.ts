// The real Pulumi engine (the CLI tools/engine/build.sh builds) drives a macvlan network and a
// host shim on a netns lab host through preview, up, refresh and destroy. Every test asserts
// on the host's own state (docker network inspect, ip -j) and on what the engine reported
// (its events and change summaries), never on what the provider says it did.

import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { snapshotHost, uniqueName } from "../integration/fixture";
import { type NetnsLab, startNetnsLab } from "../lab/netnsLab";
import type { LabHost } from "../lab/types";
import { recordFigure } from "../support/figures";
import { installedVersion, installPackedProject } from "../support/packedProject";
import { secretOccurrences, secretPieces } from "../support/safeMessage";
import { changesIn, collector, type EngineStack, NetworkCanary, openStack } from "./engine";

const SUBNET = "198.51.100.0/24";
const RANGE = "198.51.100.128/26";
const NEW_RANGE = "198.51.100.192/26";
const SHIM_IP = "198.51.100.250";

interface InspectedNetwork {
  Id: string;
  Driver: string;
  Options: Record<string, string>;
  IPAM: { Config: { Subnet: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[] };
}

async function inspectNetwork(host: LabHost, name: string): Promise<InspectedNetwork | undefined> {
  const r = await host.docker(["network", "inspect", name], { allowFail: true });
  return r.code === 0 ? (JSON.parse(r.stdout) as InspectedNetwork[])[0] : undefined;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  address: string;
}

async function link(host: LabHost, name: string): Promise<IpLink | undefined> {
  const r = await host.exec(["ip", "-j", "link", "show", "dev", name], { allowFail: true });
  return r.code === 0 ? (JSON.parse(r.stdout) as IpLink[])[0] : undefined;
}

async function routesVia(host: LabHost, dev: string): Promise<string[]> {
  const r = await host.exec(["ip", "-j", "route", "show", "dev", dev]);
  return (JSON.parse(r.stdout) as { dst: string }[]).map((x) => x.dst).sort();
}

/** A private key's body (its base64 lines, joined): no piece of it may surface anywhere. */
function keyBody(privateKey: string): string {
  return privateKey
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"))
    .join("");
}

describe("the real Pulumi engine: preview, up, refresh, destroy on a lab host", function () {
  this.timeout(900_000);
  let lab: NetnsLab;
  let host: LabHost;
  let es: EngineStack;
  let hostBefore: string;
  let keyFile: string;
  const canary = new NetworkCanary();
  const network = uniqueName("eng");
  const shim = uniqueName("engsh");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "underlay-engine-keys-"));
  let destroyed = false;
  /** The key the lab host accepts now (the rotation test changes it). */
  let currentKey = "";

  function baseConfig(): ConfigMap {
    return {
      "underlay:host": { value: host.ssh.host },
      "underlay:port": { value: String(host.ssh.port) },
      "underlay:user": { value: host.ssh.user },
      "underlay:privateKey": { value: currentKey, secret: true },
      "underlay:hostKey": { value: host.ssh.hostPublicKey },
      "underlay:parent": { value: host.lanParent },
      "underlay:network": { value: network },
      "underlay:subnet": { value: SUBNET },
      "underlay:ipRange": { value: RANGE },
      "underlay:auxAddress": { value: SHIM_IP },
      "underlay:shim": { value: shim },
      "underlay:shimAddress": { value: `${SHIM_IP}/32` },
      "underlay:shimRoutes": { value: JSON.stringify([RANGE]) },
    };
  }

  before(async function () {
    this.timeout(600_000);
    lab = await startNetnsLab({ hosts: 1 });
    host = lab.hosts[0];
    currentKey = host.ssh.privateKey;
    keyFile = path.join(lab.dir, "h1", "authorized_keys");
    await canary.start();
    hostBefore = await snapshotHost(host);
    es = await openStack({ program: "test/engine/programs/underlay", config: baseConfig(), canary });
  });

  afterEach(() => {
    // Any connection through the proxy means the engine tried the network (a plugin download,
    // an update check): on a real operator's machine that is a hang or a surprise.
    assert.deepEqual(canary.attempts, [], `the engine tried the network: ${canary.attempts.join(", ")}`);
  });

  after(async function () {
    this.timeout(300_000);
    if (es && !destroyed) await es.stack.destroy().catch(() => undefined);
    await es?.remove();
    await canary.stop();
    if (host) {
      await host.docker(["network", "rm", network], { allowFail: true });
      await host.exec(["ip", "link", "delete", "dev", shim], { allowFail: true });
    }
    await lab?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("up from empty: the host holds exactly the declared network and shim; outputs match", async () => {
    const c = collector(es.output);
    const res = await es.stack.up({ onEvent: c.onEvent, onOutput: c.onOutput });
    assert.equal(res.summary.result, "succeeded");
    assert.deepEqual(changesIn(res.summary.resourceChanges), { create: 3 });

    const inspected = await inspectNetwork(host, network);
    assert.ok(inspected, "network missing on the host");
    assert.equal(inspected.Driver, "macvlan");
    assert.equal(inspected.Options.parent, host.lanParent);
    assert.deepEqual(
      inspected.IPAM.Config.map((c) => [c.Subnet, c.IPRange, c.AuxiliaryAddresses]),
      [[SUBNET, RANGE, { shim: SHIM_IP }]],
    );
    const shimLink = await link(host, shim);
    assert.ok(shimLink, "shim missing on the host");
    const addrs = JSON.parse((await host.exec(["ip", "-j", "address", "show", "dev", shim])).stdout) as {
      addr_info: { local: string; prefixlen: number; family: string }[];
    }[];
    assert.deepEqual(
      addrs[0].addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
      [`${SHIM_IP}/32`],
    );
    assert.deepEqual(await routesVia(host, shim), [RANGE]);

    assert.equal(res.outputs.networkId.value, inspected.Id);
    assert.equal(res.outputs.networkName.value, network);
    assert.equal(res.outputs.ipRange.value, RANGE);
    assert.equal(res.outputs.shimName.value, shim);
    assert.equal(res.outputs.shimMac.value, shimLink.address);
  });

  it("preview right after: zero changes for every resource", async () => {
    const c = collector(es.output);
    const res = await es.stack.preview({ diff: true, onEvent: c.onEvent, onOutput: c.onOutput });
    assert.deepEqual(changesIn(res.changeSummary), {});
    for (const [name, ops] of c.steps.ops) assert.deepEqual(ops, ["same"], `${name}: ${ops.join(",")}`);
    assert.ok(c.steps.ops.has("lan") && c.steps.ops.has("lan-shim"));
  });

  it("lost state: resources dropped from the state are adopted by the next up (same network, same link), not refused", async () => {
    const idBefore = (await inspectNetwork(host, network))?.Id;
    const shimBefore = await link(host, shim);
    // Each object carries its resource's owner: project, stack, type and name.
    const labels = JSON.parse((await host.docker(["network", "inspect", "--format", "{{json .Labels}}", network])).stdout);
    assert.deepEqual(labels, { "io.pulumi-underlay.owner": "underlay-engine-test/lab/MacvlanNetwork/lan" });
    const exported = JSON.parse(es.cli(["stack", "export"])) as { deployment: { resources: { urn: string }[] } };
    for (const name of ["lan-shim", "lan"]) {
      const urn = exported.deployment.resources.map((r) => r.urn).find((u) => u.endsWith(`::${name}`));
      assert.ok(urn, `no ${name} in the state`);
      es.cli(["state", "delete", urn, "--yes"]);
    }

    const c = collector(es.output);
    const res = await es.stack.up({ onEvent: c.onEvent, onOutput: c.onOutput });
    assert.equal(res.summary.result, "succeeded");
    assert.deepEqual(changesIn(res.summary.resourceChanges), { create: 2 });
    assert.equal((await inspectNetwork(host, network))?.Id, idBefore, "the network was made anew");
    assert.deepEqual(await link(host, shim), shimBefore, "the shim link was made anew");
    assert.equal(res.outputs.networkId.value, idBefore);
    const preview = await es.stack.preview({ diff: true });
    assert.deepEqual(changesIn(preview.changeSummary), {});
  });

  it("a new ipRange replaces the network only, deleting first; the shim keeps its link", async () => {
    const shimBefore = await link(host, shim);
    const idBefore = (await inspectNetwork(host, network))?.Id;
    await es.stack.setConfig("underlay:ipRange", { value: NEW_RANGE });

    const p = collector(es.output);
    const preview = await es.stack.preview({ diff: true, onEvent: p.onEvent, onOutput: p.onOutput });
    assert.deepEqual(changesIn(preview.changeSummary), { replace: 1 });
    assert.deepEqual(p.steps.ops.get("lan-shim"), ["same"]);
    const lanOps = p.steps.ops.get("lan") ?? [];
    assert.ok(lanOps.includes("delete-replaced") && lanOps.includes("create-replacement"), lanOps.join(","));
    assert.ok(lanOps.indexOf("delete-replaced") < lanOps.indexOf("create-replacement"), `not delete-before-replace: ${lanOps.join(",")}`);
    assert.ok(p.steps.diffs.get("lan")?.includes("ipRange"), `diff names ${p.steps.diffs.get("lan")}`);
    assert.ok(!p.steps.diffs.get("lan")?.includes("connection"));
    // What a reviewer reads: `preview --diff` marks the property that forces the replacement.
    assert.match(preview.stdout, /^\s*[-+~]+\s*ipRange\s*:/m);

    const u = collector(es.output);
    const res = await es.stack.up({ onEvent: u.onEvent, onOutput: u.onOutput });
    assert.equal(res.summary.result, "succeeded");
    assert.deepEqual(changesIn(res.summary.resourceChanges), { replace: 1 });
    const after = await inspectNetwork(host, network);
    assert.equal(after?.IPAM.Config[0].IPRange, NEW_RANGE);
    assert.notEqual(after?.Id, idBefore);
    assert.equal(res.outputs.ipRange.value, NEW_RANGE);
    assert.deepEqual(await link(host, shim), shimBefore, "the shim link changed");
  });

  it("a rotated key is an update, not a replacement, and later operations use it", async () => {
    const newKey = path.join(work, "id_rotated");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rotated", "-f", newKey]);
    const oldAuthorized = fs.readFileSync(keyFile, "utf8");
    fs.writeFileSync(keyFile, oldAuthorized + fs.readFileSync(`${newKey}.pub`, "utf8"));
    await es.stack.setConfig("underlay:privateKey", { value: fs.readFileSync(newKey, "utf8"), secret: true });

    const p = collector(es.output);
    const preview = await es.stack.preview({ diff: true, onEvent: p.onEvent, onOutput: p.onOutput });
    assert.deepEqual(changesIn(preview.changeSummary), { update: 2 }, JSON.stringify([...p.steps.ops, ...p.steps.diffs]));
    // The dynamic-provider protocol carries replace keys but no per-property diff for an
    // update, so the engine cannot name `connection` here; it does name ipRange above.
    for (const name of ["lan", "lan-shim"]) assert.deepEqual(p.steps.ops.get(name), ["update"], name);
    const networkId = (await inspectNetwork(host, network))?.Id;
    const res = await es.stack.up({ onOutput: (s) => es.output.push(s) });
    assert.deepEqual(changesIn(res.summary.resourceChanges), { update: 2 });
    assert.equal((await inspectNetwork(host, network))?.Id, networkId);

    // Only the new key is accepted now: refresh and a no-op preview must still reach the host.
    fs.writeFileSync(keyFile, fs.readFileSync(`${newKey}.pub`, "utf8"));
    currentKey = fs.readFileSync(newKey, "utf8");
    const refreshed = await es.stack.refresh({ onOutput: (s) => es.output.push(s) });
    assert.equal(refreshed.summary.result, "succeeded");
    assert.deepEqual(changesIn(refreshed.summary.resourceChanges), {});
    const after = await es.stack.preview({ onOutput: (s) => es.output.push(s) });
    assert.deepEqual(changesIn(after.changeSummary), {});
  });

  it("drift: a shim route removed by hand shows in refresh and the next up puts it back", async () => {
    await host.exec(["ip", "route", "del", RANGE, "dev", shim]);
    const c = collector(es.output);
    const refreshed = await es.stack.refresh({ onEvent: c.onEvent, onOutput: c.onOutput });
    assert.deepEqual(changesIn(refreshed.summary.resourceChanges), { update: 1 });
    const state = await es.stack.exportStack();
    const shimState = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("::lan-shim"));
    assert.deepEqual(shimState.outputs.routes, []);

    const p = await es.stack.preview({ onOutput: (s) => es.output.push(s) });
    assert.deepEqual(changesIn(p.changeSummary), { update: 1 });
    const up = await es.stack.up({ onOutput: (s) => es.output.push(s) });
    assert.deepEqual(changesIn(up.summary.resourceChanges), { update: 1 });
    assert.deepEqual(await routesVia(host, shim), [RANGE]);
  });

  it("drift: a network removed by hand is dropped by refresh and recreated by up", async () => {
    await host.docker(["network", "rm", network]);
    const refreshed = await es.stack.refresh({ onOutput: (s) => es.output.push(s) });
    assert.deepEqual(changesIn(refreshed.summary.resourceChanges), { delete: 1 });
    const state = await es.stack.exportStack();
    assert.ok(!state.deployment.resources.some((r: { urn: string }) => r.urn.endsWith("::lan")));

    const up = await es.stack.up({ onOutput: (s) => es.output.push(s) });
    assert.deepEqual(changesIn(up.summary.resourceChanges), { create: 1 });
    assert.equal((await inspectNetwork(host, network))?.IPAM.Config[0].IPRange, NEW_RANGE);
  });

  it("secrets: `pulumi stack export` and the engine's output hold no key material", async () => {
    const text = es.cli(["stack", "export"]);
    const state = JSON.parse(text) as { deployment: { resources: unknown[] } };
    const keys = [host.ssh.privateKey, fs.readFileSync(path.join(work, "id_rotated"), "utf8")];
    const found = secretOccurrences(`${text}\n${es.output.join("\n")}`, keys.map(keyBody));
    recordFigure({
      group: "secrets",
      name: "key pieces in `pulumi stack export` and the engine's output (real engine, key rotated once)",
      value: found,
      target: "0",
      ok: found === 0 && !text.includes("PRIVATE KEY"),
    });
    for (const key of keys) {
      for (const needle of secretPieces(keyBody(key))) {
        assert.ok(!text.includes(needle), "a piece of a private key is in the state");
        assert.ok(!es.output.join("\n").includes(needle), "a piece of a private key is in the engine's output");
      }
    }
    assert.ok(!text.includes("PRIVATE KEY"));
    const secretSig = "4dabf18193072939515e22adb298388d";
    for (const r of state.deployment.resources as { type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[]) {
      if (!r.type.startsWith("pulumi-nodejs:dynamic")) continue;
      for (const bag of [r.inputs, r.outputs]) {
        const conn = bag?.connection as Record<string, unknown> | undefined;
        assert.equal(conn?.[secretSig], "1b47061264138c4ac30d75fd1eb44270", `${r.type} connection is not a secret`);
        assert.equal(typeof conn?.ciphertext, "string", `${r.type} connection is not encrypted`);
      }
    }
  });

  it("a failed up half-way leaves a state from which the fixed program converges, with no orphan", async () => {
    const renamed = uniqueName("eng2");
    await es.stack.setConfig("underlay:network", { value: renamed });
    await es.stack.setConfig("underlay:shimParent", { value: "nosuchnic0" });
    await assert.rejects(es.stack.up({ onOutput: (s) => es.output.push(s) }), /nosuchnic0/);
    // The network was replaced before or beside the failure; its new name is on the host.
    assert.ok(await inspectNetwork(host, renamed), "the renamed network was not created");
    assert.equal(await inspectNetwork(host, network), undefined, "the old network is still there");

    await es.stack.removeConfig("underlay:shimParent");
    await es.stack.setConfig("underlay:network", { value: network });
    const up = await es.stack.up({ onOutput: (s) => es.output.push(s) });
    assert.equal(up.summary.result, "succeeded");
    assert.equal(await inspectNetwork(host, renamed), undefined, "orphan network left on the host");
    assert.ok(await inspectNetwork(host, network));
    assert.deepEqual(await routesVia(host, shim), [RANGE]);
    const ours = (await host.docker(["network", "ls", "--format", "{{.Name}}"])).stdout.split("\n").filter((n) => n.startsWith("eng"));
    assert.deepEqual(ours, [network]);
    const p = await es.stack.preview({ onOutput: (s) => es.output.push(s) });
    assert.deepEqual(changesIn(p.changeSummary), {});
  });

  it("destroy returns the host to exactly its first state", async () => {
    const res = await es.stack.destroy({ onOutput: (s) => es.output.push(s) });
    destroyed = true;
    assert.equal(res.summary.result, "succeeded");
    assert.equal(await snapshotHost(host), hostBefore);
  });

  it("state moved to another folder (the recorded module path is gone) still refreshes and destroys", async function () {
    this.timeout(900_000);
    const scratch = installPackedProject(
      work,
      "scratch-a",
      [`@pulumi/pulumi@${installedVersion("@pulumi/pulumi")}`, "ts-node@10", "typescript@5.9"],
      600_000,
    );
    const moved = await openStack({
      program: "test/engine/programs/underlay",
      config: baseConfig(),
      canary,
      nodeModules: path.join(scratch, "node_modules"),
    });
    try {
      const up = await moved.stack.up({ onOutput: (s) => moved.output.push(s) });
      assert.equal(up.summary.result, "succeeded");
      const state = JSON.stringify(await moved.stack.exportStack());
      assert.ok(state.includes(path.join(scratch, "node_modules", "pulumi-underlay")), "state does not record the installed package");

      // Another checkout: same packages under another path; the first one is gone.
      const elsewhere = path.join(work, "checkout-b");
      fs.mkdirSync(elsewhere);
      fs.renameSync(path.join(scratch, "node_modules"), path.join(elsewhere, "node_modules"));
      fs.rmSync(scratch, { recursive: true, force: true });
      const other = await moved.reopenFrom(path.join(elsewhere, "node_modules"));
      // The program's new folder changes the serialized provider text (`__provider`): that
      // alone must not show as a change (pulumi#12401).
      const preview = await other.stack.preview({ onOutput: (s) => other.output.push(s) });
      assert.deepEqual(changesIn(preview.changeSummary), {});
      await host.exec(["ip", "route", "del", RANGE, "dev", shim]);
      const refreshed = await other.stack.refresh({ onOutput: (s) => other.output.push(s) });
      assert.deepEqual(changesIn(refreshed.summary.resourceChanges), { update: 1 });
      const destroyedOther = await other.stack.destroy({ onOutput: (s) => other.output.push(s) });
      assert.equal(destroyedOther.summary.result, "succeeded");
      assert.equal(await snapshotHost(host), hostBefore);
    } finally {
      await moved.stack.destroy().catch(() => undefined);
      await moved.remove();
    }
  });
});
