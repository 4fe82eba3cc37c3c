// The network mapping both ways. Each rule here (a gateway left out is Docker's choice; the
// program's subnet order; driver defaults Docker omits) has a test that fails when it changes.

import { strict as assert } from "node:assert";
import type { InspectedNetwork } from "../../../../provider/host/docker";
import { IpvlanNetworkArgsSchema, ipvlanMapping } from "../../../../provider/resources/network/ipvlan";
import { MacvlanNetworkArgsSchema, macvlanMapping, macvlanNetworkProvider } from "../../../../provider/resources/network/macvlan";
import { fromInspected, specDifferences, toNetworkSpec } from "../../../../provider/resources/network/mapping";
import { SAMPLE_LAN } from "../../../support/samples";

/** What Pulumi stores: JSON, where an undefined field and a missing one are the same. */
const plain = (value: unknown) => JSON.parse(JSON.stringify(value));

const connection = { host: "198.51.100.11", password: "x", insecureIgnoreHostKey: true };
const macvlanArgs = (extra: Record<string, unknown> = {}) => MacvlanNetworkArgsSchema.parse({ connection, ...SAMPLE_LAN, ...extra });

/** What Docker reports for a spec: the same settings, a gateway of its choice where none was asked. */
function asDockerReports(
  args: ReturnType<typeof macvlanArgs>,
  gatewayOf: (subnet: string) => string,
  extra: Partial<InspectedNetwork> = {},
): InspectedNetwork {
  const spec = toNetworkSpec(macvlanMapping, args);
  return {
    ...spec,
    id: "f".repeat(64),
    ipam: spec.ipam.map((c) => ({ ...c, gateway: c.gateway ?? gatewayOf(c.subnet) })),
    containers: [],
    ...extra,
  };
}

