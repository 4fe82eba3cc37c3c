// The provider survives Pulumi's closure serialization: the `__provider` text a program hands
// the engine (captured under setMocks) is loaded in a fresh process the way the dynamic-provider
// host loads it, and drives create/read/delete on the lab. Once from this source tree, once from
// the `npm pack` tarball installed into a scratch project.

import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Lab, LabHost } from "../lab/types";
import { connectionFor, lab, uniqueName } from "./fixture";

const REPO = path.resolve(__dirname, "..", "..", "..");
const SUPPORT = path.resolve(__dirname, "..", "support");

interface Captured {
  type: string;
  inputs: Record<string, unknown> & { __provider: string };
}

function node(script: string, args: string[], cwd: string): string {
  return execFileSync(process.execPath, [path.join(SUPPORT, script), ...args], { cwd, encoding: "utf8", timeout: 120_000 });
}

function capture(projectDir: string, specs: unknown[], work: string): Record<string, Captured> {
  const specFile = path.join(work, "spec.json");
  const outFile = path.join(work, "captured.json");
  fs.writeFileSync(specFile, JSON.stringify(specs));
  node("captureProviders.js", [projectDir, specFile, outFile], projectDir);
  return JSON.parse(fs.readFileSync(outFile, "utf8"));
}

/** One operation in a fresh process, as the dynamic-provider host would run it. */
function hostOp(projectDir: string, provider: string, op: string, args: unknown[], work: string): unknown {
  const requestFile = path.join(work, `request-${op}.json`);
  fs.writeFileSync(requestFile, JSON.stringify({ provider, op, args }));
  const reply = JSON.parse(node("dynamicHost.js", [requestFile], projectDir)) as { ok: boolean; result?: unknown; error?: string };
  if (!reply.ok) throw new Error(`${op} failed in the provider host: ${reply.error}`);
  return reply.result;
}

describe("closure serialization: __provider driven like Pulumi's dynamic-provider host", function () {
  this.timeout(600_000);
  let theLab: Lab;
  let host: LabHost;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "underlay-ser-"));
  const cleanupNetworks: string[] = [];
  const cleanupLinks: string[] = [];

  before(async () => {
    theLab = await lab();
    host = theLab.hosts[0];
  });

  after(async () => {
    for (const n of cleanupNetworks) await host.docker(["network", "rm", n], { allowFail: true });
    for (const l of cleanupLinks) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  function specs(): { network: string; shim: string; list: unknown[] } {
    const network = uniqueName("ser");
    const shim = uniqueName("sershim");
    cleanupNetworks.push(network);
    cleanupLinks.push(shim);
    const connection = connectionFor(host);
    return {
      network,
      shim,
      list: [
        { kind: "MacvlanNetwork", name: network, args: { connection, parent: host.lanParent, subnet: "203.0.113.0/25", ipRange: "203.0.113.64/26" } },
        { kind: "HostShim", name: shim, args: { connection, parent: host.lanParent, address: "203.0.113.126/32", routes: ["203.0.113.64/26"] } },
      ],
    };
  }

  async function driveLifecycle(projectDir: string, captured: Record<string, Captured>, network: string, shim: string): Promise<void> {
    for (const [name, c] of Object.entries(captured)) {
      assert.equal(typeof c.inputs.__provider, "string", `${name} has no serialized provider`);
      assert.ok(!c.inputs.__provider.includes("PRIVATE KEY"), "key material was captured into the provider text");
    }
    const net = captured[network];
    assert.match(net.type, /MacvlanNetwork$/);
    const checked = hostOp(projectDir, net.inputs.__provider, "check", [{}, net.inputs], work) as { inputs: Record<string, unknown>; failures?: unknown[] };
    assert.equal(checked.failures, undefined);
    const created = hostOp(projectDir, net.inputs.__provider, "create", [checked.inputs], work) as { id: string; outs: Record<string, unknown> };
    const inspected = JSON.parse((await host.docker(["network", "inspect", network])).stdout)[0];
    assert.equal(inspected.Id, created.id);
    assert.equal(inspected.IPAM.Config[0].IPRange, "203.0.113.64/26");

    const sh = captured[shim];
    const shimChecked = hostOp(projectDir, sh.inputs.__provider, "check", [{}, sh.inputs], work) as { inputs: Record<string, unknown> };
    const shimCreated = hostOp(projectDir, sh.inputs.__provider, "create", [shimChecked.inputs], work) as { id: string; outs: Record<string, unknown> };
    const routes = (await host.exec(["ip", "route", "show", "dev", shim])).stdout;
    assert.match(routes, /203\.0\.113\.64\/26/);

    const read = hostOp(projectDir, net.inputs.__provider, "read", [created.id, created.outs], work) as { id?: string };
    assert.equal(read.id, created.id);

    hostOp(projectDir, sh.inputs.__provider, "delete", [shimCreated.id, shimCreated.outs], work);
    hostOp(projectDir, net.inputs.__provider, "delete", [created.id, created.outs], work);
    assert.notEqual((await host.exec(["ip", "link", "show", "dev", shim], { allowFail: true })).code, 0, "shim left behind");
    assert.notEqual((await host.docker(["network", "inspect", network], { allowFail: true })).code, 0, "network left behind");
    const goneRead = hostOp(projectDir, net.inputs.__provider, "read", [created.id, created.outs], work) as { id?: string };
    assert.equal(goneRead.id, undefined);
  }

  it("works from the source tree", async () => {
    const { network, shim, list } = specs();
    const captured = capture(REPO, list, work);
    assert.ok(captured[network].inputs.__provider.includes(path.join(REPO, "dist", "provider")));
    await driveLifecycle(REPO, captured, network, shim);
  });

  it("works from the npm pack tarball installed into a scratch project, and from state moved to another checkout", async () => {
    const packDir = path.join(work, "pack");
    fs.mkdirSync(packDir);
    const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", packDir], { cwd: REPO, encoding: "utf8" })
      .trim()
      .split("\n")
      .pop();
    assert.ok(tarball);
    const scratch = path.join(work, "scratch");
    fs.mkdirSync(scratch);
    fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, version: "0.0.0" }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(packDir, tarball)], {
      cwd: scratch,
      stdio: "ignore",
      timeout: 300_000,
    });

    const { network, shim, list } = specs();
    const captured = capture(scratch, list, work);
    const installed = path.join(scratch, "node_modules", "pulumi-underlay", "dist", "provider");
    assert.ok(captured[network].inputs.__provider.includes(installed), "the provider does not load the installed package");
    await driveLifecycle(scratch, captured, network, shim);

    // State written on another machine names a path that does not exist here: the provider
    // must fall back to the package the project has installed.
    const moved = specs();
    const movedCaptured = capture(scratch, moved.list, work);
    for (const c of Object.values(movedCaptured)) {
      c.inputs.__provider = c.inputs.__provider.split(scratch).join("/nonexistent/checkout");
      assert.ok(!c.inputs.__provider.includes(scratch));
    }
    await driveLifecycle(scratch, movedCaptured, moved.network, moved.shim);
  });
});
