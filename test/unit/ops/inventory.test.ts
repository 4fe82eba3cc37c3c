import { strict as assert } from "node:assert";
import { DockerApiError, RefusalError } from "../../../provider/errors";
import {
  hostInventory,
  inspectNetwork,
  isDockerMissing,
  kernelParentConflicts,
  listAllNetworks,
  parentConflicts,
  showLink,
} from "../../../provider/ops/inventory";
import { FakeDocker } from "../../support/fakeDocker";
import { fakeRunner, linksJson, TARGET } from "../../support/fakeRunner";

const ID = "a".repeat(64);

function refusal(kind: RefusalError["kind"], names: string[]) {
  return (err: unknown) => {
    assert.ok(err instanceof RefusalError, String(err));
    assert.equal(err.kind, kind);
    assert.deepEqual(err.names, names);
    assert.equal(err.target, TARGET);
    return true;
  };
}

describe("ops: inventory", () => {
  it("shows one link, or nothing when the device does not exist; other failures throw", async () => {
    const host = fakeRunner((argv) =>
      argv.includes("eth1")
        ? { stdout: linksJson([{ name: "eth1" }]) }
        : argv.includes("gone")
          ? { exitCode: 1, stderr: 'Device "gone" does not exist.' }
          : { exitCode: 2, stderr: "RTNETLINK answers: Operation not permitted" },
    );
    assert.equal((await showLink(host.run, "eth1"))?.name, "eth1");
    assert.equal(await showLink(host.run, "gone"), undefined);
    await assert.rejects(showLink(host.run, "other"), /Operation not permitted/);
    assert.deepEqual(host.calls, ["ip -j -d link show dev eth1", "ip -j -d link show dev gone", "ip -j -d link show dev other"]);
  });

  it("inspects a network by exact name or id only; 'no such network' is undefined, anything else throws", async () => {
    const docker = new FakeDocker();
    docker.addNetwork({ id: ID, name: "lan" });
    docker.failing.set("GET /networks/down", { status: 500, message: "Cannot connect to the Docker daemon" });
    const host = { target: TARGET, docker };
    assert.equal((await inspectNetwork(host, "lan"))?.id, ID);
    assert.equal((await inspectNetwork(host, ID))?.name, "lan");
    assert.equal(await inspectNetwork(host, "aaaa"), undefined, "an id prefix matched");
    assert.equal(await inspectNetwork(host, "gone"), undefined);
    await assert.rejects(
      inspectNetwork(host, "down"),
      (err: unknown) => err instanceof DockerApiError && err.status === 500 && /answered 500: Cannot connect/.test(err.message),
    );
  });

  it("lists every network in one request, none without a docker CLI; a daemon failure throws", async () => {
    const docker = new FakeDocker();
    docker.addNetwork({ id: ID, name: "a" });
    docker.addNetwork({ id: "b".repeat(64), name: "b", driver: "bridge" });
    assert.deepEqual(
      (await listAllNetworks({ target: TARGET, docker })).map((n) => n.name),
      ["a", "b"],
    );
    assert.deepEqual(docker.requests, ["GET /networks"]);
    const streamDied = (code: number, stderr: string) => ({
      target: TARGET,
      docker: { request: async () => Promise.reject(new DockerApiError(TARGET, "GET", "/networks", undefined, stderr, code, stderr)) },
    });
    assert.deepEqual(await listAllNetworks(streamDied(127, "timeout: failed to run command 'docker': No such file or directory")), []);
    // The exit status lost (the stream reported closed first): timeout's own words stand for it.
    const statusLost = {
      target: TARGET,
      docker: {
        request: async () =>
          Promise.reject(
            new DockerApiError(
              TARGET,
              "GET",
              "/networks",
              undefined,
              "x",
              undefined,
              "timeout: failed to run command 'docker': No such file or directory\n",
            ),
          ),
      },
    };
    assert.deepEqual(await listAllNetworks(statusLost), []);
    assert.deepEqual(await listAllNetworks(streamDied(1, "sudo: docker: command not found")), []);
    await assert.rejects(listAllNetworks(streamDied(1, "permission denied")), /permission denied/);
    docker.failing.set("GET /networks", { status: 500, message: "daemon broke" });
    await assert.rejects(listAllNetworks({ target: TARGET, docker }), /daemon broke/);
  });

  it("tells a missing docker CLI from other failures, with and without sudo", () => {
    assert.equal(isDockerMissing({ exitCode: 127, stderr: "" }), true);
    assert.equal(isDockerMissing({ exitCode: 1, stderr: "sudo: docker: command not found\n" }), true);
    assert.equal(isDockerMissing({ exitCode: 1, stderr: "docker: command not found" }), false);
    assert.equal(isDockerMissing({ exitCode: 2, stderr: "sudo: docker: command not found" }), false);
    assert.equal(isDockerMissing({ exitCode: 1, stderr: "sudo: a password is required" }), false);
  });

  it("collects links and networks with the target", async () => {
    const host = fakeRunner((argv) => (argv[0] === "ip" ? { stdout: linksJson([{ name: "eth1" }]) } : { stdout: "" }), new FakeDocker());
    const inventory = await hostInventory(host.run, host);
    assert.deepEqual(
      inventory.links.map((l) => l.name),
      ["eth1"],
    );
    assert.deepEqual(inventory.networks, []);
    assert.equal(inventory.target, TARGET);
  });

  describe("parent rules", () => {
    const base = { target: TARGET, links: [], networks: [] };
    const network = (name: string, driver: "macvlan" | "ipvlan", parent: string) => ({
      id: ID,
      name,
      driver,
      options: { parent },
      ipam: [],
      enableIPv6: false,
      internal: false,
      labels: {},
      containers: [],
    });
    const link = (name: string, kind: string, parent: string) => ({ name, kind, parent, data: {}, mtu: 1500, up: true });

    it("refuses macvlan beside ipvlan on one parent, naming the network or the link", () => {
      assert.throws(
        () => kernelParentConflicts("eth1", "macvlan", { ...base, networks: [network("ipv", "ipvlan", "eth1")] }),
        refusal("parentConflict", ["ipv"]),
      );
      assert.throws(
        () => kernelParentConflicts("eth1", "ipvlan", { ...base, links: [link("shim0", "macvlan", "eth1")] }),
        refusal("parentConflict", ["shim0"]),
      );
      assert.throws(
        () => kernelParentConflicts("eth1", "ipvlan", { ...base, networks: [network("mv", "macvlan", "eth1")] }),
        /Docker macvlan network "mv" uses parent "eth1"; the kernel cannot put ipvlan and macvlan ports on one parent/,
      );
      assert.throws(
        () => kernelParentConflicts("eth1", "macvlan", { ...base, links: [link("ipv0", "ipvlan", "eth1")] }),
        /ipvlan interface "ipv0" \(a host shim\?\) already sits on parent "eth1"/,
      );
    });

    it("allows the same driver beside itself (for the kernel), other parents and other kinds", () => {
      kernelParentConflicts("eth1", "macvlan", {
        ...base,
        networks: [network("mv", "macvlan", "eth1"), network("ipv", "ipvlan", "eth2")],
        links: [link("shim0", "macvlan", "eth1"), link("eth1.50", "vlan", "eth1"), link("ipv0", "ipvlan", "eth2")],
      });
    });

    it("refuses a second network of one driver on a parent (Docker's rule), then applies the kernel's", () => {
      assert.throws(
        () => parentConflicts("eth1", "macvlan", { ...base, networks: [network("mv", "macvlan", "eth1")] }),
        refusal("parentTaken", ["mv"]),
      );
      assert.throws(
        () => parentConflicts("eth1", "macvlan", { ...base, networks: [network("ipv", "ipvlan", "eth1")] }),
        refusal("parentConflict", ["ipv"]),
      );
      parentConflicts("eth1", "macvlan", { ...base, networks: [network("mv", "macvlan", "eth2")] });
    });
  });
});
