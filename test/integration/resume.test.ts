// Resume instead of refuse (issue 10) on a lab host: a create whose result Pulumi never saved
// (lost state, a crash part-way) finds what it made by its owner mark and adopts or completes
// it; someone else's object of the same name, marked or not, is refused and left alone; a
// delete of something already gone succeeds. Every assertion reads the host's own state.

import { strict as assert } from "node:assert";
import { linkSetupCommands } from "../../provider/host/persistentLinks";
import { linkMark } from "../../provider/ops/links";
import { type HostShimState, hostShimProvider } from "../../provider/resources/link/hostShim";
import { type MacvlanNetworkState, macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import type { LabHost } from "../lab/types";
import { recordFigure } from "../support/figures";
import { assertReadsBackAsAsked, connectionFor, lab, refused, snapshotHost, uniqueName } from "./fixture";

const ADDRESS = "198.51.100.248/32";
const ROUTES = ["198.51.100.160/28", "203.0.113.64/28"];
const SUBNET = "203.0.113.0/28";

/** The owner the resource class would derive: project, stack, type, name. */
const ownerIn = (stack: string, type: string, name: string) => `resume-test/${stack}/${type}/${name}`;

interface LinkJson {
  ifindex: number;
  address: string;
  ifalias?: string;
  flags: string[];
  link?: string;
  linkinfo?: { info_kind: string; info_data?: { mode?: string } };
}

describe("resume instead of refuse, on a lab host", function () {
  this.timeout(180_000);
  let host: LabHost;
  const links: string[] = [];
  const networks: string[] = [];

  before(async function () {
    this.timeout(600_000);
    host = (await lab()).hosts[0];
  });

  afterEach(async () => {
    for (const n of networks.splice(0)) await host.docker(["network", "rm", n], { allowFail: true });
    for (const l of links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
  });

  async function shimInputs(name: string, stack = "dev"): Promise<Record<string, unknown>> {
    links.push(name);
    const checked = await hostShimProvider.check(
      {},
      {
        connection: connectionFor(host),
        name,
        parent: host.lanParent,
        address: ADDRESS,
        routes: ROUTES,
        owner: ownerIn(stack, "HostShim", name),
      },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    return checked.inputs;
  }

  async function createShim(inputs: Record<string, unknown>): Promise<{ id: string; outs: HostShimState }> {
    const created = await hostShimProvider.create(inputs);
    assert.ok(created.outs);
    return { id: created.id, outs: created.outs };
  }

  async function linkJson(name: string): Promise<LinkJson> {
    return JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", name])).stdout)[0];
  }

  /** The shim exactly as asked: up, marked, its one address and its routes, nothing else. */
  async function assertShimExact(name: string, owner: string): Promise<LinkJson> {
    const link = await linkJson(name);
    assert.equal(link.ifalias, linkMark(owner), "the link does not carry its owner's mark");
    assert.equal(link.linkinfo?.info_kind, "macvlan");
    assert.equal(link.link, host.lanParent);
    assert.ok(link.flags.includes("UP"), "the link is down");
    const addresses = JSON.parse((await host.exec(["ip", "-j", "address", "show", "dev", name])).stdout)[0]
      .addr_info.filter((a: { scope: string }) => a.scope !== "link")
      .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(addresses, [ADDRESS]);
    const routes = JSON.parse((await host.exec(["ip", "-j", "route", "show", "dev", name])).stdout)
      .filter((r: { protocol?: string }) => r.protocol !== "kernel")
      .map((r: { dst: string }) => r.dst)
      .sort();
    assert.deepEqual(routes, [...ROUTES].sort());
    return link;
  }

  it("(a) lost state: a HostShim created again with the same inputs adopts its own link, state exact", async () => {
    const name = uniqueName("rs");
    const inputs = await shimInputs(name);
    const first = await createShim(inputs);
    const made = await assertShimExact(name, inputs.owner as string);
    // Pulumi never saved `first`: the same program runs the same create again.
    const again = await createShim(inputs);
    const after = await assertShimExact(name, inputs.owner as string);
    assert.equal(after.ifindex, made.ifindex, "the link was made anew, not adopted");
    assert.equal(again.id, first.id);
    assert.deepEqual(again.outs, first.outs);
    assert.deepEqual(again.outs.identity, { kind: "macvlan", parent: host.lanParent, macAddress: made.address, ifindex: made.ifindex });
    // The mark never shows as drift.
    await assertReadsBackAsAsked(hostShimProvider, again.id, again.outs, inputs);
    recordFigure({ group: "faults", name: "lost state, HostShim create again: converged", value: "yes", target: "yes", ok: true });
  });

  it("(b) half-made: a marked link without its address and routes is completed by the next create", async () => {
    const name = uniqueName("rs");
    const inputs = await shimInputs(name);
    const owner = inputs.owner as string;
    // What a create leaves when the connection drops right after its first step: the link made
    // and marked (the same `ip` commands the provider runs, and a persisted unit replays), down,
    // with no address and no routes.
    const [add, alias] = linkSetupCommands({
      kind: "macvlan",
      name,
      parent: host.lanParent,
      mode: "bridge",
      address: ADDRESS,
      routes: ROUTES,
      alias: linkMark(owner),
    });
    await host.exec([...add]);
    await host.exec([...alias]);
    const half = await linkJson(name);
    assert.equal(half.ifalias, linkMark(owner));
    assert.ok(!half.flags.includes("UP"));

    const created = await createShim(inputs);
    const after = await assertShimExact(name, owner);
    assert.equal(after.ifindex, half.ifindex, "the half-made link was replaced, not completed");
    assert.deepEqual(created.outs.identity, { kind: "macvlan", parent: host.lanParent, macAddress: half.address, ifindex: half.ifindex });
    assert.equal(created.outs.up, true);
    await assertReadsBackAsAsked(hostShimProvider, created.id, created.outs, inputs);
    recordFigure({
      group: "faults",
      name: "half-made HostShim (link only), create again: completed",
      value: "yes",
      target: "yes",
      ok: true,
    });
  });

  it("(c) refuses a link of the name someone else made (no mark, or another resource's), leaving the host unchanged", async () => {
    const name = uniqueName("rs");
    const inputs = await shimInputs(name);
    await host.exec(["ip", "link", "add", "link", host.lanParent, "name", name, "type", "macvlan", "mode", "bridge"]);
    let before = await snapshotHost(host);
    await assert.rejects(hostShimProvider.create(inputs), refused("nameTaken", [name], /already exists/));
    assert.equal(await snapshotHost(host), before);
    assert.equal((await linkJson(name)).ifalias, undefined, "someone else's link was marked");

    // The same name in another stack: marked, but by another owner.
    await host.exec(["ip", "link", "set", "dev", name, "alias", linkMark(ownerIn("prod", "HostShim", name))]);
    before = await snapshotHost(host);
    const text = new RegExp(
      `owner "${linkMark(ownerIn("prod", "HostShim", name))}".*this resource's is "${linkMark(inputs.owner as string)}"`,
    );
    await assert.rejects(hostShimProvider.create(inputs), refused("otherOwner", [name], text));
    assert.equal(await snapshotHost(host), before);
    recordFigure({
      group: "faults",
      name: "someone else's link of the shim's name: refused, host unchanged",
      value: "yes",
      target: "yes",
      ok: true,
    });
  });

  it("(c) refuses its own marked link when it differs in what a create cannot change (mode), naming it", async () => {
    const name = uniqueName("rs");
    const inputs = await shimInputs(name);
    await host.exec(["ip", "link", "add", "link", host.lanParent, "name", name, "type", "macvlan", "mode", "private"]);
    await host.exec(["ip", "link", "set", "dev", name, "alias", linkMark(inputs.owner as string)]);
    const before = await snapshotHost(host);
    await assert.rejects(hostShimProvider.create(inputs), refused("resumeMismatch", [name], /mode: asked "bridge", host has "private"/));
    assert.equal(await snapshotHost(host), before);
  });

  async function networkInputs(name: string, stack = "dev", extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    networks.push(name);
    const checked = await macvlanNetworkProvider.check(
      {},
      {
        connection: connectionFor(host),
        name,
        parent: host.lanParent,
        subnet: SUBNET,
        labels: { "org.example.team": "net" },
        owner: ownerIn(stack, "MacvlanNetwork", name),
        ...extra,
      },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    return checked.inputs;
  }

  async function createNetwork(inputs: Record<string, unknown>): Promise<{ id: string; outs: MacvlanNetworkState }> {
    const created = await macvlanNetworkProvider.create(inputs);
    assert.ok(created.outs);
    return { id: created.id, outs: created.outs };
  }

  it("(d) lost state: a network created again adopts its own (same id); another stack's is refused naming the owner", async () => {
    const name = uniqueName("rn");
    const inputs = await networkInputs(name);
    const first = await createNetwork(inputs);
    const inspected = JSON.parse((await host.docker(["network", "inspect", name])).stdout)[0];
    assert.deepEqual(inspected.Labels, { "org.example.team": "net", "io.pulumi-underlay.owner": inputs.owner });
    assert.deepEqual(first.outs.labels, { "org.example.team": "net" }, "the owner label leaks into the program's labels");

    const again = await createNetwork(inputs);
    assert.equal(again.id, first.id, "a second network was made, or another adopted");
    assert.deepEqual(again.outs, first.outs);
    await assertReadsBackAsAsked(macvlanNetworkProvider, again.id, again.outs, inputs);
    const ids = (await host.docker(["network", "ls", "--no-trunc", "--filter", `name=^${name}$`, "--format", "{{.ID}}"])).stdout.trim();
    assert.equal(ids, first.id);
    recordFigure({ group: "faults", name: "lost state, MacvlanNetwork create again: converged", value: "yes", target: "yes", ok: true });

    // The same name declared in another stack, even with adopt: true.
    const before = await snapshotHost(host);
    const theirs = await networkInputs(name, "prod", { adopt: true });
    await assert.rejects(
      macvlanNetworkProvider.create(theirs),
      refused("otherOwner", [name], new RegExp(`owner "${inputs.owner}"; this resource's is "${theirs.owner}"`)),
    );
    assert.equal(await snapshotHost(host), before);
    recordFigure({ group: "faults", name: "another stack's network of the same name: refused", value: "yes", target: "yes", ok: true });
  });

  it("(d) refuses its own network when it differs from what is asked, naming the difference", async () => {
    const name = uniqueName("rn");
    await createNetwork(await networkInputs(name));
    const before = await snapshotHost(host);
    const changed = await networkInputs(name, "dev", { labels: { "org.example.team": "ops" } });
    await assert.rejects(macvlanNetworkProvider.create(changed), refused("resumeMismatch", [name], /labels: asked .*ops.*host has .*net/));
    assert.equal(await snapshotHost(host), before);
  });

  it("(e) deletes of a shim and a network already gone succeed", async () => {
    const shimName = uniqueName("rs");
    const shim = await createShim(await shimInputs(shimName));
    await host.exec(["ip", "link", "delete", "dev", shimName]);
    await hostShimProvider.delete(shim.id, shim.outs);

    const netName = uniqueName("rn");
    const network = await createNetwork(await networkInputs(netName));
    await host.docker(["network", "rm", netName]);
    await macvlanNetworkProvider.delete(network.id, network.outs);
    const left = await host.exec(["ip", "link", "show", "dev", shimName], { allowFail: true });
    assert.notEqual(left.code, 0);
    recordFigure({
      group: "faults",
      name: "delete of a shim and a network already gone: succeeded",
      value: "yes",
      target: "yes",
      ok: true,
    });
  });
});
