import { strict as assert } from "node:assert";
import { RefusalError } from "../../../provider/errors";
import type { NetworkSpec } from "../../../provider/host/docker";
import { buildAnyWireless } from "../../../provider/host/iproute";
import { ANY_WIRELESS_MAX, type HostInventory, parentConflicts } from "../../../provider/ops/inventory";
import { createNetwork, deleteNetwork, networkRefusals, readNetwork } from "../../../provider/ops/network";
import { eventually } from "../../support/eventually";
import { FakeDocker } from "../../support/fakeDocker";
import { fakeRunner, linksJson, TARGET } from "../../support/fakeRunner";

const ID = "c".repeat(64);
const spec: NetworkSpec = {
  name: "lan",
  driver: "macvlan",
  options: { parent: "eth1", macvlan_mode: "bridge" },
  ipam: [{ subnet: "198.51.100.0/24", auxAddresses: {} }],
  enableIPv6: false,
  internal: false,
  labels: {},
};

function isRefusal(kind: string, names?: string[]) {
  return (err: unknown) => {
    assert.ok(err instanceof RefusalError, String(err));
    assert.equal(err.kind, kind);
    if (names) assert.deepEqual(err.names, names);
    return true;
  };
}

/** A host with lo and eth1 (and eth2..eth9) and the given networks. */
function host(networks: { id?: string; name: string; driver?: string; parent?: string; subnets?: string[] }[] = []) {
  const docker = new FakeDocker();
  for (const n of networks) docker.addNetwork(n);
  const links = [{ name: "lo" }, ...Array.from({ length: 9 }, (_, i) => ({ name: `eth${i + 1}` }))];
  const runner = fakeRunner((argv) => (argv.join(" ") === "ip -j -d link show" ? { stdout: linksJson(links) } : undefined), docker);
  return Object.assign(runner, { dockerd: docker });
}

/** What the macvlan resource passes: its parent rules as the precheck. */
const macvlan = (s: NetworkSpec) => ({
  adopt: false,
  differences: () => [],
  precheck: (inventory: HostInventory) => parentConflicts(s.options.parent, "macvlan", inventory),
});
const onParent = (i: number): NetworkSpec => ({
  ...spec,
  name: `lan${i}`,
  options: { parent: `eth${i}` },
  ipam: [{ subnet: `198.51.10${i}.0/24`, auxAddresses: {} }],
});

