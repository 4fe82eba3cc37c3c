import { strict as assert } from "node:assert";
import { RefusalError } from "../../../provider/errors";
import { CommandResult } from "../../../provider/host/command";
import { NetworkSpec } from "../../../provider/host/docker";
import { RunCommand } from "../../../provider/ssh/pool";
import { createNetwork, deleteNetwork, networkRefusals } from "../../../provider/ops/network";
import { fakeRunner, inspectJson, linksJson, TARGET } from "../../support/fakeRunner";

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

/** A host with eth1 and the given networks; `network create` answers with ID. */
function host(networks: Parameters<typeof inspectJson>[0] = [], created = [{ id: ID, name: "lan", driver: "macvlan", parent: "eth1", subnets: ["198.51.100.0/24"] }]) {
  const all = [...networks];
  return fakeRunner((argv) => {
    const cmd = argv.join(" ");
    if (cmd === "ip -j -d link show") return { stdout: linksJson([{ name: "lo" }, { name: "eth1" }]) };
    if (cmd.startsWith("docker network ls")) return { stdout: all.map((n) => n.id).join("\n") };
    if (cmd.startsWith("docker network create")) {
      all.push(...created);
      return { stdout: `${ID}\n` };
    }
    if (cmd.startsWith("docker network inspect")) {
      const asked = argv.slice(4);
      const found = all.filter((n) => asked.includes(n.id) || asked.includes(n.name));
      return found.length ? { stdout: inspectJson(found) } : { exitCode: 1, stderr: `Error: No such network: ${asked[0]}` };
    }
    if (cmd.startsWith("docker ps")) return { stdout: "" };
    return undefined;
  });
}

