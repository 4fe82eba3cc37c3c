// The table `npm run test:hardening` prints: every figure the run's tests recorded
// (test/support/figures.ts), grouped by section, and the verdict. The run fails when a figure
// is off, when a test failed (a failed test may have recorded nothing, or a figure that looks
// fine), or when a section the run was expected to measure recorded nothing at all.
//
//   node dist/test/hardening/table.js FIGURES_FILE --expect "hostile input,secrets" --failed-suites N

import * as fs from "node:fs";
import type { Figure } from "../support/figures";

/** The sections in the order the table shows them; a section not listed here comes after them. */
export const SECTIONS = ["faults", "hostile input", "secrets", "concurrency", "least privilege"];

export interface Verdict {
  ok: boolean;
  /** Why the run failed, one line each (empty when ok). */
  reasons: string[];
}

/** Parses the JSON lines; a line that is no figure is a failure of the run, not skipped. */
export function parseFigures(text: string): { figures: Figure[]; bad: string[] } {
  const figures: Figure[] = [];
  const bad: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const f = JSON.parse(line) as Partial<Figure>;
      if (typeof f.group === "string" && typeof f.name === "string" && typeof f.target === "string" && typeof f.ok === "boolean") {
        figures.push({
          group: f.group,
          name: f.name,
          value: typeof f.value === "number" ? f.value : String(f.value),
          target: f.target,
          ok: f.ok,
        });
      } else bad.push(line.slice(0, 200));
    } catch {
      bad.push(line.slice(0, 200));
    }
  }
  return { figures, bad };
}

export function verdict(figures: Figure[], expected: string[], failedSuites: number, bad: string[] = []): Verdict {
  const reasons: string[] = [];
  const off = figures.filter((f) => !f.ok);
  if (off.length > 0) reasons.push(`${off.length} figure(s) off: ${off.map((f) => `${f.group}: ${f.name}`).join("; ")}`);
  if (failedSuites > 0) reasons.push(`${failedSuites} test run(s) had failing tests`);
  for (const section of expected) {
    if (!figures.some((f) => f.group === section)) reasons.push(`section "${section}" recorded nothing`);
  }
  if (bad.length > 0) reasons.push(`${bad.length} line(s) of the figures file are no figure`);
  return { ok: reasons.length === 0, reasons };
}

function cell(text: string, width: number): string {
  return text.padEnd(width);
}

/** One table: sections in SECTIONS order (an expected section with nothing shows so), then the verdict. */
export function renderTable(figures: Figure[], expected: string[], v: Verdict, notRun: Record<string, string> = {}): string {
  const groups = [...SECTIONS, ...new Set(figures.map((f) => f.group).filter((g) => !SECTIONS.includes(g)))];
  // Cells are never cut short: a fault's measured cell carries its timing and what followed, and
  // the README shows this table as printed (a Markdown table has room for long cells).
  const nameWidth = Math.max(40, ...figures.map((f) => f.name.length));
  const valueWidth = Math.max(8, ...figures.map((f) => String(f.value).length));
  const targetWidth = Math.max(6, ...figures.map((f) => f.target.length));
  const row = (n: string, m: string, t: string, ok: string) =>
    `| ${cell(n, nameWidth)} | ${cell(m, valueWidth)} | ${cell(t, targetWidth)} | ${ok.padEnd(2)} |`;
  const lines = [
    row("figure", "measured", "target", "ok"),
    row("-".repeat(nameWidth), "-".repeat(valueWidth), "-".repeat(targetWidth), "--"),
  ];
  for (const group of groups) {
    const mine = figures.filter((f) => f.group === group);
    if (mine.length === 0) {
      if (expected.includes(group)) lines.push(row(`**${group}**: nothing recorded`, "", "", "NO"));
      else if (notRun[group]) lines.push(row(`**${group}**: not run (${notRun[group]})`, "", "", ""));
      continue;
    }
    lines.push(row(`**${group}**`, "", "", ""));
    for (const f of mine) lines.push(row(f.name, String(f.value), f.target, f.ok ? "ok" : "NO"));
  }
  const count = `${figures.length} figures, ${figures.filter((f) => !f.ok).length} off`;
  lines.push("", v.ok ? `hardening: PASS (${count})` : `hardening: FAIL (${count}): ${v.reasons.join("; ")}`);
  return lines.join("\n");
}

function main(argv: string[]): number {
  const [file, ...rest] = argv;
  const option = (name: string): string | undefined => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const list = (text: string | undefined) =>
    (text ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const expected = list(option("--expect"));
  const notRun = Object.fromEntries(list(option("--not-run")).map((pair) => pair.split("=") as [string, string]));
  const failedSuites = Number(option("--failed-suites") ?? 0);
  const { figures, bad } = parseFigures(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
  const v = verdict(figures, expected, failedSuites, bad);
  console.log(renderTable(figures, expected, v, notRun));
  return v.ok ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
