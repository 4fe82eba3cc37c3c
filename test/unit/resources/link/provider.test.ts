// The shared link provider's whole lifecycle, for both link resources, through the real SSH
// transport against an in-process host: create, read back with an empty diff, drift, update in
// place, rollback, refusals by type, delete.

import { strict as assert } from "node:assert";
import { RefusalError, StepsFailedError } from "../../../../provider/errors";
import { hostShimProvider } from "../../../../provider/resources/link/hostShim";
import { vlanSubinterfaceProvider } from "../../../../provider/resources/link/vlanSubinterface";
import { useInProcessLinuxHost } from "../../../support/fakeLinuxHost";

type Provider = typeof hostShimProvider | typeof vlanSubinterfaceProvider;

async function checked(provider: Provider, raw: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await provider.check({}, raw);
  assert.equal(result.failures, undefined, JSON.stringify(result.failures));
  return result.inputs;
}

async function made<T>(pending: Promise<{ id: string; outs?: T }>): Promise<{ id: string; outs: T }> {
  const result = await pending;
  assert.ok(result.outs);
  return { id: result.id, outs: result.outs };
}

function refusal(kind: string, names: string[]) {
  return (err: unknown) => {
    assert.ok(err instanceof RefusalError, String(err));
    assert.equal(err.kind, kind);
    assert.deepEqual(err.names, names);
    return true;
  };
}

