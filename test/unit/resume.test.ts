// Resume instead of refuse (issue 10), the pure and in-process parts: how the owner mark is
// written and read (labels, link aliases, the boot-time files), the decisions a create makes
// when the name is taken (adopt, complete, refuse naming what differs), the late network
// removed after a create of unknown outcome, and state from before owners.

import { strict as assert } from "node:assert";
import { DockerApiError, RefusalError } from "../../provider/errors";
import { type NetworkSpec, networkCreateRequest, OWNER_LABEL, parseNetworkJson } from "../../provider/host/docker";
import { buildIpBatch, parseLinks } from "../../provider/host/iproute";
import { linkSetupCommands, networkdFiles, type PersistentLink, systemdUnitFiles } from "../../provider/host/persistentLinks";
import { linkMark, requireNewLink } from "../../provider/ops/links";
import { createNetwork } from "../../provider/ops/network";
import { hostShimProvider } from "../../provider/resources/link/hostShim";
import { createLinkSteps } from "../../provider/resources/link/provider";
import { vlanSubinterfaceProvider } from "../../provider/resources/link/vlanSubinterface";
import { MacvlanNetworkArgsSchema, macvlanMapping, macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { fromInspected } from "../../provider/resources/network/mapping";
import type { DockerApi } from "../../provider/ssh/dockerApi";
import { FakeDocker } from "../support/fakeDocker";
import { useInProcessLinuxHost } from "../support/fakeLinuxHost";
import { fakeRunner, linksJson, TARGET } from "../support/fakeRunner";

const OWNER = "proj/dev/HostShim/shim0";
const MARK = linkMark(OWNER);

function refusal(kind: string, text?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof RefusalError, String(err));
    assert.equal(err.kind, kind, err.message);
    if (text) assert.match(err.message, text);
    return true;
  };
}

/** A macvlan network "lan" on eth1 carrying its resource's owner mark. */
const LAN_SPEC: NetworkSpec = {
  name: "lan",
  driver: "macvlan",
  options: { parent: "eth1" },
  ipam: [{ subnet: "198.51.100.0/24", auxAddresses: {} }],
  enableIPv6: false,
  internal: false,
  labels: {},
  owner: "proj/dev/MacvlanNetwork/lan",
};

