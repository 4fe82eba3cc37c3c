// On the full-kernel VM lab, under the real engine: a VlanSubinterface whose `name` output is a
// MacvlanNetwork's `parent` is created before the network and deleted after it. The order is
// read from the engine's own events; the result from the host.

import { strict as assert } from "node:assert";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { lab, snapshotHost, uniqueName } from "../../integration/fixture";
import type { LabHost } from "../../lab/types";
import { type EngineStack, NetworkCanary, openStack } from "../engine";

/** Index of the first event that says `op` started (pre) or finished (outputs) on `name`. */
function eventIndex(events: EngineEvent[], name: string, kind: "pre" | "outputs"): number {
  return events.findIndex((e) => {
    const meta = kind === "pre" ? e.resourcePreEvent?.metadata : e.resOutputsEvent?.metadata;
    return meta?.urn.endsWith(`::${name}`);
  });
}

describe("the real engine on a VM: a VLAN link as a network's parent", function () {
  this.timeout(900_000);
  let host: LabHost;
  let es: EngineStack | undefined;
  let hostBefore: string;
  const canary = new NetworkCanary();
  const network = uniqueName("engvl");
  const vlanName = "eth1.57";

  before(async function () {
    this.timeout(900_000);
    host = (await lab()).hosts[0];
    await canary.start();
    hostBefore = await snapshotHost(host);
    es = await openStack({
      program: "test/engine/programs/vlan",
      canary,
      config: {
        "underlay:host": { value: host.ssh.host },
        "underlay:port": { value: String(host.ssh.port) },
        "underlay:user": { value: host.ssh.user },
        "underlay:privateKey": { value: host.ssh.privateKey, secret: true },
        "underlay:hostKey": { value: host.ssh.hostPublicKey },
        "underlay:trunk": { value: host.lanParent },
        "underlay:vlanId": { value: "57" },
        "underlay:network": { value: network },
        "underlay:subnet": { value: "203.0.113.0/25" },
        "underlay:ipRange": { value: "203.0.113.64/26" },
      },
    });
  });

  after(async function () {
    this.timeout(300_000);
    await es?.stack.destroy().catch(() => undefined);
    await es?.remove();
    await canary.stop();
    await host.docker(["network", "rm", network], { allowFail: true });
    await host.exec(["ip", "link", "delete", "dev", vlanName], { allowFail: true });
  });

  it("creates the link before the network and deletes it after, leaving the host as it was", async () => {
    assert.ok(es);
    const upEvents: EngineEvent[] = [];
    const up = await es.stack.up({ onEvent: (e) => upEvents.push(e) });
    assert.equal(up.summary.result, "succeeded");
    assert.equal(up.outputs.vlanName.value, vlanName);
    const link = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", vlanName])).stdout)[0];
    assert.equal(link.linkinfo.info_kind, "vlan");
    assert.equal(link.linkinfo.info_data.id, 57);
    const inspected = JSON.parse((await host.docker(["network", "inspect", network])).stdout)[0];
    assert.equal(inspected.Options.parent, vlanName);
    assert.ok(
      eventIndex(upEvents, "vlan", "outputs") < eventIndex(upEvents, "vlan-lan", "pre"),
      "the network was started before the link existed",
    );

    const downEvents: EngineEvent[] = [];
    const down = await es.stack.destroy({ onEvent: (e) => downEvents.push(e) });
    assert.equal(down.summary.result, "succeeded");
    assert.ok(
      eventIndex(downEvents, "vlan-lan", "outputs") < eventIndex(downEvents, "vlan", "pre"),
      "the link was deleted while the network still used it",
    );
    assert.deepEqual(canary.attempts, []);
    assert.equal(await snapshotHost(host), hostBefore);
  });
});
