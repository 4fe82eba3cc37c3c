// Mocha's spec reporter plus one closing line in the plain form CI reads:
// "<suite>: N passed, N failed, N skipped".

import Mocha from "mocha";

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const label = process.env.SUMMARY_LABEL ?? "mocha";
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats;
      if (!s) return;
      // After the spec reporter's own epilogue.
      process.nextTick(() => console.log(`${label}: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped`));
    });
  }
}

export = SummaryReporter;
