// Parsers against output captured from real hosts (Docker 20.10 on Debian bookworm, iproute2 6.1).

import { strict as assert } from "node:assert";
import {
  containersOnNetworkRequest,
  networkCreateRequest,
  parseContainerList,
  parseCreatedId,
  parseNetworkInspect,
  usesNetwork,
} from "../../../provider/host/docker";
import { buildAnyWireless, isNoSuchDevice, parseAddresses, parseLinks, parseRoutes } from "../../../provider/host/iproute";

const INSPECT = JSON.stringify([
  {
    Name: "lan",
    Id: "3f1c0e0f4b7a9c7e1d2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
    Created: "2026-11-26T01:00:00.000000000Z",
    Scope: "local",
    Driver: "macvlan",
    EnableIPv6: true,
    IPAM: {
      Driver: "default",
      Options: {},
      Config: [
        {
          Subnet: "198.51.100.0/24",
          IPRange: "198.51.100.128/26",
          Gateway: "198.51.100.1",
          AuxiliaryAddresses: { shim: "198.51.100.250" },
        },
        { Subnet: "fd18:0:0:1::/64", Gateway: "fd18:0:0:1::1" },
      ],
    },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: {
      abc123: { Name: "web", EndpointID: "e", MacAddress: "02:42:c6:33:64:82", IPv4Address: "198.51.100.130/24", IPv6Address: "" },
    },
    Options: { parent: "eth1", macvlan_mode: "bridge" },
    Labels: { team: "net" },
  },
]);

