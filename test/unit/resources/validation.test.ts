import { strict as assert } from "node:assert";
import type { z } from "zod";
import { hostShimProvider } from "../../../provider/resources/link/hostShim";
import { vlanSubinterfaceProvider } from "../../../provider/resources/link/vlanSubinterface";
import { ipvlanNetworkProvider } from "../../../provider/resources/network/ipvlan";
import { macvlanNetworkProvider } from "../../../provider/resources/network/macvlan";
import { CONNECTION_SECRET_PATHS } from "../../../provider/ssh/connection";
import { describeIssues, UNKNOWN } from "../../../provider/validate";
import { INVALID_CASES, invalidInput, type ResourceKind } from "../../support/invalidInputs";
import { ed25519KeyPair } from "../../support/keys";
import { SAMPLE_LAN } from "../../support/samples";

const key = ed25519KeyPair();
const SECRET_PASSWORD = "correct-horse-battery-staple";

const connection = {
  host: "127.0.0.1",
  port: 2222,
  privateKey: key.private,
  password: SECRET_PASSWORD,
  hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
};

const VALID: Record<ResourceKind, Record<string, unknown>> = {
  MacvlanNetwork: {
    connection,
    ...SAMPLE_LAN,
  },
  HostShim: { connection, name: "lanshim", parent: "eth1", address: "198.51.100.250/32", routes: ["198.51.100.128/26"] },
  IpvlanNetwork: { connection, name: "ipv", parent: "eth1", subnet: "198.51.100.0/24", gateway: "198.51.100.1" },
  VlanSubinterface: { connection, parent: "eth1", vlanId: 50 },
};

const PROVIDERS = {
  MacvlanNetwork: macvlanNetworkProvider,
  HostShim: hostShimProvider,
  IpvlanNetwork: ipvlanNetworkProvider,
  VlanSubinterface: vlanSubinterfaceProvider,
};

describe("check(): input validation", () => {
  it("accepts the valid bases and fills defaults", async () => {
    const net = await macvlanNetworkProvider.check({}, VALID.MacvlanNetwork);
    assert.deepEqual(net.failures, undefined);
    assert.equal(net.inputs.mode, "bridge");
    assert.equal(net.inputs.connection.user, "root");
    const shim = await hostShimProvider.check({}, VALID.HostShim);
    assert.deepEqual(shim.failures, undefined);
    const ipv = await ipvlanNetworkProvider.check({}, VALID.IpvlanNetwork);
    assert.deepEqual(ipv.failures, undefined);
    assert.equal(ipv.inputs.mode, "l2");
    assert.equal(ipv.inputs.flag, "bridge");
    const vlan = await vlanSubinterfaceProvider.check({}, VALID.VlanSubinterface);
    assert.deepEqual(vlan.failures, undefined);
    assert.equal(vlan.inputs.name, "eth1.50");
    assert.equal(vlan.inputs.persist, true);
  });

  it(`has a table of at least 30 invalid inputs`, () => {
    assert.ok(INVALID_CASES.length >= 30, `${INVALID_CASES.length} cases`);
  });

  for (const c of INVALID_CASES) {
    it(`rejects ${c.resource}: ${c.title}`, async () => {
      const result = await PROVIDERS[c.resource].check({}, invalidInput(c, VALID));
      const failures = result.failures ?? [];
      const named = failures.filter((f) => f.property === c.field);
      assert.ok(named.length > 0, `expected a failure on "${c.field}", got ${JSON.stringify(failures)}`);
      if (c.shows) {
        assert.ok(
          named.some((f) => f.reason.includes(c.shows ?? "")),
          `expected "${c.shows}" in ${JSON.stringify(named)}`,
        );
      }
      for (const f of failures) {
        assert.ok(!f.reason.includes(SECRET_PASSWORD), "a secret leaked into a message");
        assert.ok(!f.reason.includes("PRIVATE KEY"), "key material leaked into a message");
      }
    });
  }

  it("never shows the value of a secret field, whatever the issue on it", () => {
    for (const path of CONNECTION_SECRET_PATHS) {
      const segments = path.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      const issue = { code: "custom", path: segments, message: "is wrong", input: SECRET_PASSWORD } as unknown as z.core.$ZodIssue;
      // The raw inputs with the secret at that path (arrays for numeric segments).
      const raw = segments.reduceRight<unknown>((inner, key) => {
        if (typeof key === "number") {
          const arr: unknown[] = [];
          arr[key] = inner;
          return arr;
        }
        return { [key]: inner };
      }, SECRET_PASSWORD) as Record<string, unknown>;
      const [failure] = describeIssues([issue], raw, CONNECTION_SECRET_PATHS);
      assert.deepEqual(failure, { property: path, reason: `${path}: is wrong (value hidden: secret)` });
    }
    assert.deepEqual(CONNECTION_SECRET_PATHS.slice(0, 6), [
      "connection.privateKey",
      "connection.privateKeyPassphrase",
      "connection.password",
      "connection.proxyJump.0.privateKey",
      "connection.proxyJump.0.privateKeyPassphrase",
      "connection.proxyJump.0.password",
    ]);
  });

  it("create() refuses invalid input with every failure listed, before any connection", async () => {
    await assert.rejects(
      macvlanNetworkProvider.create({ ...VALID.MacvlanNetwork, gateway: "203.0.113.1", parent: "eth/1" }),
      (err: Error) => /gateway/.test(err.message) && /parent/.test(err.message) && !err.message.includes(SECRET_PASSWORD),
    );
  });

  it("during preview checks known fields alone and waits for unknown ones", async () => {
    const result = await macvlanNetworkProvider.check({}, { ...VALID.MacvlanNetwork, parent: UNKNOWN, subnet: "198.51.100.0/33" });
    assert.deepEqual(
      result.failures?.map((f) => f.property),
      ["subnet"],
    );
    const ok = await macvlanNetworkProvider.check({}, { ...VALID.MacvlanNetwork, parent: UNKNOWN });
    assert.equal(ok.failures, undefined);
    assert.equal(ok.inputs.parent, UNKNOWN);
  });

  it("canonicalises IPv6 so state compares by string", async () => {
    const result = await macvlanNetworkProvider.check(
      {},
      {
        ...VALID.MacvlanNetwork,
        ipv6: { subnet: "FD18:0:0:1:0:0:0:0/64", gateway: "fd18:0:0:1:0:0:0:1" },
      },
    );
    assert.equal(result.failures, undefined);
    assert.deepEqual(result.inputs.ipv6, { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1", auxAddresses: {} });
  });
});