describe("resume: the owner mark on the host", () => {
  it("marks a link with a short, stable hash of its owner", () => {
    assert.match(MARK, /^pulumi-underlay:[0-9a-f]{16}$/);
    assert.equal(linkMark(OWNER), MARK);
    assert.notEqual(linkMark("proj/prod/HostShim/shim0"), MARK);
  });

  it("reads a link's alias (ifalias), none when empty or absent", () => {
    const links = parseLinks(
      JSON.stringify([
        { ifindex: 1, ifname: "a", flags: [], mtu: 1500, ifalias: MARK },
        { ifindex: 2, ifname: "b", flags: [], mtu: 1500, ifalias: "" },
        { ifindex: 3, ifname: "c", flags: [], mtu: 1500 },
      ]),
    );
    assert.deepEqual(
      links.map((l) => l.alias),
      [MARK, undefined, undefined],
    );
  });

  it("makes and marks a link in one `ip -batch -` process, undone by deleting the link", () => {
    const link: PersistentLink = {
      kind: "macvlan",
      name: "shim0",
      parent: "eth1",
      mode: "bridge",
      address: "198.51.100.250/32",
      routes: [],
      alias: MARK,
    };
    const [first, ...rest] = createLinkSteps(link);
    assert.deepEqual(first, {
      argv: ["ip", "-batch", "-"],
      stdin: `link add link eth1 name shim0 type macvlan mode bridge\nlink set dev shim0 alias ${MARK}\n`,
      undo: ["ip", "link", "delete", "dev", "shim0"],
    });
    assert.deepEqual(
      rest.map((s) => s.argv.join(" ")),
      ["ip address add 198.51.100.250/32 dev shim0", "ip link set dev shim0 up"],
    );
    // Without a mark (state from before owners) the steps are the plain commands, as before.
    const plain = createLinkSteps({ ...link, alias: undefined });
    assert.deepEqual(plain[0], {
      argv: ["ip", "link", "add", "link", "eth1", "name", "shim0", "type", "macvlan", "mode", "bridge"],
      undo: ["ip", "link", "delete", "dev", "shim0"],
    });
  });

  it("refuses a word `ip -batch` would split or reinterpret", () => {
    assert.throws(() => buildIpBatch([["ip", "link", "set", "dev", "x", "alias", "a b"]]), /cannot carry the word "a b"/);
    assert.throws(() => buildIpBatch([["ip", "link", "set", "dev", "x", "alias", "#c"]]), /cannot carry/);
    assert.throws(() => buildIpBatch([["tee", "x"]]), /not an ip command/);
  });

  it("replays the mark at boot: the unit sets the alias right after the add; networkd gets a .link file", () => {
    const vlan: PersistentLink = { kind: "vlan", name: "eth1.50", parent: "eth1", vlanId: 50, alias: MARK };
    assert.deepEqual(
      linkSetupCommands(vlan).map((a) => a.join(" ")),
      ["ip link add link eth1 name eth1.50 type vlan id 50", `ip link set dev eth1.50 alias ${MARK}`, "ip link set dev eth1.50 up"],
    );
    const unit = systemdUnitFiles(vlan)[0].content;
    assert.match(
      unit,
      new RegExp(`ExecStart=ip link add link eth1 name eth1.50 type vlan id 50\nExecStart=ip link set dev eth1.50 alias ${MARK}\n`),
    );
    const files = networkdFiles(vlan, "/etc/systemd/network/10-eth1.network");
    const linkFile = files.find((f) => f.path === "/etc/systemd/network/60-underlay-eth1.50.link");
    assert.ok(linkFile, files.map((f) => f.path).join(", "));
    assert.match(
      linkFile.content,
      new RegExp(`\\[Match\\]\nOriginalName=eth1.50\n\n\\[Link\\]\nAlias=${MARK}\nMACAddressPolicy=persistent\n`),
    );
    // No mark, no .link file: persisted state from before owners reads back as persisted.
    assert.equal(networkdFiles({ ...vlan, alias: undefined }, "/etc/systemd/network/10-eth1.network").length, 3);
  });

  it("writes the owner as a label and reads it apart from the program's labels", () => {
    const spec: NetworkSpec = { ...LAN_SPEC, labels: { team: "net" } };
    const body = networkCreateRequest(spec).body as { Labels: Record<string, string> };
    assert.deepEqual(body.Labels, { team: "net", [OWNER_LABEL]: "proj/dev/MacvlanNetwork/lan" });
    const [read] = parseNetworkJson({ Id: "a", Name: "lan", Driver: "macvlan", Labels: body.Labels });
    assert.deepEqual([read.labels, read.owner], [{ team: "net" }, "proj/dev/MacvlanNetwork/lan"]);
    const [unmarked] = parseNetworkJson({ Id: "a", Name: "lan", Driver: "macvlan", Labels: { team: "net" } });
    assert.deepEqual([unmarked.labels, unmarked.owner], [{ team: "net" }, undefined]);
  });

  it("refuses the reserved owner label in a program's labels, naming it", async () => {
    const checked = await macvlanNetworkProvider.check(
      {},
      {
        connection: { host: "h", user: "u", password: "p", insecureIgnoreHostKey: true },
        name: "lan",
        parent: "eth1",
        subnet: "198.51.100.0/24",
        labels: { [OWNER_LABEL]: "x" },
      },
    );
    assert.equal(checked.failures?.length, 1, JSON.stringify(checked.failures));
    assert.match(checked.failures![0].reason, /io\.pulumi-underlay\.owner.*reserved/);
  });

  it("never diffs the owner: a renamed stack changes nothing, and state from before owners has none", async () => {
    const olds = { name: "lan", parent: "eth1", subnet: "198.51.100.0/24", owner: "proj/dev/MacvlanNetwork/lan" };
    for (const owner of ["proj/renamed/MacvlanNetwork/lan", undefined]) {
      const diff = await macvlanNetworkProvider.diff("id", { ...olds, owner }, olds);
      assert.equal(diff.changes, false, JSON.stringify(diff));
    }
  });
});

