// The hardening table's verdict: it fails on a figure that is off, a failed test run, an
// expected section that recorded nothing, or a line that is no figure.

import { strict as assert } from "node:assert";
import { parseFigures, renderTable, verdict } from "../../hardening/table";
import type { Figure } from "../../support/figures";

const ok: Figure = { group: "secrets", name: "key pieces in errors", value: 0, target: "0", ok: true };
const off: Figure = { group: "concurrency", name: "30 shims: races", value: 2, target: "0", ok: false };

describe("the hardening table", () => {
  it("passes when every figure is ok, no run failed and every expected section recorded something", () => {
    const v = verdict([ok], ["secrets"], 0);
    assert.deepEqual(v, { ok: true, reasons: [] });
    assert.match(
      renderTable([ok], ["secrets"], v),
      /\| key pieces in errors +\| 0 +\| 0 +\| ok \|[\s\S]*hardening: PASS \(1 figures, 0 off\)$/,
    );
  });

  it("fails on a figure that is off, naming it, and shows it as NO", () => {
    const v = verdict([ok, off], ["secrets"], 0);
    assert.equal(v.ok, false);
    assert.match(v.reasons.join(), /1 figure\(s\) off: concurrency: 30 shims: races/);
    assert.match(renderTable([ok, off], ["secrets"], v), /\| 30 shims: races +\| 2 +\| 0 +\| NO \|/);
  });

  it("fails when a test run failed, though every figure it recorded is ok", () => {
    assert.deepEqual(verdict([ok], [], 1).reasons, ["1 test run(s) had failing tests"]);
  });

  it("fails when an expected section recorded nothing, and shows a section not run as such", () => {
    const v = verdict([ok], ["secrets", "faults"], 0);
    assert.deepEqual(v.reasons, ['section "faults" recorded nothing']);
    const table = renderTable([ok], ["secrets", "faults"], v, { "least privilege": "VM lab: run with --vm" });
    assert.match(table, /\*\*faults\*\*: nothing recorded .*\| NO \|/);
    assert.match(table, /\*\*least privilege\*\*: not run \(VM lab: run with --vm\)/);
  });

  it("counts a line that is no figure as a failure, not a skip", () => {
    const { figures, bad } = parseFigures(`${JSON.stringify(ok)}\n{"group":"x"}\nnot json\n\n`);
    assert.deepEqual(figures, [ok]);
    assert.equal(bad.length, 2);
    assert.equal(verdict(figures, [], 0, bad).ok, false);
  });
});
