import { strict as assert } from "node:assert";
import { hostShimProvider } from "../../../provider/resources/link/hostShim";
import { macvlanNetworkProvider } from "../../../provider/resources/network/macvlan";
import { UNKNOWN } from "../../../provider/validate";
import { SAMPLE_LAN } from "../../support/samples";

const connection = { host: "198.51.100.11", port: 22, user: "root", password: "x", insecureIgnoreHostKey: true, sudo: false };
const network = {
  connection,
  adopt: false,
  ...SAMPLE_LAN,
  additionalSubnets: [],
  mode: "bridge",
  internal: false,
  labels: {},
};
const state = { ...network, networkId: "abc" };

describe("diff rules", () => {
  it("reports no change for identical inputs", async () => {
    const d = await macvlanNetworkProvider.diff("abc", state, network);
    assert.equal(d.changes, false);
    assert.deepEqual(d.replaces, []);
  });

  it("replaces, deleting first, when a Docker-held setting changes", async () => {
    const d = await macvlanNetworkProvider.diff("abc", state, { ...network, ipRange: "198.51.100.192/26", mode: "vepa" });
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, ["ipRange", "mode"]);
    assert.equal(d.deleteBeforeReplace, true);
  });

  it("treats a connection change (rotated key, new port) as an update, never a replacement", async () => {
    const d = await macvlanNetworkProvider.diff("abc", state, { ...network, connection: { ...connection, port: 2222, password: "y" } });
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
    assert.equal(d.deleteBeforeReplace, false);
  });

  it("ignores key order in maps", async () => {
    const d = await macvlanNetworkProvider.diff(
      "abc",
      { ...state, labels: { a: "1", b: "2" } },
      { ...network, labels: { b: "2", a: "1" } },
    );
    assert.equal(d.changes, false);
  });

  it("counts an unknown (preview) value as a change of its kind", async () => {
    const d = await macvlanNetworkProvider.diff("abc", state, { ...network, parent: UNKNOWN });
    assert.deepEqual(d.replaces, ["parent"]);
  });

  it("updates a shim's routes and address in place, replaces it for a new parent", async () => {
    const shim = {
      connection,
      name: "lanshim",
      parent: "eth1",
      address: "198.51.100.250/32",
      routes: ["198.51.100.128/26"],
      mode: "bridge",
    };
    const shimState = { ...shim, macAddress: "aa", up: true };
    const drifted = await hostShimProvider.diff("lanshim", { ...shimState, routes: [] }, shim);
    assert.equal(drifted.changes, true);
    assert.deepEqual(drifted.replaces, []);
    const moved = await hostShimProvider.diff("lanshim", shimState, { ...shim, parent: "eth2" });
    assert.deepEqual(moved.replaces, ["parent"]);
  });
});