describe("ops: network lifecycle", () => {
  /** The host above, with some commands answered otherwise (`docker version`, the Wi-Fi test). */
  function hostAnswering(over: (argv: readonly string[]) => Partial<CommandResult> | undefined) {
    const base = host();
    const run: RunCommand = (argv, options) => {
      const given = over(argv);
      return given ? Promise.resolve({ exitCode: 0, stdout: "", stderr: "", ...given }) : base.run(argv, options);
    };
    return { ...base, run, exclusive: <T>(body: (r: RunCommand) => Promise<T>) => body(run) };
  }

  it("refuses an IPv6-only network on a Docker older than 28, naming the version; creates it on 28", async () => {
    const v6only: NetworkSpec = { ...spec, ipam: [{ subnet: "fd18:0:0:4::/64", auxAddresses: {} }], enableIPv6: true };
    const on = (version: string) => hostAnswering((argv) => (argv[1] === "version" ? { stdout: `${version}\n` } : undefined));
    await assert.rejects(createNetwork(on("26.1.5+dfsg1"), v6only, { adopt: false, differences: () => [] }), /needs Docker 28\.0 or later; the host runs Docker 26\.1\.5/);
    await assert.rejects(createNetwork(on("20.10.24+dfsg1"), v6only, { adopt: false, differences: () => [] }), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "dockerTooOld");
      assert.match(err.message, /an IPv6-only network needs Docker 28\.0 or later; the host runs Docker 20\.10\.24\+dfsg1/);
      return true;
    });
    assert.equal((await createNetwork(on("28.0.1"), v6only, { adopt: false, differences: () => [] })).id, ID);
  });

  it("refuses a macvlan network on a Wi-Fi parent, saying to use ipvlan", async () => {
    const wifi = hostAnswering((argv) => (argv[0] === "test" ? { exitCode: 0 } : undefined));
    await assert.rejects(createNetwork(wifi, spec, { adopt: false, differences: () => [] }), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "wifiParent");
      assert.match(err.message, /"eth1" is a Wi-Fi interface.*use IpvlanNetwork/);
      return true;
    });
    assert.ok(!wifi.calls.some((c) => c.startsWith("docker network create")), "nothing was created");
  });

  it("checks name, parent and subnets, then creates and inspects the new network", async () => {
    const h = host([{ id: "d".repeat(64), name: "other", driver: "bridge", subnets: ["203.0.113.0/24"] }]);
    const network = await createNetwork(h, spec, { adopt: false, differences: () => [] });
    assert.equal(network.id, ID);
    assert.deepEqual(h.calls, [
      "docker network inspect -- lan",
      "ip -j -d link show",
      "docker network ls --no-trunc --quiet",
      `docker network inspect -- ${"d".repeat(64)}`,
      "test -d /sys/class/net/eth1/wireless",
      "docker network create --driver macvlan --subnet 198.51.100.0/24 --opt parent=eth1 --opt macvlan_mode=bridge -- lan",
      `docker network inspect -- ${ID}`,
    ]);
  });

  it("refuses a taken name unless adopting a network that matches", async () => {
    const existing = [{ id: ID, name: "lan", driver: "macvlan", parent: "eth1", subnets: ["198.51.100.0/24"] }];
    await assert.rejects(createNetwork(host(existing), spec, { adopt: false, differences: () => [] }), isRefusal("nameTaken", ["lan"]));
    await assert.rejects(
      createNetwork(host(existing), spec, { adopt: true, differences: () => ["ipv6: asked true, host has false"] }),
      (err: unknown) => isRefusal("adoptMismatch", ["lan"])(err) && /its settings differ:\n {2}- ipv6: asked true/.test((err as Error).message),
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
          assert.deepEqual(inventory.links.map((l) => l.name), ["lo", "eth1"]);
          throw new Error("driver says no");
        },
      }),
      /driver says no/,
    );
    assert.ok(!h.calls.some((c) => c.includes("create")));
  });

  it("refuses when Docker reports a network it then cannot inspect", async () => {
    await assert.rejects(createNetwork(host([], []), spec, { adopt: false, differences: () => [] }), isRefusal("vanished", [ID]));
  });

  describe("refusals from the inventory", () => {
    const links = [{ name: "eth1", data: {}, mtu: 1500, up: true }, { name: "eth2", data: {}, mtu: 1500, up: true }];
    const inv = (networks: { name: string; subnets: string[] }[] = []) => ({
      target: TARGET,
      links,
      networks: networks.map((n, i) => ({
        id: String(i).repeat(64), name: n.name, driver: "bridge" as const, options: {}, ipam: n.subnets.map((subnet) => ({ subnet, auxAddresses: {} })),
        enableIPv6: false, internal: false, labels: {}, containers: [],
      })),
    });

    it("accepts an existing parent, or a VLAN parent whose base exists (Docker makes it)", () => {
      networkRefusals(spec, inv());
      networkRefusals({ ...spec, options: { parent: "eth2.50" } }, inv());
      networkRefusals({ ...spec, options: {} }, inv());
    });

    it("refuses a missing parent, naming what the host has", () => {
      assert.throws(() => networkRefusals({ ...spec, options: { parent: "eth9" } }, inv()), isRefusal("parentMissing", ["eth9"]));
      assert.throws(() => networkRefusals({ ...spec, options: { parent: "eth9.50" } }, inv()), /parent interface "eth9\.50" does not exist on the host \(it has: eth1, eth2\)/);
      assert.throws(() => networkRefusals({ ...spec, options: { parent: "eth1x" } }, inv()), isRefusal("parentMissing"));
    });

    it("refuses a subnet that overlaps another network's, either way round", () => {
      assert.throws(() => networkRefusals(spec, inv([{ name: "a", subnets: ["203.0.113.0/24"] }, { name: "wide", subnets: ["fd18::/64", "198.51.0.0/16"] }])), (err: unknown) =>
        isRefusal("subnetOverlap", ["wide"])(err) && /subnet 198\.51\.100\.0\/24 overlaps 198\.51\.0\.0\/16 of existing Docker network "wide" \(id 111111111111\)/.test((err as Error).message),
      );
      assert.throws(() => networkRefusals(spec, inv([{ name: "narrow", subnets: ["198.51.100.128/25"] }])), isRefusal("subnetOverlap", ["narrow"]));
      networkRefusals(spec, inv([{ name: "beside", subnets: ["198.51.101.0/24", "fd18::/64"] }]));
    });
  });

  it("deletes a network nobody uses; a network already gone counts as deleted", async () => {
    const h = host([{ id: ID, name: "lan", driver: "macvlan" }]);
    await deleteNetwork(h, ID, "lan");
    assert.deepEqual(h.calls.slice(1), [`docker ps --all --no-trunc --filter network=${ID} --format {{json .}}`, `docker network rm -- ${ID}`]);
    const gone = host();
    await deleteNetwork(gone, ID, "lan");
    assert.equal(gone.calls.length, 1);
  });

  it("refuses to delete a network containers use, running or stopped, naming each once", async () => {
    const h = fakeRunner((argv) =>
      argv[1] === "ps"
        ? { stdout: '{"ID":"1","Names":"stopped"}\n{"ID":"2","Names":"web"}\n' }
        : { stdout: inspectJson([{ id: ID, name: "lan", driver: "macvlan", containers: { "2": { Name: "web" } } }]) },
    );
    await assert.rejects(deleteNetwork(h, ID, "lan"), (err: unknown) =>
      isRefusal("inUse", ["stopped", "web"])(err) && /Docker network "lan" is still used by container\(s\) stopped, web; remove them/.test((err as Error).message),
    );
    assert.ok(!h.calls.some((c) => c.includes(" rm ")));
  });
});