describe("network mapping", () => {
  it("maps inputs to the spec docker network create is given", () => {
    const args = macvlanArgs({
      mode: "vepa",
      labels: { team: "net" },
      additionalSubnets: [{ subnet: "203.0.113.0/24", gateway: "203.0.113.1" }],
      ipv6: { subnet: "fd18:0:0:1::/64" },
    });
    assert.deepEqual(toNetworkSpec(macvlanMapping, args), {
      name: "lan",
      driver: "macvlan",
      options: { parent: "eth1", macvlan_mode: "vepa" },
      ipam: [
        { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/26", auxAddresses: { shim: "198.51.100.250" } },
        { subnet: "203.0.113.0/24", gateway: "203.0.113.1", auxAddresses: {} },
        { subnet: "fd18:0:0:1::/64", auxAddresses: {} },
      ],
      enableIPv6: true,
      internal: false,
      labels: { team: "net" },
    });
    const ipvlan = IpvlanNetworkArgsSchema.parse({
      connection,
      name: "ipv",
      parent: "eth1",
      subnet: "198.51.100.0/24",
      mode: "l3",
      flag: "private",
    });
    assert.deepEqual(toNetworkSpec(ipvlanMapping, ipvlan).options, { parent: "eth1", ipvlan_mode: "l3", ipvlan_flag: "private" });
    assert.equal(toNetworkSpec(ipvlanMapping, ipvlan).enableIPv6, false);
  });

  it("reads back a just-created network as exactly its inputs: the diff is empty", async () => {
    const args = macvlanArgs({
      additionalSubnets: [{ subnet: "203.0.113.0/24", gateway: "203.0.113.1" }],
      ipv6: { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1" },
    });
    const state = fromInspected(
      macvlanMapping,
      asDockerReports(args, () => "unused"),
      args,
    );
    assert.deepEqual(plain(state), plain({ ...args, networkId: "f".repeat(64) }));
    assert.equal((await macvlanNetworkProvider.diff("id", state, args)).changes, false);
  });

  it("keeps a gateway the program left out out of the state (Docker's choice is not drift), in every family", () => {
    const args = macvlanArgs({
      gateway: undefined,
      additionalSubnets: [{ subnet: "203.0.113.0/24" }],
      ipv6: { subnet: "fd18:0:0:1::/64" },
    });
    const docker = asDockerReports(args, (subnet) => subnet.replace(/0\/\d+$/, "1").replace("::/64", "::1"));
    assert.equal(docker.ipam[0].gateway, "198.51.100.1", "the sample must have Docker choose a gateway");
    const state = fromInspected(macvlanMapping, docker, args);
    assert.equal(state.gateway, undefined);
    assert.equal(state.additionalSubnets[0].gateway, undefined);
    assert.equal(state.ipv6?.gateway, undefined);
    assert.deepEqual(plain(state), plain({ ...args, networkId: docker.id }));
  });

  it("reports a gateway the program set as the host has it", () => {
    const args = macvlanArgs({
      additionalSubnets: [{ subnet: "203.0.113.0/24", gateway: "203.0.113.1" }],
      ipv6: { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1" },
    });
    const docker = asDockerReports(args, () => "unused");
    docker.ipam = docker.ipam.map((c) => ({
      ...c,
      gateway: c.subnet.startsWith("fd18") ? "fd18:0:0:1::2" : c.subnet.replace(/0\/24$/, "2"),
    }));
    const state = fromInspected(macvlanMapping, docker, args);
    assert.equal(state.gateway, "198.51.100.2");
    assert.equal(state.additionalSubnets[0].gateway, "203.0.113.2");
    assert.equal(state.ipv6?.gateway, "fd18:0:0:1::2");
  });

  it("keeps the program's order of subnets, finds its main subnet wherever the host lists it, and shows subnets the host has besides", () => {
    const args = macvlanArgs({ additionalSubnets: [{ subnet: "203.0.113.0/26" }, { subnet: "203.0.113.64/26" }] });
    const docker = asDockerReports(args, () => "unused");
    const extra = { subnet: "203.0.113.128/26", gateway: "203.0.113.129", auxAddresses: {} };
    docker.ipam = [docker.ipam[2], extra, docker.ipam[1], docker.ipam[0]];
    const state = fromInspected(macvlanMapping, docker, args);
    assert.equal(state.subnet, "198.51.100.0/24");
    assert.equal(state.ipRange, "198.51.100.128/26");
    assert.deepEqual(
      state.additionalSubnets.map((s) => s.subnet),
      ["203.0.113.0/26", "203.0.113.64/26", "203.0.113.128/26"],
    );
    assert.equal(state.additionalSubnets[2].gateway, undefined, "a subnet the program never set has no asked gateway");
  });

  it("reads what the host has where it differs: parent, labels, internal, ip range, aux addresses, no IPv6", () => {
    const args = macvlanArgs({ ipv6: { subnet: "fd18:0:0:1::/64" } });
    const docker = asDockerReports(args, () => "fd18:0:0:1::1", {
      options: { parent: "eth2" },
      labels: { by: "hand" },
      internal: true,
      enableIPv6: false,
    });
    docker.ipam = [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", auxAddresses: {} }];
    const state = fromInspected(macvlanMapping, docker, args);
    assert.equal(state.parent, "eth2");
    assert.deepEqual(state.labels, { by: "hand" });
    assert.equal(state.internal, true);
    assert.equal(state.ipRange, undefined);
    assert.deepEqual(state.auxAddresses, {});
    assert.equal(state.ipv6, undefined);
    assert.equal(state.mode, "bridge", "Docker omits macvlan_mode for the default");
    const noParent = fromInspected(macvlanMapping, { ...docker, options: {}, ipam: [] }, args);
    assert.equal(noParent.parent, undefined);
    assert.equal(noParent.subnet, undefined);
  });

  it("an internal network without a parent: no -o parent, --internal, and Docker's dummy link never reads as drift", async () => {
    const args = macvlanArgs({ parent: undefined, gateway: undefined, ipRange: undefined, auxAddresses: {} });
    const spec = toNetworkSpec(macvlanMapping, args);
    assert.deepEqual(spec.options, { macvlan_mode: "bridge" });
    assert.equal(spec.internal, true, "a network without a parent is internal on the host");
    assert.equal(args.internal, false);
    for (const options of [{}, { parent: "dm-0123456789ab" }] as Record<string, string>[]) {
      const state = fromInspected(
        macvlanMapping,
        asDockerReports(args, () => "198.51.100.1", { options, internal: true }),
        args,
      );
      assert.equal(state.parent, undefined, JSON.stringify(options));
      assert.equal(state.internal, false);
      assert.equal((await macvlanNetworkProvider.diff("id", state, args)).changes, false, JSON.stringify(options));
    }
    // A real link where the program asked for none is drift.
    const moved = fromInspected(
      macvlanMapping,
      asDockerReports(args, () => "198.51.100.1", { options: { parent: "eth1" } }),
      args,
    );
    assert.equal(moved.parent, "eth1");
    assert.equal((await macvlanNetworkProvider.diff("id", moved, args)).changes, true);
  });

  it("an IPv6-only network: only the IPv6 subnet in the spec, read back with an empty diff", async () => {
    const args = macvlanArgs({
      subnet: undefined,
      gateway: undefined,
      ipRange: undefined,
      auxAddresses: {},
      ipv6: { subnet: "fd18:0:0:2::/64", gateway: "fd18:0:0:2::1" },
    });
    const spec = toNetworkSpec(macvlanMapping, args);
    assert.deepEqual(spec.ipam, [{ subnet: "fd18:0:0:2::/64", gateway: "fd18:0:0:2::1", auxAddresses: {} }]);
    assert.equal(spec.enableIPv6, true);
    const state = fromInspected(
      macvlanMapping,
      asDockerReports(args, () => "unused"),
      args,
    );
    assert.equal(state.subnet, undefined);
    assert.equal((await macvlanNetworkProvider.diff("id", state, args)).changes, false);
  });

  it("reads the drivers' modes, with the defaults Docker leaves out", () => {
    assert.deepEqual(macvlanMapping.readOptions({ macvlan_mode: "private" }), { mode: "private" });
    assert.deepEqual(macvlanMapping.readOptions({}), { mode: "bridge" });
    assert.deepEqual(ipvlanMapping.readOptions({}), { mode: "l2", flag: "bridge" });
    assert.deepEqual(ipvlanMapping.readOptions({ ipvlan_mode: "l3s", ipvlan_flag: "vepa" }), { mode: "l3s", flag: "vepa" });
  });
});

describe("spec differences (adoption)", () => {
  const spec = toNetworkSpec(macvlanMapping, macvlanArgs({ labels: { a: "1", b: "2" }, ipv6: { subnet: "fd18:0:0:1::/64" } }));

  it("finds none between a spec and itself, whatever the key order of maps", () => {
    assert.deepEqual(specDifferences(spec, spec), []);
    assert.deepEqual(specDifferences(spec, { ...spec, labels: { b: "2", a: "1" } }), []);
  });

  it("ignores a gateway the spec leaves to Docker", () => {
    const left = { ...spec, ipam: spec.ipam.map((c) => ({ ...c, gateway: undefined })) };
    assert.deepEqual(specDifferences(left, spec), []);
  });

  it("names every field that differs, with both values", () => {
    const host = {
      ...spec,
      driver: "ipvlan" as const,
      options: { parent: "eth2" },
      enableIPv6: false,
      internal: true,
      labels: {},
      ipam: [{ ...spec.ipam[0], gateway: "198.51.100.2", ipRange: undefined, auxAddresses: {} }],
    };
    assert.deepEqual(specDifferences(spec, host), [
      'driver: asked "macvlan", host has "ipvlan"',
      'option parent: asked "eth1", host has "eth2"',
      'option macvlan_mode: asked "bridge", host has nothing',
      "ipv6: asked true, host has false",
      "internal: asked false, host has true",
      'labels: asked {"a":"1","b":"2"}, host has {}',
      'subnets: asked ["198.51.100.0/24","fd18:0:0:1::/64"], host has ["198.51.100.0/24"]',
      'IPv4 gateway: asked "198.51.100.1", host has "198.51.100.2"',
      'IPv4 ip range: asked "198.51.100.128/26", host has nothing',
      'IPv4 aux addresses: asked {"shim":"198.51.100.250"}, host has {}',
      'IPv6 subnet: asked "fd18:0:0:1::/64", host has nothing',
    ]);
  });
});