describe("docker parsers and builders", () => {
  it("maps `docker network inspect` to the spec vocabulary, canonicalising addresses", () => {
    const [n] = parseNetworkInspect(INSPECT);
    assert.equal(n.driver, "macvlan");
    assert.deepEqual(n.options, { parent: "eth1", macvlan_mode: "bridge" });
    assert.deepEqual(n.ipam, [
      { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/26", auxAddresses: { shim: "198.51.100.250" } },
      { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1", ipRange: undefined, auxAddresses: {} },
    ]);
    assert.deepEqual(n.containers, [{ id: "abc123", name: "web" }]);
    assert.deepEqual(n.labels, { team: "net" });
    assert.equal(n.enableIPv6, true);
  });

  it("tolerates Docker's nulls for empty maps", () => {
    const [n] = parseNetworkInspect(
      JSON.stringify([{ Name: "x", Id: "1", Driver: "macvlan", IPAM: { Config: null }, Options: null, Labels: null, Containers: null }]),
    );
    assert.deepEqual(n.ipam, []);
    assert.deepEqual(n.labels, {});
  });

  it("builds the Engine API's network create body from a spec", () => {
    const request = networkCreateRequest({
      name: "lan",
      driver: "macvlan",
      options: { parent: "eth1", macvlan_mode: "bridge" },
      ipam: [
        { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/26", auxAddresses: { shim: "198.51.100.250" } },
        { subnet: "fd18:0:0:1::/64", auxAddresses: {} },
      ],
      enableIPv6: true,
      internal: true,
      labels: { team: "a b" },
    });
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/networks/create");
    assert.deepEqual(request.body, {
      Name: "lan",
      CheckDuplicate: true,
      Driver: "macvlan",
      Options: { parent: "eth1", macvlan_mode: "bridge" },
      IPAM: {
        Driver: "default",
        Config: [
          {
            Subnet: "198.51.100.0/24",
            Gateway: "198.51.100.1",
            IPRange: "198.51.100.128/26",
            AuxiliaryAddresses: { shim: "198.51.100.250" },
          },
          { Subnet: "fd18:0:0:1::/64" },
        ],
      },
      EnableIPv6: true,
      Internal: true,
      Labels: { team: "a b" },
    });
  });

  it("reads created ids and container lists as the API returns them; filters go in the query", () => {
    assert.equal(parseCreatedId({ Id: "abc", Warning: "" }), "abc");
    assert.throws(() => parseCreatedId({ message: "conflict" }));
    assert.deepEqual(
      parseContainerList([
        { Id: "aa", Names: ["/web"], NetworkSettings: { Networks: { lan: { NetworkID: "n1" }, old: { NetworkID: "" } } } },
        { Id: "bb", Names: null },
      ]),
      [
        {
          id: "aa",
          name: "web",
          networks: [
            { name: "lan", id: "n1" },
            { name: "old", id: "" },
          ],
        },
        { id: "bb", name: "bb", networks: [] },
      ],
    );
    assert.equal(
      containersOnNetworkRequest("lan x", "n2").path,
      `/containers/json?all=1&filters=${encodeURIComponent('{"network":["lan x","n2"]}')}`,
    );
    // Matched as the daemon's filter given an id does: a NetworkID starting with it (never an empty id).
    const [web] = parseContainerList([
      { Id: "aa", NetworkSettings: { Networks: { lan: { NetworkID: "n1abc" }, old: { NetworkID: "" } } } },
    ]);
    assert.ok(usesNetwork(web, "n1abc"));
    assert.ok(usesNetwork(web, "n1"));
    assert.ok(!usesNetwork(web, "lan"), "a network's name is not its id");
    assert.ok(!usesNetwork(web, ""));
    assert.ok(!usesNetwork(web, "n3"));
  });
});

describe("iproute2 parsers", () => {
  it("asks about several links' Wi-Fi in one test, each as its own argv element", () => {
    assert.deepEqual(buildAnyWireless(["eth0"]), ["test", "-d", "/sys/class/net/eth0/wireless"]);
    assert.deepEqual(buildAnyWireless(["eth0", "-o", "wl 1"]), [
      "test",
      "-d",
      "/sys/class/net/eth0/wireless",
      "-o",
      "-d",
      "/sys/class/net/-o/wireless",
      "-o",
      "-d",
      "/sys/class/net/wl 1/wireless",
    ]);
  });

  it("reads a macvlan link with its parent and mode", () => {
    const [link] = parseLinks(
      JSON.stringify([
        {
          ifindex: 7,
          link: "eth1",
          ifname: "shim0",
          flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
          mtu: 1500,
          operstate: "UP",
          address: "6a:1f:00:00:00:01",
          linkinfo: { info_kind: "macvlan", info_data: { mode: "bridge" } },
        },
      ]),
    );
    assert.equal(link.parent, "eth1");
    assert.equal(link.kind, "macvlan");
    assert.equal(link.data.mode, "bridge");
    assert.equal(link.up, true);
  });

  it("reads addresses without link-local ones", () => {
    const out = JSON.stringify([
      {
        addr_info: [
          { family: "inet", local: "198.51.100.250", prefixlen: 32, scope: "global" },
          { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
          { family: "inet6", local: "fd18:0:0:1::fa", prefixlen: 128, scope: "global" },
        ],
      },
    ]);
    assert.deepEqual(parseAddresses(out), ["198.51.100.250/32", "fd18:0:0:1::fa/128"]);
  });

  it("reads only routes someone added, host routes with full length", () => {
    const out = JSON.stringify([
      { dst: "198.51.100.128/26", scope: "link", flags: [] },
      { dst: "198.51.100.130", scope: "link", flags: [] },
      { dst: "198.51.100.0/24", protocol: "kernel", scope: "link", prefsrc: "198.51.100.11", flags: [] },
      { dst: "default", gateway: "198.51.100.1", flags: [] },
    ]);
    assert.deepEqual(parseRoutes(out), ["198.51.100.128/26", "198.51.100.130/32"]);
    assert.deepEqual(parseRoutes(""), []);
  });

  it("recognises a missing device", () => {
    assert.ok(isNoSuchDevice('Device "shim0" does not exist.'));
    assert.ok(isNoSuchDevice('Cannot find device "shim0"'));
    assert.ok(!isNoSuchDevice("RTNETLINK answers: Operation not permitted"));
  });
});
