// A network on a VLAN parent that Docker would make itself ("eth1.50" where only eth1 exists),
// on a host whose kernel has no 802.1q support: this machine's kernel, which the netns lab
// hosts share (shared/LAB.md). Docker fails late in its own words; the provider must say what
// is wrong with the host, in a typed refusal, and leave the host as it was. (On the VM lab,
// whose kernel has 802.1q, the same network is made: test/integration/vm/vlan.test.ts.)

import { strict as assert } from "node:assert";
import { ipvlanNetworkProvider } from "../../../provider/resources/network/ipvlan";
import { macvlanNetworkProvider } from "../../../provider/resources/network/macvlan";
import type { LabHost } from "../../lab/types";
import { connectionFor, lab, refused, snapshotHost, uniqueName } from "../fixture";

describe("a VLAN parent on a host without 802.1q (netns lab)", function () {
  this.timeout(120_000);
  let host: LabHost;
  const networks: string[] = [];

  before(async function () {
    this.timeout(600_000);
    host = (await lab()).hosts[0];
  });

  after(async () => {
    for (const n of networks) await host.docker(["network", "rm", n], { allowFail: true });
  });

  it("refuses a macvlan network whose parent Docker would have to make, naming the parent and the missing 802.1q; host unchanged", async () => {
    const before = await snapshotHost(host);
    const parent = `${host.lanParent}.50`;
    const name = uniqueName("vl");
    networks.push(name);
    const checked = await macvlanNetworkProvider.check({}, { connection: connectionFor(host), name, parent, subnet: "203.0.113.128/26" });
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    await assert.rejects(
      macvlanNetworkProvider.create(checked.inputs),
      refused(
        "vlanUnsupported",
        [parent],
        new RegExp(`parent "${parent.replace(".", "\\.")}" does not exist and Docker could not make it: .*802\\.1q`),
      ),
    );
    assert.equal(await snapshotHost(host), before);
  });

  it("refuses an ipvlan network the same way", async () => {
    const before = await snapshotHost(host);
    const parent = `${host.lanParent}.60`;
    const name = uniqueName("vl");
    networks.push(name);
    const checked = await ipvlanNetworkProvider.check({}, { connection: connectionFor(host), name, parent, subnet: "203.0.113.192/26" });
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    await assert.rejects(ipvlanNetworkProvider.create(checked.inputs), refused("vlanUnsupported", [parent], /no 802\.1q VLAN support/));
    assert.equal(await snapshotHost(host), before);
  });
});
