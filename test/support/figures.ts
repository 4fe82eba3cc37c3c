// Figures the hardening suite measures (`npm run test:hardening` prints them as one table). A
// test records what it measured on the lab, the target it is held to, and whether it met it;
// the runner fails when any figure is off. Outside that runner (HARDENING_FIGURES unset) this
// records nothing, so the same tests run in `npm test` unchanged.

import * as fs from "node:fs";

export interface Figure {
  /** The table's section: "faults", "hostile input", "secrets", "concurrency", "least privilege". */
  group: string;
  /** What was measured, e.g. "sshd killed after step 2 of a HostShim create". */
  name: string;
  /** What this run measured: a count, a time, or a short verdict. */
  value: string | number;
  /** What it must be, e.g. "0", "typed error within commandTimeoutMs (5 s)". */
  target: string;
  ok: boolean;
}

/** Appends the figure as one JSON line to $HARDENING_FIGURES, when the runner set it. */
export function recordFigure(figure: Figure): void {
  const file = process.env.HARDENING_FIGURES;
  if (!file) return;
  fs.appendFileSync(file, `${JSON.stringify(figure)}\n`);
}
