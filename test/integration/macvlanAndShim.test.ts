// MacvlanNetwork and HostShim against a real lab host: real sshd, real dockerd, real links.
// Every assertion reads the host's own state (docker network inspect, ip -j, a ping).

import { strict as assert } from "node:assert";
import { StepsFailedError } from "../../provider/errors";
import { type HostShimState, hostShimProvider } from "../../provider/resources/link/hostShim";
import { type MacvlanNetworkState, macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import type { Lab, LabHost } from "../lab/types";
import { assertReadsBackAsAsked, connectionFor, lab, refused, transportFailed, uniqueName } from "./fixture";

const SUBNET = "198.51.100.0/24";
const GATEWAY = "198.51.100.1";
const RANGE = "198.51.100.128/26";
const SHIM_ADDRESS = "198.51.100.250";
const CONTAINER_IP = "198.51.100.130";

interface Cleanup {
  containers: string[];
  networks: string[];
  links: string[];
}

describe("MacvlanNetwork and HostShim on a lab host", function () {
  this.timeout(180_000);
  let theLab: Lab;
  let host: LabHost;
  const cleanup: Cleanup = { containers: [], networks: [], links: [] };

  before(async function () {
    this.timeout(600_000);
    theLab = await lab();
    host = theLab.hosts[0];
  });

  afterEach(async () => {
    for (const c of cleanup.containers.splice(0)) await host.docker(["rm", "-f", c], { allowFail: true });
    for (const n of cleanup.networks.splice(0)) await host.docker(["network", "rm", n], { allowFail: true });
    for (const l of cleanup.links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
  });

  function networkInputs(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    cleanup.networks.push(name);
    return {
      connection: connectionFor(host),
      name,
      parent: host.lanParent,
      subnet: SUBNET,
      gateway: GATEWAY,
      ipRange: RANGE,
      auxAddresses: { shim: SHIM_ADDRESS },
      ...extra,
    };
  }

  function shimInputs(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    cleanup.links.push(name);
    return { connection: connectionFor(host), name, parent: host.lanParent, address: `${SHIM_ADDRESS}/32`, routes: [RANGE], ...extra };
  }

  async function createNetwork(inputs: Record<string, unknown>): Promise<{ id: string; outs: MacvlanNetworkState }> {
    const checked = await macvlanNetworkProvider.check({}, inputs);
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    const created = await macvlanNetworkProvider.create(checked.inputs);
    assert.ok(created.outs);
    await assertReadsBackAsAsked(macvlanNetworkProvider, created.id, created.outs, checked.inputs);
    return { id: created.id, outs: created.outs };
  }

  async function createShim(
    inputs: Record<string, unknown>,
  ): Promise<{ id: string; outs: HostShimState; inputs: Record<string, unknown> }> {
    const checked = await hostShimProvider.check({}, inputs);
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    const created = await hostShimProvider.create(checked.inputs);
    assert.ok(created.outs);
    await assertReadsBackAsAsked(hostShimProvider, created.id, created.outs, checked.inputs);
    return { id: created.id, outs: created.outs, inputs: checked.inputs };
  }

  async function inspect(
    name: string,
  ): Promise<Record<string, unknown> & { IPAM: { Config: Record<string, unknown>[] }; Options: Record<string, string>; Id: string }> {
    const out = await host.docker(["network", "inspect", name]);
    return JSON.parse(out.stdout)[0];
  }

  async function runContainer(network: string, ip: string): Promise<string> {
    const name = uniqueName("c");
    cleanup.containers.push(name);
    await host.docker(["run", "-d", "--name", name, "--network", network, "--ip", ip, theLab.image, "sleep", "600"]);
    return name;
  }

  async function hostPings(ip: string): Promise<boolean> {
    const r = await host.exec(["ping", "-c", "1", "-W", "1", ip], { allowFail: true });
    return r.code === 0;
  }

  it("creates the network with exactly the asked settings, and a container on it reaches the LAN", async () => {
    const name = uniqueName("mv");
    const { id, outs } = await createNetwork(networkInputs(name, { labels: { "org.example.team": "net" } }));

    const n = await inspect(name);
    assert.equal(n.Id, id);
    assert.equal(n.Driver, "macvlan");
    assert.deepEqual(n.Options, { parent: host.lanParent, macvlan_mode: "bridge" });
    assert.equal(n.IPAM.Config.length, 1);
    assert.deepEqual(n.IPAM.Config[0], { Subnet: SUBNET, IPRange: RANGE, Gateway: GATEWAY, AuxiliaryAddresses: { shim: SHIM_ADDRESS } });
    assert.deepEqual(n.Labels, { "org.example.team": "net" });
    assert.equal(outs.networkId, id);
    assert.equal(outs.subnet, SUBNET);

    const container = await runContainer(name, CONTAINER_IP);
    const ping = await host.docker(["exec", container, "ping", "-c", "1", "-W", "2", theLab.lan.external.address], { allowFail: true });
    assert.equal(ping.code, 0, `container could not reach the external device: ${ping.stdout}${ping.stderr}`);
    const back = await theLab.lan.external.exec(["ping", "-c", "1", "-W", "2", CONTAINER_IP], { allowFail: true });
    assert.equal(back.code, 0, "the external device could not reach the container");
  });

  it("lets the host reach its macvlan container only while the shim exists, and leaves nothing behind", async () => {
    const name = uniqueName("mv");
    await createNetwork(networkInputs(name));
    await runContainer(name, CONTAINER_IP);
    assert.equal(await hostPings(CONTAINER_IP), false, "the host reached its macvlan child without a shim");

    const shimName = uniqueName("shim");
    const shim = await createShim(shimInputs(shimName));
    const [link] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", shimName])).stdout);
    assert.equal(link.linkinfo.info_kind, "macvlan");
    assert.equal(link.linkinfo.info_data.mode, "bridge");
    assert.equal(link.link, host.lanParent);
    assert.ok(link.flags.includes("UP"));
    const addrs = JSON.parse((await host.exec(["ip", "-j", "address", "show", "dev", shimName])).stdout)[0].addr_info;
    assert.ok(addrs.some((a: { local: string; prefixlen: number }) => a.local === SHIM_ADDRESS && a.prefixlen === 32));
    const routes = JSON.parse((await host.exec(["ip", "-j", "route", "show", "dev", shimName])).stdout);
    assert.deepEqual(
      routes.map((r: { dst: string }) => r.dst),
      [RANGE],
    );
    assert.equal(await hostPings(CONTAINER_IP), true, "the host could not reach the container through the shim");
    assert.equal(shim.outs.up, true);

    await hostShimProvider.delete(shim.id, shim.outs);
    const gone = await host.exec(["ip", "link", "show", "dev", shimName], { allowFail: true });
    assert.notEqual(gone.code, 0, "the shim link is still there");
    const addrsAfter = (await host.exec(["ip", "-br", "address"])).stdout;
    assert.ok(!addrsAfter.includes(SHIM_ADDRESS), `address left behind:\n${addrsAfter}`);
    const routesAfter = (await host.exec(["ip", "route"])).stdout;
    assert.ok(!routesAfter.includes(RANGE), `route left behind:\n${routesAfter}`);
    assert.equal(await hostPings(CONTAINER_IP), false, "the host still reaches the container after the shim was deleted");
  });

  it("reports a network removed by hand as gone, and an SSH failure as an error, never as gone", async () => {
    const name = uniqueName("mv");
    const { id, outs } = await createNetwork(networkInputs(name));
    const present = await macvlanNetworkProvider.read(id, outs);
    assert.equal(present.id, id);
    assert.equal(present.props?.ipRange, RANGE);

    await host.docker(["network", "rm", name]);
    const gone = await macvlanNetworkProvider.read(id, outs);
    assert.equal(gone.id, undefined, "read still reports a network that was removed by hand");

    const unreachable = { ...outs, connection: { ...outs.connection, port: 1, connectTimeoutMs: 2000 } };
    await assert.rejects(macvlanNetworkProvider.read(id, unreachable), transportFailed("connect", /cannot connect|ECONNREFUSED/));
  });

  it("reports a shim route removed by hand as drift; the diff asks for an update that puts it back", async () => {
    const shimName = uniqueName("shim");
    const shim = await createShim(shimInputs(shimName, { routes: [RANGE, "203.0.113.0/28"] }));
    await host.exec(["ip", "route", "delete", RANGE, "dev", shimName]);

    const read = await hostShimProvider.read(shim.id, shim.outs);
    assert.ok(read.props);
    assert.deepEqual(read.props.routes, ["203.0.113.0/28"]);
    const diff = await hostShimProvider.diff(shim.id, read.props, shim.inputs);
    assert.equal(diff.changes, true);
    assert.deepEqual(diff.replaces, [], "a missing route must not replace the shim");

    const updated = await hostShimProvider.update(shim.id, read.props, shim.inputs);
    assert.deepEqual(updated.outs?.routes, [RANGE, "203.0.113.0/28"]);
    const routes = JSON.parse((await host.exec(["ip", "-j", "route", "show", "dev", shimName])).stdout);
    assert.deepEqual(routes.map((r: { dst: string }) => r.dst).sort(), ["198.51.100.128/26", "203.0.113.0/28"]);
  });

  it("changes a shim's address and routes in place, keeping the same link", async () => {
    const shimName = uniqueName("shim");
    const shim = await createShim(shimInputs(shimName));
    const before = JSON.parse((await host.exec(["ip", "-j", "link", "show", "dev", shimName])).stdout)[0].ifindex;
    const news = (await hostShimProvider.check({}, shimInputs(shimName, { address: "198.51.100.251/32", routes: ["198.51.100.192/26"] })))
      .inputs;
    const diff = await hostShimProvider.diff(shim.id, shim.outs, news);
    assert.deepEqual(diff.replaces, []);
    await hostShimProvider.update(shim.id, shim.outs, news);
    const after = JSON.parse((await host.exec(["ip", "-j", "link", "show", "dev", shimName])).stdout)[0].ifindex;
    assert.equal(after, before, "the link was recreated");
    const addrs = (await host.exec(["ip", "-br", "address", "show", "dev", shimName])).stdout;
    assert.ok(addrs.includes("198.51.100.251/32") && !addrs.includes("198.51.100.250"), addrs);
    const routes = (await host.exec(["ip", "route", "show", "dev", shimName])).stdout;
    assert.ok(routes.includes("198.51.100.192/26") && !routes.includes("198.51.100.128/26"), routes);
  });

  it("rolls a shim back completely when a step fails half-way", async () => {
    const shimName = uniqueName("shim");
    // The host already has a connected route for the LAN subnet, so adding it again fails
    // after the link, the address and the first route exist.
    const inputs = (await hostShimProvider.check({}, shimInputs(shimName, { routes: [RANGE, "198.51.100.0/24"] }))).inputs;
    await assert.rejects(hostShimProvider.create(inputs), (err: unknown) => {
      assert.ok(err instanceof StepsFailedError, String(err));
      assert.deepEqual(err.undoFailures, []);
      assert.match(err.message, /File exists[\s\S]*undone/);
      return true;
    });
    const link = await host.exec(["ip", "link", "show", "dev", shimName], { allowFail: true });
    assert.notEqual(link.code, 0, "the half-made shim is still there");
    assert.ok(!(await host.exec(["ip", "route"])).stdout.includes(RANGE), "a route of the failed shim is left");
  });

  it("refuses to delete a network while containers use it, naming them; deleting it when gone succeeds", async () => {
    const name = uniqueName("mv");
    const { id, outs } = await createNetwork(networkInputs(name));
    const container = await runContainer(name, CONTAINER_IP);
    await host.docker(["stop", "-t", "0", container]);
    await assert.rejects(
      macvlanNetworkProvider.delete(id, outs),
      refused("inUse", [container], new RegExp(`still used by container\\(s\\) ${container}`)),
    );
    assert.equal((await host.docker(["network", "inspect", name], { allowFail: true })).code, 0, "network was deleted anyway");

    await host.docker(["rm", "-f", container]);
    await macvlanNetworkProvider.delete(id, outs);
    assert.notEqual((await host.docker(["network", "inspect", name], { allowFail: true })).code, 0, "network still exists");
    await macvlanNetworkProvider.delete(id, outs);
  });

  it("refuses an overlapping subnet, a missing parent, a parent in use and a taken name before changing anything", async () => {
    const name = uniqueName("mv");
    await createNetwork(networkInputs(name));
    const other = uniqueName("mv");
    const overlapping = (
      await macvlanNetworkProvider.check(
        {},
        networkInputs(other, { subnet: "198.51.100.0/25", ipRange: undefined, gateway: undefined, auxAddresses: {} }),
      )
    ).inputs;
    await assert.rejects(
      macvlanNetworkProvider.create(overlapping),
      refused("subnetOverlap", [name], new RegExp(`overlaps 198\\.51\\.100\\.0/24 of existing Docker network "${name}"`)),
    );

    const noParent = (
      await macvlanNetworkProvider.check(
        {},
        networkInputs(other, { parent: "eth9", subnet: "203.0.113.0/24", gateway: undefined, ipRange: undefined, auxAddresses: {} }),
      )
    ).inputs;
    await assert.rejects(
      macvlanNetworkProvider.create(noParent),
      refused("parentMissing", ["eth9"], /parent interface "eth9" does not exist/),
    );

    const sameParent = (
      await macvlanNetworkProvider.check(
        {},
        networkInputs(other, { subnet: "203.0.113.0/24", gateway: undefined, ipRange: undefined, auxAddresses: {} }),
      )
    ).inputs;
    await assert.rejects(
      macvlanNetworkProvider.create(sameParent),
      refused("parentTaken", [name], new RegExp(`Docker network "${name}" already uses parent "${host.lanParent}"`)),
    );

    const taken = (await macvlanNetworkProvider.check({}, networkInputs(name))).inputs;
    await assert.rejects(macvlanNetworkProvider.create(taken), refused("nameTaken", [name], /already exists[\s\S]*adopt: true/));
    const names = (await host.docker(["network", "ls", "--format", "{{.Name}}"])).stdout.split("\n");
    assert.ok(!names.includes(other), "a refused network was created");
  });

  it("adopts an existing network whose settings match, and refuses one that differs", async () => {
    const name = uniqueName("mv");
    await host.docker([
      "network",
      "create",
      "-d",
      "macvlan",
      "--subnet",
      SUBNET,
      "--gateway",
      GATEWAY,
      "--ip-range",
      RANGE,
      "--aux-address",
      `shim=${SHIM_ADDRESS}`,
      "-o",
      `parent=${host.lanParent}`,
      "-o",
      "macvlan_mode=bridge",
      name,
    ]);
    cleanup.networks.push(name);
    const existingId = (await inspect(name)).Id;
    const adopted = await createNetwork(networkInputs(name, { adopt: true }));
    assert.equal(adopted.id, existingId);

    const different = (await macvlanNetworkProvider.check({}, networkInputs(name, { adopt: true, ipRange: "198.51.100.192/26" }))).inputs;
    await assert.rejects(
      macvlanNetworkProvider.create(different),
      refused("adoptMismatch", [name], /IPv4 ip range: asked "198\.51\.100\.192\/26", host has "198\.51\.100\.128\/26"/),
    );
  });

  it("applies a connection change as an update that proves the new connection, with no replacement", async () => {
    const name = uniqueName("mv");
    const { id, outs } = await createNetwork(networkInputs(name));
    const news = (
      await macvlanNetworkProvider.check({}, networkInputs(name, { connection: connectionFor(host, { connectTimeoutMs: 15_000 }) }))
    ).inputs;
    const diff = await macvlanNetworkProvider.diff(id, outs, news);
    assert.equal(diff.changes, true);
    assert.deepEqual(diff.replaces, []);
    const updated = await macvlanNetworkProvider.update(id, outs, news);
    assert.equal(updated.outs?.networkId, id);
    assert.equal((await inspect(name)).Id, id, "the network was recreated");
  });

  it("creates three shims at once on one host, each one complete", async () => {
    const names = [uniqueName("shim"), uniqueName("shim"), uniqueName("shim")];
    const results = await Promise.all(
      names.map((n, i) => createShim(shimInputs(n, { address: `198.51.100.${240 + i}/32`, routes: [`203.0.113.${16 * i}/28`] }))),
    );
    for (const [i, r] of results.entries()) {
      const routes = (await host.exec(["ip", "route", "show", "dev", names[i]])).stdout;
      assert.ok(routes.includes(`203.0.113.${16 * i}/28`), routes);
      await hostShimProvider.delete(r.id, r.outs);
    }
  });
});