describe("link provider against an in-process host", function () {
  this.timeout(20_000);
  const host = useInProcessLinuxHost();

  const shimInputs = (extra: Record<string, unknown> = {}) =>
    checked(hostShimProvider, {
      connection: host.ssh.connection(),
      name: "shim0",
      parent: "eth1",
      address: "198.51.100.250/32",
      routes: ["198.51.100.128/26", "fd18:0:0:1::/64"],
      ...extra,
    });

  it("creates a shim, reads it back with an empty diff, and deletes it", async () => {
    const inputs = await shimInputs();
    const created = await made(hostShimProvider.create(inputs));
    assert.equal(created.id, "shim0");
    const shim = host.linux.links.get("shim0");
    assert.deepEqual(
      { kind: shim?.kind, parent: shim?.parent, up: shim?.up, addresses: shim?.addresses, routes: shim?.routes },
      {
        kind: "macvlan",
        parent: "eth1",
        up: true,
        addresses: ["198.51.100.250/32"],
        routes: ["198.51.100.128/26", "fd18:0:0:1::/64"],
      },
    );
    assert.equal(created.outs.up, true);
    assert.match(created.outs.macAddress, /^02:00/);
    assert.equal(created.outs.persist, false);
    assert.equal(created.outs.persistence, undefined);
    // Made under the dead-man switch, whose rollback deletes the shim, and confirmed.
    assert.deepEqual(
      [...host.linux.deadman.values()].map((d) => [d.confirmed, d.rollback.includes("; ip link delete dev shim0 2>>")]),
      [[true, true]],
    );
    const read = await hostShimProvider.read(created.id, created.outs);
    assert.equal(read.id, "shim0");
    assert.equal((await hostShimProvider.diff(created.id, read.props!, inputs)).changes, false);
    await hostShimProvider.delete(created.id, created.outs);
    assert.equal(host.linux.links.has("shim0"), false);
    assert.deepEqual(await hostShimProvider.read(created.id, created.outs), {});
  });

  it("reads a route removed by hand as drift and puts it back in place", async () => {
    const inputs = await shimInputs();
    const created = await made(hostShimProvider.create(inputs));
    host.linux.links.get("shim0")!.routes.splice(0, 1);
    const read = await hostShimProvider.read(created.id, created.outs);
    assert.deepEqual(read.props?.routes, ["fd18:0:0:1::/64"]);
    const diff = await hostShimProvider.diff(created.id, read.props!, inputs);
    assert.deepEqual([diff.changes, diff.replaces], [true, []]);
    const updated = await hostShimProvider.update(created.id, read.props!, inputs);
    assert.deepEqual(updated.outs?.routes, ["198.51.100.128/26", "fd18:0:0:1::/64"]);
  });

  it("answers shims read together from one listing of links, addresses and routes", async () => {
    const shims = await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) =>
        made(
          hostShimProvider.create(
            await shimInputs({ name: `shim${i}`, address: `198.51.100.${240 + i}/32`, routes: [`198.51.100.${128 + 8 * i}/29`] }),
          ),
        ),
      ),
    );
    const dumpsBefore = host.ssh.execs.filter((e) => e.argv.join(" ") === "ip -j -d address show").length;
    const reads = await Promise.all(shims.map((s) => hostShimProvider.read(s.id, s.outs)));
    assert.deepEqual(
      reads.map((r) => r.props?.routes),
      [0, 1, 2, 3, 4].map((i) => [`198.51.100.${128 + 8 * i}/29`]),
    );
    const dumps = host.ssh.execs.filter((e) => e.argv.join(" ") === "ip -j -d address show").length - dumpsBefore;
    assert.equal(dumps, 1, `${dumps} listings for 5 reads`);
  });

  it("changes a shim's address and routes in place", async () => {
    const created = await made(hostShimProvider.create(await shimInputs()));
    const news = await shimInputs({ address: "198.51.100.251/32", routes: ["198.51.100.192/26"] });
    const updated = await hostShimProvider.update(created.id, created.outs, news);
    assert.deepEqual(host.linux.links.get("shim0")?.addresses, ["198.51.100.251/32"]);
    assert.deepEqual(host.linux.links.get("shim0")?.routes, ["198.51.100.192/26"]);
    assert.equal(updated.outs?.address, "198.51.100.251/32");
    // The update's rollback takes its steps back newest first: the old address back on, then the routes.
    const update = [...host.linux.deadman.values()][1];
    assert.equal(update.confirmed, true);
    assert.match(
      update.rollback,
      /ip address add 198\.51\.100\.250\/32 dev shim0 .*route add 198\.51\.100\.128\/26 .*route delete 198\.51\.100\.192\/26 .*address delete 198\.51\.100\.251\/32/,
    );
    assert.equal((await hostShimProvider.diff(created.id, updated.outs, news)).changes, false);
  });

  it("rolls a half-made shim back and reports the failed step", async () => {
    host.linux.failing.set("ip -6 route add fd18:0:0:1::/64 dev shim0", "RTNETLINK answers: No route to host");
    await assert.rejects(hostShimProvider.create(await shimInputs()), (err: unknown) => {
      assert.ok(err instanceof StepsFailedError);
      assert.equal(err.stepsDone, 4);
      return true;
    });
    assert.equal(host.linux.links.has("shim0"), false);
  });

  it("refuses a taken name, a missing parent, and deleting a link that is no longer a macvlan", async () => {
    const created = await made(hostShimProvider.create(await shimInputs()));
    await assert.rejects(hostShimProvider.create(await shimInputs()), refusal("nameTaken", ["shim0"]));
    await assert.rejects(hostShimProvider.create(await shimInputs({ name: "shim1", parent: "eth9" })), refusal("parentMissing", ["eth9"]));
    host.linux.links.get("shim0")!.kind = "vlan";
    await assert.rejects(hostShimProvider.delete(created.id, created.outs), refusal("notOurs", ["shim0"]));
    assert.equal(host.linux.links.has("shim0"), true);
  });

  it("records what identifies the shim and refuses to delete or update another link that took its name", async () => {
    const inputs = await shimInputs();
    const created = await made(hostShimProvider.create(inputs));
    const made0 = host.linux.links.get("shim0")!;
    assert.deepEqual(created.outs.identity, { kind: "macvlan", parent: "eth1", macAddress: made0.mac, ifindex: made0.ifindex });
    // Someone deletes the shim and makes their own macvlan link of that name on another parent.
    host.linux.links.set("eth2", host.linux.newLink({ mtu: 1500, data: {}, up: true, addresses: [], routes: [] }));
    host.linux.links.delete("shim0");
    host.linux.links.set(
      "shim0",
      host.linux.newLink({ kind: "macvlan", parent: "eth2", mtu: 1500, data: { mode: "bridge" }, up: true, addresses: [], routes: [] }),
    );
    const theirs = host.linux.links.get("shim0")!;
    const differs = (err: unknown) => {
      assert.ok(refusal("notOurs", ["shim0"])(err));
      const message = (err as Error).message;
      for (const what of ['parent "eth1" when made, now "eth2"', `MAC "${made0.mac}"`, `now "${theirs.mac}"`, `ifindex ${made0.ifindex}`]) {
        assert.ok(message.includes(what), `${what} not in ${message}`);
      }
      return true;
    };
    await assert.rejects(hostShimProvider.delete(created.id, created.outs), differs);
    await assert.rejects(hostShimProvider.update(created.id, created.outs, await shimInputs({ routes: [] })), differs);
    // A refresh does not adopt it: its parent differs, so the recorded identity stays.
    const read = await hostShimProvider.read(created.id, created.outs);
    assert.deepEqual(read.props?.identity, created.outs.identity);
    await assert.rejects(hostShimProvider.delete(created.id, read.props as never), differs);
    assert.equal(host.linux.links.get("shim0"), theirs);
    assert.deepEqual(theirs.routes, []);
  });

  it("refuses a same-named link made again on the same parent until a refresh records it, and deletes a shim already gone", async () => {
    const inputs = await shimInputs();
    const created = await made(hostShimProvider.create(inputs));
    const before = host.linux.links.get("shim0")!;
    host.linux.links.set("shim0", host.linux.newLink({ ...before, ifindex: undefined, mac: undefined }));
    await assert.rejects(hostShimProvider.delete(created.id, created.outs), /MAC .* when made, now .*; ifindex/);
    assert.ok(host.linux.links.has("shim0"));
    const read = await hostShimProvider.read(created.id, created.outs);
    assert.equal(read.props?.identity?.ifindex, host.linux.links.get("shim0")!.ifindex);
    await hostShimProvider.delete(created.id, read.props as never);
    assert.equal(host.linux.links.has("shim0"), false);
    await hostShimProvider.delete(created.id, read.props as never);
  });

  it("refuses to delete a VLAN link whose name another VLAN link now has", async () => {
    const created = await made(
      vlanSubinterfaceProvider.create(
        await checked(vlanSubinterfaceProvider, { connection: host.ssh.connection(), parent: "eth1", vlanId: 50, persist: false }),
      ),
    );
    const ours = host.linux.links.get("eth1.50")!;
    host.linux.links.set("eth1.50", host.linux.newLink({ ...ours, ifindex: undefined, mac: undefined, data: { id: 51 } }));
    await assert.rejects(vlanSubinterfaceProvider.delete(created.id, created.outs), refusal("notOurs", ["eth1.50"]));
    assert.ok(host.linux.links.has("eth1.50"));
  });

  it("refuses a shim when the host cannot say the session's peer, and leaves the host as it was", async () => {
    host.linux.sessionPeer = undefined;
    const before = JSON.stringify([...host.linux.links]);
    await assert.rejects(hostShimProvider.create(await shimInputs()), (err: unknown) => {
      assert.ok(refusal("sessionUnknown", ["shim0"])(err));
      assert.match((err as Error).message, /sshd reported no client address/);
      return true;
    });
    assert.equal(JSON.stringify([...host.linux.links]), before);
  });

  it("refuses a shim whose routes or address would capture the SSH session, naming the route and the way out, and leaves the host as it was", async () => {
    host.linux.sessionPeer = "198.51.100.140";
    const before = JSON.stringify([...host.linux.links]);
    const cuts = (value: string) => (err: unknown) => {
      assert.ok(refusal("cutsSession", ["shim0"])(err));
      const message = (err as Error).message;
      for (const what of [value, "198.51.100.140", "via dev eth1", "Leave 198.51.100.140 out"])
        assert.ok(message.includes(what), `${what} not in ${message}`);
      return true;
    };
    await assert.rejects(hostShimProvider.create(await shimInputs()), cuts("route 198.51.100.128/26"));
    await assert.rejects(
      hostShimProvider.create(await shimInputs({ routes: [], address: "198.51.100.250/24" })),
      cuts("address 198.51.100.250/24"),
    );
    assert.equal(JSON.stringify([...host.linux.links]), before);
    // A shim that leaves the peer alone is made; an update that would take the peer is refused in place.
    const created = await made(hostShimProvider.create(await shimInputs({ routes: ["198.51.100.160/27"] })));
    await assert.rejects(
      hostShimProvider.update(created.id, created.outs, await shimInputs({ routes: ["198.51.100.160/27", "198.51.100.140/32"] })),
      cuts("route 198.51.100.140/32"),
    );
    assert.deepEqual(host.linux.links.get("shim0")?.routes, ["198.51.100.160/27"]);
  });

  it("refuses persist: true on a host without systemd, before making anything", async () => {
    await assert.rejects(hostShimProvider.create(await shimInputs({ persist: true })), refusal("persistUnsupported", ["eth1"]));
    assert.equal(host.linux.links.has("shim0"), false);
  });

  it("refuses to update a link that is gone", async () => {
    const inputs = await shimInputs();
    const created = await made(hostShimProvider.create(inputs));
    host.linux.links.delete("shim0");
    await assert.rejects(hostShimProvider.update(created.id, created.outs, inputs), refusal("gone", ["shim0"]));
  });

  it("creates a VLAN link named after parent and id, reads it back with an empty diff, changes its MTU in place", async () => {
    const inputs = await checked(vlanSubinterfaceProvider, {
      connection: host.ssh.connection(),
      parent: "eth1",
      vlanId: 50,
      persist: false,
    });
    assert.equal(inputs.name, "eth1.50");
    const created = await made(vlanSubinterfaceProvider.create(inputs));
    assert.deepEqual(host.linux.links.get("eth1.50")?.data, { id: 50 });
    assert.equal(created.outs.vlanId, 50);
    assert.equal(created.outs.mtu, undefined, "an MTU left to the kernel is not state");
    const read = await vlanSubinterfaceProvider.read(created.id, created.outs);
    assert.equal((await vlanSubinterfaceProvider.diff(created.id, read.props!, inputs)).changes, false);

    const news = await checked(vlanSubinterfaceProvider, { ...inputs, mtu: 1400 });
    const updated = await vlanSubinterfaceProvider.update(created.id, created.outs, news);
    assert.equal(host.linux.links.get("eth1.50")?.mtu, 1400);
    assert.equal(updated.outs?.mtu, 1400);
    await vlanSubinterfaceProvider.delete(created.id, updated.outs!);
    assert.equal(host.linux.links.has("eth1.50"), false);
    assert.equal(host.linux.deadman.size, 0, "a VLAN link change armed the dead-man switch");
  });

  it("refuses a VLAN MTU above the parent's, naming the parent", async () => {
    const inputs = await checked(vlanSubinterfaceProvider, {
      connection: host.ssh.connection(),
      parent: "eth1",
      vlanId: 60,
      mtu: 9000,
      persist: false,
    });
    await assert.rejects(
      vlanSubinterfaceProvider.create(inputs),
      (err: unknown) =>
        refusal("mtuTooLarge", ["eth1"])(err) && /mtu 9000 is larger than parent "eth1"'s mtu 1500/.test((err as Error).message),
    );
    assert.equal(host.linux.links.has("eth1.60"), false);
  });
});
