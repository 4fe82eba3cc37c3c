// The examples as a user runs them: each program under examples/ through the real engine
// against a netns lab host. `up`, a `preview` that shows no change, the example's point proven
// on the host, and `destroy` back to the host's first state.

import { strict as assert } from "node:assert";
import { snapshotHost } from "../integration/fixture";
import { type NetnsLab, startNetnsLab } from "../lab/netnsLab";
import type { LabHost } from "../lab/types";
import { changesIn, type EngineStack, NetworkCanary, openStack } from "./engine";

/** Resolves once `probe` succeeds, or rejects after `ms` with the last failure. */
async function eventually(probe: () => Promise<void>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe("examples under the real engine", function () {
  this.timeout(900_000);
  let lab: NetnsLab;
  let host: LabHost;
  const canary = new NetworkCanary();

  before(async function () {
    this.timeout(600_000);
    lab = await startNetnsLab({ hosts: 1 });
    host = lab.hosts[0];
    await canary.start();
  });

  after(async function () {
    this.timeout(300_000);
    await canary.stop();
    await lab?.stop();
  });

  it("quickstart: the lab host reaches a container on the macvlan network through the shim", async () => {
    const before = await snapshotHost(host);
    let es: EngineStack | undefined;
    try {
      es = await openStack({
        program: "examples/quickstart",
        canary,
        config: {
          "underlay:host": { value: host.ssh.host },
          "underlay:port": { value: String(host.ssh.port) },
          "underlay:privateKey": { value: host.ssh.privateKey, secret: true },
          "underlay:hostKey": { value: host.ssh.hostPublicKey },
          "underlay:parent": { value: host.lanParent },
          "underlay:subnet": { value: "198.51.100.0/24" },
          "underlay:gateway": { value: "198.51.100.1" },
          "underlay:ipRange": { value: "198.51.100.128/26" },
          "underlay:shimAddress": { value: "198.51.100.250" },
          "underlay:containerIp": { value: "198.51.100.130" },
          "underlay:image": { value: lab.image },
        },
      });
      const up = await es.stack.up({ onOutput: (s) => es?.output.push(s) });
      assert.equal(up.summary.result, "succeeded");
      const network = up.outputs.networkName.value as string;
      const preview = await es.stack.preview({ onOutput: (s) => es?.output.push(s) });
      assert.deepEqual(changesIn(preview.changeSummary), {});

      // No @pulumi/docker plugin can be built here (tools/engine/build.sh says why), so the
      // container the example would declare is started beside the stack.
      await host.docker(["run", "-d", "--name", "qs-app", "--network", network, "--ip", "198.51.100.130", lab.image, "sleep", "600"]);
      try {
        await eventually(async () => {
          await host.exec(["ping", "-c", "1", "-W", "1", "198.51.100.130"]);
        }, 30_000);
        const route = (await host.exec(["ip", "route", "get", "198.51.100.130"])).stdout;
        assert.match(route, new RegExp(`dev ${up.outputs.shimInterface.value as string} `));
      } finally {
        await host.docker(["rm", "-f", "qs-app"], { allowFail: true });
      }

      const down = await es.stack.destroy({ onOutput: (s) => es?.output.push(s) });
      assert.equal(down.summary.result, "succeeded");
      assert.equal(await snapshotHost(host), before);
      assert.deepEqual(canary.attempts, []);
    } finally {
      await es?.stack.destroy().catch(() => undefined);
      await es?.remove();
    }
  });
});
