// The quickstart program under Pulumi's mocks: it declares what the README says it does, and
// its resources validate. The real engine runs the program against a lab host in
// test/engine/examples.test.ts; this mocked run stays for the one branch the engine cannot run
// on these machines, the @pulumi/docker container (no Docker provider plugin can be built here).

import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { hostShimProvider } from "../../provider/resources/link/hostShim";
import { macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { unwrapSecrets } from "../support/engineValues";
import { ed25519KeyPair } from "../support/keys";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

describe("examples/quickstart under mocks", () => {
  const registered: Registered[] = [];
  const rawInputs: Registered[] = [];
  const SECRET_SIG = "4dabf18193072939515e22adb298388d";

  before(async function () {
    // Loading @pulumi/docker and the program takes seconds on a loaded 2-core machine.
    this.timeout(60_000);
    const key = ed25519KeyPair();
    pulumi.runtime.setAllConfig(
      {
        "underlay:host": "198.51.100.11",
        "underlay:port": "22",
        "underlay:privateKey": key.private,
        "underlay:hostKey": key.public,
        "underlay:parent": "eth1",
        "underlay:subnet": "198.51.100.0/24",
        "underlay:gateway": "198.51.100.1",
        "underlay:ipRange": "198.51.100.128/26",
        "underlay:shimAddress": "198.51.100.250",
        "underlay:containerIp": "198.51.100.130",
        "underlay:image": "busybox:latest",
        "underlay:dockerHost": "ssh://root@198.51.100.11:22",
      },
      ["underlay:privateKey"],
    );
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          rawInputs.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
          registered.push({ type: args.type, name: args.name, inputs: unwrapSecrets(args.inputs) as Record<string, unknown> });
          return { id: `${args.name}-id`, state: { ...args.inputs, networkId: "n1", macAddress: "02:00:00:00:00:01", networkDatas: [] } };
        },
        call(args) {
          return args.inputs;
        },
      },
      "quickstart",
      "dev",
      false,
    );
    require(path.resolve(__dirname, "..", "..", "examples", "quickstart", "index.js"));
    // Registrations reach the mock monitor asynchronously: wait for all four, with a deadline.
    const deadline = Date.now() + 10_000;
    while (registered.length < 4) {
      if (Date.now() > deadline) throw new Error(`only ${registered.length} of 4 resources registered within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it("declares the network, the shim and the container", () => {
    const types = registered.map((r) => `${r.type}::${r.name}`).sort();
    assert.deepEqual(types, [
      "docker:index/container:Container::legacy-app",
      "pulumi-nodejs:dynamic/pulumi-underlay:HostShim::lan-shim",
      "pulumi-nodejs:dynamic/pulumi-underlay:MacvlanNetwork::lan",
      "pulumi:providers:docker::lab-docker",
    ]);
  });

  it("keeps the connection (it holds the private key) secret", () => {
    const network = rawInputs.find((r) => r.name === "lan");
    assert.ok(network);
    assert.equal(JSON.stringify(network.inputs.connection).includes(SECRET_SIG), true);
  });

  it("passes inputs that the providers' own check() accepts", async () => {
    const network = registered.find((r) => r.name === "lan");
    const shim = registered.find((r) => r.name === "lan-shim");
    assert.ok(network && shim);
    const checkedNetwork = await macvlanNetworkProvider.check({}, network.inputs);
    assert.equal(checkedNetwork.failures, undefined, JSON.stringify(checkedNetwork.failures));
    assert.deepEqual(checkedNetwork.inputs.auxAddresses, { "host-shim": "198.51.100.250" });
    const checkedShim = await hostShimProvider.check({}, shim.inputs);
    assert.equal(checkedShim.failures, undefined, JSON.stringify(checkedShim.failures));
    assert.equal(checkedShim.inputs.name, "lan-shim");
  });
});