describe("ops: network lifecycle", () => {
  it("checks name, parent and subnets against one inventory, then creates and inspects the new network", async () => {
    const h = host([{ id: "d".repeat(64), name: "other", driver: "bridge", subnets: ["203.0.113.0/24"] }]);
    const network = await createNetwork(h, spec, { adopt: false, differences: () => [] });
    assert.equal(network.name, "lan");
    assert.deepEqual(network.options, { parent: "eth1", macvlan_mode: "bridge" });
    // One `test` asks about every NIC at once; none is Wi-Fi, so eth1 is not asked about alone.
    const nics = ["lo", ...Array.from({ length: 9 }, (_, i) => `eth${i + 1}`)];
    assert.deepEqual(h.calls, ["ip -j -d link show", buildAnyWireless(nics).join(" ")]);
    // The inventory, the create, and the listing that reads the new network back.
    assert.deepEqual(h.dockerd.requests, ["GET /networks", "POST /networks/create", "GET /networks"]);
  });

  it("refuses an IPv6-only network on a Docker older than 28, naming the version; creates it on 28", async () => {
    const v6only: NetworkSpec = { ...spec, ipam: [{ subnet: "fd18:0:0:4::/64", auxAddresses: {} }], enableIPv6: true };
    const on = (version: string, api = "1.48") => {
      const h = host();
      h.dockerd.serverVersion = version;
      h.dockerd.apiVersion = api;
      return h;
    };
    const old = on("26.1.5+dfsg1", "1.45");
    await assert.rejects(createNetwork(old, v6only, { adopt: false, differences: () => [] }), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "dockerTooOld");
      assert.match(err.message, /an IPv6-only network needs Docker 28\.0 or later; the host runs Docker 26\.1\.5\+dfsg1/);
      return true;
    });
    assert.equal(old.dockerd.count("POST /networks/create"), 0, "nothing was created");
    const recent = on("28.0.1");
    const created = await createNetwork(recent, v6only, { adopt: false, differences: () => [] });
    assert.equal(recent.dockerd.count("POST /networks/create"), 1);
    // Sent as API 1.48, the first that knows EnableIPv4 (the rest of the session speaks 1.41).
    assert.equal(recent.dockerd.pathVersions[recent.dockerd.requests.indexOf("POST /networks/create")], "1.48");
    assert.deepEqual(
      created.ipam.map((c) => c.subnet),
      ["fd18:0:0:4::/64"],
    );
  });

  it("removes an IPv6-only network the daemon gave an IPv4 subnet anyway, and refuses, naming it", async () => {
    const v6only: NetworkSpec = { ...spec, ipam: [{ subnet: "fd18:0:0:4::/64", auxAddresses: {} }], enableIPv6: true };
    const h = host();
    // A daemon that says 28 but whose API stops at 1.47 (a distribution's backport, say) is
    // refused before the create; one that claims 1.48 and still ignores the field is caught after.
    h.dockerd.serverVersion = "28.0.0";
    h.dockerd.apiVersion = "1.47";
    await assert.rejects(createNetwork(h, v6only, { adopt: false, differences: () => [] }), isRefusal("dockerTooOld"));
    assert.equal(h.dockerd.count("POST /networks/create"), 0);
    h.dockerd.apiVersion = "1.48";
    h.dockerd.ignoreEnableIPv4 = true;
    await assert.rejects(createNetwork(h, v6only, { adopt: false, differences: () => [] }), (err: unknown) => {
      isRefusal("ipv4Added", ["lan"])(err);
      assert.match((err as Error).message, /IPv6-only network "lan" an IPv4 subnet 172\.18\.0\.0\/16 .*the network was removed again/);
      return true;
    });
    assert.equal(h.dockerd.count("POST /networks/create"), 1);
    assert.deepEqual([...h.dockerd.networks.values()], [], "the network is gone again");
  });

  it("refuses a macvlan network on a Wi-Fi parent, saying to use ipvlan", async () => {
    const docker = new FakeDocker();
    const links = [{ name: "lo" }, { name: "eth1" }];
    const wifi = fakeRunner((argv) => {
      if (argv.join(" ") === "ip -j -d link show") return { stdout: linksJson(links) };
      return argv[0] === "test" ? { exitCode: 0 } : undefined;
    }, docker);
    await assert.rejects(createNetwork(wifi, spec, { adopt: false, differences: () => [] }), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "wifiParent");
      assert.match(err.message, /"eth1" is a Wi-Fi interface.*use IpvlanNetwork/);
      return true;
    });
    assert.equal(docker.count("POST /networks/create"), 0, "nothing was created");
  });

  it("on a host with a Wi-Fi link, asks about each parent alone: a wired parent is not refused", async () => {
    const docker = new FakeDocker();
    const links = [{ name: "lo" }, { name: "eth1" }, { name: "wlan0" }];
    const h = fakeRunner((argv) => {
      if (argv.join(" ") === "ip -j -d link show") return { stdout: linksJson(links) };
      if (argv[0] === "test") return { exitCode: argv.includes("/sys/class/net/wlan0/wireless") ? 0 : 1 };
      return undefined;
    }, docker);
    await createNetwork(h, spec, { adopt: false, differences: () => [] });
    assert.deepEqual(
      h.calls.filter((c) => c.startsWith("test ")),
      [buildAnyWireless(["lo", "eth1", "wlan0"]).join(" "), "test -d /sys/class/net/eth1/wireless"],
    );
    assert.equal(docker.count("POST /networks/create"), 1);
  });

  it("asks only about NICs (links without a kind), and about each parent alone past ANY_WIRELESS_MAX of them", async () => {
    const docker = new FakeDocker();
    const veths = Array.from({ length: 3 }, (_, i) => ({ name: `veth${i}`, kind: "veth" }));
    const few = fakeRunner(
      (argv) => (argv.join(" ") === "ip -j -d link show" ? { stdout: linksJson([{ name: "eth1" }, ...veths]) } : undefined),
      docker,
    );
    await createNetwork(few, spec, { adopt: false, differences: () => [] });
    assert.deepEqual(
      few.calls.filter((c) => c.startsWith("test ")),
      ["test -d /sys/class/net/eth1/wireless"],
      "one test, about eth1 only (the veths are left out), and no second one",
    );
    const nics = [{ name: "eth1" }, ...Array.from({ length: ANY_WIRELESS_MAX }, (_, i) => ({ name: `en${i}` }))];
    const many = fakeRunner(
      (argv) => (argv.join(" ") === "ip -j -d link show" ? { stdout: linksJson(nics) } : undefined),
      new FakeDocker(),
    );
    await createNetwork(many, spec, { adopt: false, differences: () => [] });
    assert.deepEqual(
      many.calls.filter((c) => c.startsWith("test ")),
      ["test -d /sys/class/net/eth1/wireless"],
    );
  });

  it("creates that run together share one inventory, updated by each create, and one listing that reads them back", async () => {
    const h = host();
    const created = await Promise.all([1, 2, 3, 4, 5].map((i) => createNetwork(h, onParent(i), { adopt: false, differences: () => [] })));
    assert.deepEqual(
      created.map((n) => [n.name, n.id]),
      [1, 2, 3, 4, 5].map((i) => [`lan${i}`, [...h.dockerd.networks.values()].find((n) => n.Name === `lan${i}`)?.Id]),
    );
    assert.deepEqual(
      h.dockerd.requests,
      ["GET /networks", ...Array(5).fill("POST /networks/create"), "GET /networks"],
      "one inventory, five creates one after another, then one listing for all five (no inspect each)",
    );
    // One link listing and one Wi-Fi question for the whole batch, none per create.
    assert.deepEqual(
      h.calls.map((c) => c.split(" ")[0]),
      ["ip", "test"],
    );
    // The batch is over: a network made by hand since is seen by the next create.
    h.dockerd.addNetwork({ name: "by-hand", parent: "eth6", subnets: ["203.0.113.0/24"] });
    await assert.rejects(createNetwork(h, onParent(6), macvlan(onParent(6))), isRefusal("parentTaken", ["by-hand"]));
    assert.equal(h.dockerd.count("GET /networks"), 3);
  });

  it("refuses a clash between creates that run together (name, parent, subnet), before Docker sees either", async () => {
    const h = host();
    h.dockerd.delayMs = 5;
    const specs = [
      onParent(1),
      { ...onParent(1), name: "same-parent", ipam: [{ subnet: "203.0.113.0/24", auxAddresses: {} }] },
      { ...onParent(2), ipam: onParent(1).ipam },
      { ...onParent(3), name: "lan1" },
    ];
    const results = await Promise.allSettled(specs.map((s) => createNetwork(h, s, macvlan(s))));
    assert.equal(results[0].status, "fulfilled");
    assert.deepEqual(
      results.slice(1).map((r) => (r.status === "rejected" ? (r.reason as RefusalError).kind : "created")),
      ["parentTaken", "subnetOverlap", "nameTaken"],
    );
    assert.equal(h.dockerd.count("POST /networks/create"), 1);
  });

  it("never adopts a network another create is still making: adopt: true or not, the second is refused as a taken name", async () => {
    const h = host();
    h.dockerd.delayMs = 5;
    const results = await Promise.allSettled([
      createNetwork(h, onParent(1), { adopt: false, differences: () => [] }),
      createNetwork(h, onParent(1), { adopt: true, differences: () => [] }),
    ]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    const refused = (results[1] as PromiseRejectedResult).reason;
    assert.ok(isRefusal("nameTaken")(refused));
    assert.match((refused as Error).message, /another resource in this run is creating a Docker network named "lan1" right now/);
    assert.equal(h.dockerd.count("POST /networks/create"), 1);
  });

  it("sends network creates and removals to Docker one at a time", async () => {
    const h = host();
    h.dockerd.delayMs = 5;
    const created = await Promise.all([1, 2, 3, 4].map((i) => createNetwork(h, onParent(i), { adopt: false, differences: () => [] })));
    await Promise.all(created.map((n) => deleteNetwork(h, n.id, n.name)));
    assert.equal(h.dockerd.networks.size, 0);
    assert.equal(h.dockerd.maxConcurrentChanges, 1);
  });

  it("lets a link sequence asked for during a create run after it, never waiting on each other", async () => {
    const h = host();
    const create = createNetwork(h, spec, { adopt: false, differences: () => [] });
    const createsSeenByLink = h.exclusive(async () => h.dockerd.count("POST /networks/create"));
    await create;
    assert.equal(await createsSeenByLink, 1, "the link sequence ran in the middle of the create");
  });

  it("takes a failed create's claim back, so the name is free again", async () => {
    const h = host();
    h.dockerd.failing.set("POST /networks/create", { status: 500, message: "Pool overlaps with other one on this address space" });
    await assert.rejects(createNetwork(h, spec, { adopt: false, differences: () => [] }), /answered 500: Pool overlaps/);
    h.dockerd.failing.clear();
    assert.equal((await createNetwork(h, spec, { adopt: false, differences: () => [] })).name, "lan");
  });

  it("reads that arrive together share one listing, and a read after a write sees the write", async () => {
    const h = host();
    const made = await createNetwork(h, onParent(1), { adopt: false, differences: () => [] });
    const before = h.dockerd.count("GET /networks");
    const reads = await Promise.all(Array.from({ length: 20 }, () => readNetwork(h, made.id)));
    assert.ok(reads.every((n) => n?.id === made.id));
    assert.equal(h.dockerd.count("GET /networks") - before, 1, "20 reads were not answered by one listing");

    // A listing is in flight (held by the daemon) when a create finishes; a read issued after
    // that create must not be answered by the listing sent before it.
    let open!: () => void;
    h.dockerd.gates.set("GET /networks", new Promise<void>((resolve) => (open = resolve)));
    const early = readNetwork(h, "none");
    await eventually(async () => assert.equal(h.dockerd.count("GET /networks"), before + 2), 2000, 1);
    h.dockerd.gates.delete("GET /networks");
    const second = await createNetwork(h, onParent(2), { adopt: false, differences: () => [] });
    const late = readNetwork(h, second.id);
    open();
    await early;
    assert.equal((await late)?.id, second.id, "a read after a create did not see it");
  });

  it("refuses a taken name unless adopting a network that matches", async () => {
    const existing = [{ id: ID, name: "lan", driver: "macvlan", parent: "eth1", subnets: ["198.51.100.0/24"] }];
    await assert.rejects(createNetwork(host(existing), spec, { adopt: false, differences: () => [] }), isRefusal("nameTaken", ["lan"]));
    await assert.rejects(
      createNetwork(host(existing), spec, { adopt: true, differences: () => ["ipv6: asked true, host has false"] }),
      (err: unknown) =>
        isRefusal("adoptMismatch", ["lan"])(err) && /its settings differ:\n {2}- ipv6: asked true/.test((err as Error).message),
    );
    const h = host(existing);
    const adopted = await createNetwork(h, spec, { adopt: true, differences: (n) => (n.id === ID ? [] : ["wrong network"]) });
    assert.equal(adopted.id, ID);
    assert.ok(!h.calls.some((c) => c.includes("create")), "adopting created a network");
  });

  it("runs the driver's precheck against the inventory before creating", async () => {
    const h = host();
    await assert.rejects(
      createNetwork(h, spec, {
        adopt: false,
        differences: () => [],
        precheck: (inventory) => {
          assert.deepEqual(inventory.links.map((l) => l.name).slice(0, 2), ["lo", "eth1"]);
          throw new Error("driver says no");
        },
      }),
      /driver says no/,
    );
    assert.ok(!h.calls.some((c) => c.includes("create")));
  });

  it("refuses when Docker reports a network it then cannot inspect", async () => {
    const h = host();
    h.dockerd.vanishOnCreate = true;
    await assert.rejects(createNetwork(h, spec, { adopt: false, differences: () => [] }), isRefusal("vanished"));
  });

  describe("refusals from the inventory", () => {
    const links = [
      { name: "eth1", data: {}, mtu: 1500, up: true },
      { name: "eth2", data: {}, mtu: 1500, up: true },
    ];
    const inv = (networks: { name: string; subnets: string[] }[] = []) => ({
      target: TARGET,
      links,
      networks: networks.map((n, i) => ({
        id: String(i).repeat(64),
        name: n.name,
        driver: "bridge" as const,
        options: {},
        ipam: n.subnets.map((subnet) => ({ subnet, auxAddresses: {} })),
        enableIPv6: false,
        internal: false,
        labels: {},
        containers: [],
      })),
    });

    it("accepts an existing parent, or a VLAN parent whose base exists (Docker makes it)", () => {
      networkRefusals(spec, inv());
      networkRefusals({ ...spec, options: { parent: "eth2.50" } }, inv());
      networkRefusals({ ...spec, options: {} }, inv());
    });

    it("refuses a missing parent, naming what the host has", () => {
      assert.throws(() => networkRefusals({ ...spec, options: { parent: "eth9" } }, inv()), isRefusal("parentMissing", ["eth9"]));
      assert.throws(
        () => networkRefusals({ ...spec, options: { parent: "eth9.50" } }, inv()),
        /parent interface "eth9\.50" does not exist on the host \(it has: eth1, eth2\)/,
      );
      assert.throws(() => networkRefusals({ ...spec, options: { parent: "eth1x" } }, inv()), isRefusal("parentMissing"));
    });

    it("refuses a subnet that overlaps another network's, either way round", () => {
      assert.throws(
        () =>
          networkRefusals(
            spec,
            inv([
              { name: "a", subnets: ["203.0.113.0/24"] },
              { name: "wide", subnets: ["fd18::/64", "198.51.0.0/16"] },
            ]),
          ),
        (err: unknown) =>
          isRefusal("subnetOverlap", ["wide"])(err) &&
          /subnet 198\.51\.100\.0\/24 overlaps 198\.51\.0\.0\/16 of existing Docker network "wide" \(id 111111111111\)/.test(
            (err as Error).message,
          ),
      );
      assert.throws(
        () => networkRefusals(spec, inv([{ name: "narrow", subnets: ["198.51.100.128/25"] }])),
        isRefusal("subnetOverlap", ["narrow"]),
      );
      networkRefusals(spec, inv([{ name: "beside", subnets: ["198.51.101.0/24", "fd18::/64"] }]));
    });
  });

  it("deletes a network nobody uses; a network already gone counts as deleted", async () => {
    const h = host([{ id: ID, name: "lan" }]);
    await deleteNetwork(h, ID, "lan");
    assert.deepEqual(h.dockerd.requests, ["GET /containers/json", `DELETE /networks/${ID}`]);
    assert.equal(h.dockerd.networks.size, 0);
    await deleteNetwork(h, ID, "lan");
  });

  it("removals asked together share one listing of the containers that use them; each is refused only for its own", async () => {
    const ids = ["1", "2", "3"].map((d) => d.repeat(64));
    const h = host(ids.map((id, i) => ({ id, name: `lan${i}` })));
    h.dockerd.containers.push({ Id: "c", Names: ["/web"], networks: [ids[1]] });
    const results = await Promise.allSettled(ids.map((id, i) => deleteNetwork(h, id, `lan${i}`)));
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    assert.ok(results[1].status === "rejected" && isRefusal("inUse", ["web"])(results[1].reason));
    assert.deepEqual(h.dockerd.requests, ["GET /containers/json", `DELETE /networks/${ids[0]}`, `DELETE /networks/${ids[2]}`]);
    assert.deepEqual([...h.dockerd.networks.keys()], [ids[1]]);
  });

  it("refuses to delete a network containers use, running or stopped, naming each", async () => {
    const h = host([{ id: ID, name: "lan" }]);
    h.dockerd.containers.push(
      { Id: "1", Names: ["/stopped"], networks: [ID] },
      { Id: "2", Names: ["/web"], networks: [ID] },
      { Id: "3", Names: ["/elsewhere"], networks: ["x"] },
    );
    await assert.rejects(
      deleteNetwork(h, ID, "lan"),
      (err: unknown) =>
        isRefusal("inUse", ["stopped", "web"])(err) &&
        /Docker network "lan" is still used by container\(s\) stopped, web; remove them/.test((err as Error).message),
    );
    assert.equal(h.dockerd.count(`DELETE /networks/${ID}`), 0);
  });
});