describe("resume: network state from before owners", () => {
  it("reads an unmarked network from state without an owner as it was, with no diff against inputs that now carry one", async () => {
    const connection = { host: "h", user: "u", password: "p", insecureIgnoreHostKey: true };
    const old = MacvlanNetworkArgsSchema.parse({ connection, name: "lan", parent: "eth1", subnet: "198.51.100.0/24" });
    assert.equal(old.owner, undefined);
    const [network] = parseNetworkJson({
      Id: "a".repeat(64),
      Name: "lan",
      Driver: "macvlan",
      Options: { parent: "eth1" },
      IPAM: { Config: [{ Subnet: "198.51.100.0/24" }] },
    });
    const state = fromInspected(macvlanMapping, network, old);
    assert.equal(state.owner, undefined);
    assert.deepEqual(state.labels, {});
    const news = (
      await macvlanNetworkProvider.check(
        {},
        { connection, name: "lan", parent: "eth1", subnet: "198.51.100.0/24", owner: "p/s/MacvlanNetwork/lan" },
      )
    ).inputs;
    const diff = await macvlanNetworkProvider.diff(network.id, state, news);
    assert.equal(diff.changes, false, JSON.stringify(diff));
  });
});

describe("resume: a network of the asked name already there", () => {
  const OWNER_NET = LAN_SPEC.owner;
  const spec = LAN_SPEC;
  const links = [{ name: "lo" }, { name: "eth1" }];

  function host(docker: DockerApi) {
    return fakeRunner((argv) => (argv.join(" ") === "ip -j -d link show" ? { stdout: linksJson(links) } : undefined), docker);
  }

  function dockerWith(owner: string | undefined): FakeDocker {
    const docker = new FakeDocker();
    const n = docker.addNetwork({ id: "a".repeat(64), name: "lan", parent: "eth1", subnets: ["198.51.100.0/24"] });
    if (owner) n.Labels = { [OWNER_LABEL]: owner };
    return docker;
  }

  it("adopts its own network (same owner) when nothing differs, without a create request", async () => {
    const docker = dockerWith(OWNER_NET);
    const network = await createNetwork(host(docker), spec, { adopt: false, differences: () => [] });
    assert.equal(network.id, "a".repeat(64));
    assert.equal(docker.count("POST /networks/create"), 0);
  });

  it("refuses its own network when it differs, naming the difference", async () => {
    const docker = dockerWith(OWNER_NET);
    await assert.rejects(
      createNetwork(host(docker), spec, { adopt: false, differences: () => ["subnets: asked [a], host has [b]"] }),
      refusal("resumeMismatch", /made by this resource .* differs.*\n {2}- subnets: asked \[a\], host has \[b\]/s),
    );
    assert.equal(docker.count("POST /networks/create"), 0);
  });

  it("refuses another resource's network even with adopt: true, naming its owner", async () => {
    const docker = dockerWith("proj/prod/MacvlanNetwork/lan");
    await assert.rejects(
      createNetwork(host(docker), spec, { adopt: true, differences: () => [] }),
      refusal("otherOwner", /owner "proj\/prod\/MacvlanNetwork\/lan"; this resource's is "proj\/dev\/MacvlanNetwork\/lan"/),
    );
  });

  it("refuses an unmarked network as before unless adopt: true", async () => {
    await assert.rejects(createNetwork(host(dockerWith(undefined)), spec, { adopt: false, differences: () => [] }), refusal("nameTaken"));
    const adopted = await createNetwork(host(dockerWith(undefined)), spec, { adopt: true, differences: () => [] });
    assert.equal(adopted.owner, undefined);
  });

  it("removes a network that appeared after a create of unknown outcome, then fails with the create's error", async () => {
    const docker = new FakeDocker();
    // The daemon makes the network, but the answer never arrives (the stream broke).
    const lossy: DockerApi = {
      request: async (method, path, body) => {
        const response = await docker.request(method, path, body);
        if (method === "POST" && path === "/networks/create") throw new DockerApiError(TARGET, method, path, undefined, "stream closed");
        return response;
      },
    };
    await assert.rejects(createNetwork(host(lossy), spec, { adopt: false, differences: () => [] }), /stream closed/);
    assert.deepEqual(docker.requests.slice(0, 3), ["GET /networks", "POST /networks/create", "GET /networks/lan"]);
    assert.match(docker.requests[3] ?? "", /^DELETE \/networks\/[0-9a-f]{64}$/);
    assert.equal(docker.networks.size, 0, "the late network was left behind");
  });

  it("leaves a refused create alone: the daemon answered, so nothing was made", async () => {
    const docker = new FakeDocker();
    docker.failing.set("POST /networks/create", { status: 500, message: "no" });
    await assert.rejects(createNetwork(host(docker), spec, { adopt: false, differences: () => [] }), /answered 500/);
    assert.equal(docker.count("GET /networks/lan"), 0);
  });
});

describe("resume: a link of the asked name already there", () => {
  function hostWith(list: { name: string; alias?: string }[]) {
    const shown = (l: { name: string; alias?: string }, i: number) => ({
      ...JSON.parse(linksJson([l]))[0],
      ifindex: i + 1,
      ifalias: l.alias,
    });
    return fakeRunner((argv) => {
      if (argv[0] !== "ip" || argv[4] !== "show") return undefined;
      const found = list.map(shown).filter((l) => l.ifname === argv[argv.length - 1]);
      return found.length ? { stdout: JSON.stringify(found) } : { exitCode: 1, stderr: 'Device "x" does not exist.' };
    });
  }

  it("returns its own marked link for the caller to complete", async () => {
    const { own } = await requireNewLink(hostWith([{ name: "eth1" }, { name: "shim0", alias: MARK }]).run, TARGET, "shim0", "eth1", MARK);
    assert.equal(own?.name, "shim0");
  });

  it("refuses a link marked by another resource, naming both marks", async () => {
    const theirs = linkMark("proj/prod/HostShim/shim0");
    await assert.rejects(
      requireNewLink(hostWith([{ name: "eth1" }, { name: "shim0", alias: theirs }]).run, TARGET, "shim0", "eth1", MARK),
      refusal("otherOwner", new RegExp(`owner "${theirs}"; this resource's is "${MARK}"`)),
    );
  });

  it("refuses an unmarked link, one with an alias of someone else's, and any when there is no mark to go by", async () => {
    for (const [alias, mark] of [
      [undefined, MARK],
      ["uplink to core", MARK],
      [MARK, undefined],
    ] as const) {
      await assert.rejects(
        requireNewLink(hostWith([{ name: "eth1" }, { name: "shim0", alias }]).run, TARGET, "shim0", "eth1", mark),
        refusal("nameTaken", /interface "shim0" already exists/),
      );
    }
  });
});

describe("resume: the link provider against an in-process host", function () {
  this.timeout(20_000);
  const host = useInProcessLinuxHost();

  async function inputs(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const raw = {
      connection: host.ssh.connection(),
      name: "shim0",
      parent: "eth1",
      address: "198.51.100.250/32",
      routes: ["198.51.100.128/26"],
    };
    const checked = await hostShimProvider.check({}, { ...raw, ...extra });
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    return checked.inputs;
  }

  it("completes a marked link left down without address and routes, keeping the link", async () => {
    host.linux.links.set(
      "shim0",
      host.linux.newLink({
        kind: "macvlan",
        parent: "eth1",
        mtu: 1500,
        data: { mode: "bridge" },
        up: false,
        addresses: [],
        routes: [],
        alias: MARK,
      }),
    );
    const ifindex = host.linux.links.get("shim0")!.ifindex;
    const created = await hostShimProvider.create(await inputs({ owner: OWNER }));
    const shim = host.linux.links.get("shim0")!;
    assert.deepEqual([shim.ifindex, shim.up, shim.addresses, shim.routes], [ifindex, true, ["198.51.100.250/32"], ["198.51.100.128/26"]]);
    assert.equal(created.outs?.identity?.ifindex, ifindex);
    assert.equal(created.outs?.owner, OWNER);
  });

  it("refuses its own marked link on another parent, naming the parent", async () => {
    host.linux.links.set("eth2", { mtu: 1500, data: {}, up: true, addresses: [], routes: [] });
    host.linux.links.set(
      "shim0",
      host.linux.newLink({
        kind: "macvlan",
        parent: "eth2",
        mtu: 1500,
        data: { mode: "bridge" },
        up: true,
        addresses: [],
        routes: [],
        alias: MARK,
      }),
    );
    await assert.rejects(
      hostShimProvider.create(await inputs({ owner: OWNER })),
      refusal("resumeMismatch", /parent: asked "eth1", host has "eth2"/),
    );
    assert.deepEqual(host.linux.links.get("shim0")!.addresses, [], "a refused resume changed the link");
  });

  it("adopts its own VLAN link after a lost state (same ifindex), and refuses one with another VLAN id, naming it", async () => {
    const vlanOwner = "proj/dev/VlanSubinterface/v50";
    const raw = { connection: host.ssh.connection(), parent: "eth1", vlanId: 50, persist: false, owner: vlanOwner };
    const checked = (await vlanSubinterfaceProvider.check({}, raw)).inputs;
    const first = await vlanSubinterfaceProvider.create(checked);
    const made = host.linux.links.get("eth1.50")!;
    assert.equal(made.alias, linkMark(vlanOwner));
    const again = await vlanSubinterfaceProvider.create(checked);
    assert.equal(host.linux.links.get("eth1.50")!.ifindex, made.ifindex);
    assert.deepEqual(again.outs, first.outs);
    made.data = { id: 60 };
    await assert.rejects(vlanSubinterfaceProvider.create(checked), refusal("resumeMismatch", /vlanId: asked 50, host has 60/));
  });

  it("reads, updates and deletes state from before owners (no owner, no mark), never marking the link", async () => {
    const old = await hostShimProvider.create(await inputs());
    assert.ok(old.outs);
    const { owner: _none, ...oldState } = old.outs;
    assert.equal(host.linux.links.get("shim0")!.alias, undefined);
    const read = await hostShimProvider.read(old.id, oldState);
    assert.equal(read.id, "shim0");
    // The program now passes an owner: no diff from it alone.
    const news = await inputs({ owner: OWNER, address: "198.51.100.251/32" });
    const diff = await hostShimProvider.diff(old.id, read.props!, news);
    assert.deepEqual([diff.changes, diff.replaces], [true, []]);
    const updated = await hostShimProvider.update(old.id, read.props!, news);
    assert.deepEqual(host.linux.links.get("shim0")!.addresses, ["198.51.100.251/32"]);
    assert.equal(updated.outs?.owner, undefined, "the state claims a mark the link does not carry");
    assert.equal(host.linux.links.get("shim0")!.alias, undefined);
    await hostShimProvider.delete(old.id, updated.outs!);
    assert.equal(host.linux.links.has("shim0"), false);
  });
});
