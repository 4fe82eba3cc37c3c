// Faults during a VlanSubinterface create (issue 10), on the VM lab only: the netns lab's kernel
// has no 802.1q. The SSH connection is cut after each step of the create; the error must be typed
// and name the host, a retry without the fault must converge to exactly the declared link, and
// delete must bring back the snapshot taken before. Run by the VM step:
//   LAB_KIND=vm npx mocha --require dist/test/integration/fixture.js dist/test/hardening/vm/*.test.js

import { strict as assert } from "node:assert";
import { TransportError } from "../../../provider/errors";
import {
  VlanSubinterfaceArgsSchema,
  type VlanSubinterfaceState,
  vlanSubinterfaceProvider,
} from "../../../provider/resources/link/vlanSubinterface";
import { closeAllSessions } from "../../../provider/ssh/pool";
import { snapshotHost } from "../../integration/fixture";
import type { LabFaults, LabHost } from "../../lab/types";
import {
  asResourceWould,
  COMMAND_TIMEOUT_MS,
  failsWithin,
  faultConnection,
  faultHost,
  kindOf,
  scenario,
  seconds,
  succeedsWithin,
  typedCause,
  without,
} from "../faultChecks";

describe("faults on a VM lab host: VlanSubinterface", function () {
  this.timeout(300_000);
  let host: LabHost;
  let faults: LabFaults;
  let target: string;
  const links: string[] = [];

  before(async function () {
    this.timeout(1_200_000);
    ({ host, faults, target } = await faultHost());
  });

  beforeEach(() => closeAllSessions());

  afterEach(async () => {
    await faults.clear();
    closeAllSessions();
    for (const l of links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
  });

  const steps: { step: string; pattern: (name: string) => string }[] = [
    { step: "1 (ip link add)", pattern: (n) => `ip (link add link [^ ]+ name ${n.replace(".", "\\.")} type vlan|-batch -$)` },
    { step: "2 (ip link set up)", pattern: (n) => `ip link set dev ${n.replace(".", "\\.")} up$` },
  ];
  steps.forEach(({ step, pattern }, i) => {
    scenario(
      `SSH connection cut after step ${step} of a VlanSubinterface create`,
      "typed error ≤ commandTimeoutMs; retry converges; delete restores",
      async () => {
        const vlanId = 3900 + i;
        const name = `${host.lanParent}.${vlanId}`;
        links.push(name);
        const before = await snapshotHost(host);
        const checked = await vlanSubinterfaceProvider.check(
          {},
          {
            connection: faultConnection(host),
            parent: host.lanParent,
            vlanId,
            persist: false,
            ...asResourceWould(VlanSubinterfaceArgsSchema, "VlanSubinterface", name),
          },
        );
        assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
        await faults.inject("cut-after", pattern(name));
        const { error, ms } = await failsWithin(vlanSubinterfaceProvider.create(checked.inputs), COMMAND_TIMEOUT_MS, "create");
        const cause = typedCause(error, [TransportError], target);
        assert.deepEqual(await faults.pending(), [], "the fault never fired");

        const created = await succeedsWithin(vlanSubinterfaceProvider.create(checked.inputs), "the retried create");
        const [link] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", name])).stdout);
        assert.equal(link.linkinfo?.info_kind, "vlan");
        assert.equal(link.linkinfo?.info_data?.id, vlanId);
        assert.equal(link.link, host.lanParent);
        assert.ok(link.flags.includes("UP"), `${name} is not up`);
        assert.equal(without(await snapshotHost(host), name), before, "the host changed besides the VLAN link");
        await succeedsWithin(vlanSubinterfaceProvider.delete(created.id, created.outs as VlanSubinterfaceState), "delete");
        assert.equal(await snapshotHost(host), before, "delete did not bring the host back to the snapshot");
        return `${kindOf(cause)} in ${seconds(ms)}; retry converged; delete restored the host`;
      },
    );
  });
});
