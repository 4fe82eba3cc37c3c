// Hostile input, generated (issue 10): every string and number field of every resource gets
// shell metacharacters, quotes, $(), backticks, newlines, NUL, '-'-leading values, look-alikes,
// bidi marks, overlong values, out-of-range and non-integer numbers, CIDRs with host bits, /0,
// mixed families and loopback/link-local values. Each value is either refused by check() with a
// message naming the field (and safe to print), or accepted and then proven to arrive whole: a
// link's commands are quoted by the one quoting function, parsed back by a real `sh`, and compared
// byte for byte (the value is one argv element); a network's value is one string of the Engine API
// body the create sends (no shell at all). A canary file shows no shell interpreted anything.

import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import fc from "fast-check";
import { SHOWN_PREFIX } from "../../provider/errors";
import { type Argv, toRemoteCommand } from "../../provider/host/command";
import { recordFigure } from "../support/figures";
import {
  CANARY,
  fieldOf,
  hostileNumber,
  hostileString,
  jsonStrings,
  RESOURCES,
  SECRETS,
  valueAt,
  withField,
} from "../support/hostileInputs";
import { assertSafeMessage, MessageAudit } from "../support/safeMessage";

/** The argv as the host's shell sees it: the one quoting function, then a real sh, NUL-separated. */
function throughShell(commands: Argv[]): string[][] {
  const script = commands.map((argv) => `${toRemoteCommand(["printf", "%s\\0", ...argv], { sudo: false })}; printf '\\001\\0'`).join("; ");
  const out = execFileSync("sh", ["-c", script], { maxBuffer: 64 * 1024 * 1024 });
  const words = out.toString("utf8").split("\0").slice(0, -1);
  const back: string[][] = [[]];
  for (const w of words) {
    if (w === "\u0001") back.push([]);
    else back[back.length - 1].push(w);
  }
  return back.slice(0, -1);
}

const figures = { tried: 0, rejectedNamingField: 0, rejectedOtherField: 0, accepted: 0, acceptedNoArgv: 0, argvProven: 0 };
const audit = new MessageAudit();
let canaryFound = 0;

function recordFigures(): void {
  const group = "hostile input";
  const { tried, rejectedNamingField: named, rejectedOtherField: other, accepted, acceptedNoArgv, argvProven } = figures;
  const seed = process.env.HOSTILE_SEED ? `seed ${process.env.HOSTILE_SEED}` : "random seed";
  recordFigure({
    group,
    name: `generated values tried (fast-check, ${seed}, every string/number field of 4 resources)`,
    value: tried,
    target: "each refused or accepted",
    ok: tried > 0 && tried === named + other + accepted,
  });
  recordFigure({ group, name: "refused by check() with a message naming the field", value: named, target: "(count)", ok: true });
  recordFigure({
    group,
    name: "refused by a cross-field rule naming another field (value well-formed)",
    value: other,
    target: "(count)",
    ok: true,
  });
  recordFigure({ group, name: "accepted by check()", value: accepted, target: "(count)", ok: true });
  recordFigure({
    group,
    name: "accepted, proven whole: one argv element through a real sh, or one Engine API body string",
    value: argvProven,
    target: `all that reach the host (${accepted - acceptedNoArgv})`,
    ok: argvProven === accepted - acceptedNoArgv,
  });
  recordFigure({ group, name: "accepted connection values (reach no command)", value: acceptedNoArgv, target: "(count)", ok: true });
  recordFigure({ group, name: "canary files found (a shell interpreted a value)", value: canaryFound, target: "0", ok: canaryFound === 0 });
  recordFigure({
    group,
    name: `check() messages for them (${audit.messages}) with a raw control/bidi/C1/invisible character`,
    value: audit.raw,
    target: "0",
    ok: audit.raw === 0,
  });
  recordFigure({
    group,
    name: "longest prefix of a value a message echoes (code points)",
    value: audit.longestEcho,
    target: `<= ${SHOWN_PREFIX}`,
    ok: audit.longestEcho <= SHOWN_PREFIX,
  });
  recordFigure({
    group: "secrets",
    name: `check() messages for hostile inputs (${audit.messages}) with key material or a piece of the key/password`,
    value: audit.secret,
    target: "0",
    ok: audit.secret === 0,
  });
}

describe("hostile input, generated (fast-check)", function () {
  this.timeout(300_000);

  before(() => fs.rmSync(CANARY, { force: true }));
  after(() => {
    recordFigures();
    console.log(
      `      hostile inputs: ${figures.tried} tried / ${figures.rejectedNamingField} rejected naming the field` +
        ` (+${figures.rejectedOtherField} by a cross-field rule naming another) / ${figures.accepted} accepted` +
        ` (${figures.argvProven} proven byte for byte (an argv element through sh, or a field of the Engine API body), ${figures.acceptedNoArgv} connection values that reach no command)`,
    );
  });

  for (const [resource, r] of Object.entries(RESOURCES)) {
    const cases = [...r.strings.map((f) => [f, hostileString] as const), ...r.numbers.map((f) => [f, hostileNumber] as const)];
    for (const [field, arbitrary] of cases) {
      it(`${resource}.${field}: refused naming the field, or one argv element byte for byte`, async () => {
        await fc.assert(
          fc.asyncProperty(arbitrary as fc.Arbitrary<unknown>, async (value) => {
            figures.tried++;
            const result = await r.provider.check({}, withField(r.valid, field, value));
            if (result.failures) {
              for (const f of result.failures) {
                audit.observe(f.reason, SECRETS, value);
                audit.observe(f.property, SECRETS, value);
                assertSafeMessage(f.reason, SECRETS);
                assertSafeMessage(f.property, SECRETS);
              }
              const name = fieldOf(field);
              const named = result.failures.some((f) => f.property === name || f.property.startsWith(`${name}.`));
              if (named) figures.rejectedNamingField++;
              else {
                // Only a value that is itself well-formed may fail on another field (a subnet that no longer holds the gateway).
                // check() trims surrounding white space first, so "198.51.100.0/25\r\n" is such a subnet.
                assert.ok(
                  typeof value === "string" && !/[\0-\x1f$`;|&'"\\]/.test(value.trim()),
                  `${JSON.stringify(value).slice(0, 80)} refused without naming ${name}: ${JSON.stringify(result.failures).slice(0, 400)}`,
                );
                figures.rejectedOtherField++;
              }
              return;
            }
            figures.accepted++;
            if (field.startsWith("connection.")) {
              figures.acceptedNoArgv++;
              return;
            }
            const inputs = result.inputs ?? {};
            const canonicalValue = String(fieldOf(field) === field ? valueAt(inputs, field) : value);
            if (r.apiBody) {
              // The body as the daemon parses it: the value is one JSON string, or one map key.
              const sent = JSON.parse(JSON.stringify(r.apiBody(inputs))) as unknown;
              assert.ok(
                jsonStrings(sent).includes(canonicalValue),
                `${JSON.stringify(canonicalValue)} is no field of ${JSON.stringify(sent)}`,
              );
              figures.argvProven++;
              return;
            }
            const commands = r.commands(inputs);
            const back = throughShell(commands);
            assert.equal(back.length, commands.length);
            for (const [i, argv] of commands.entries()) {
              assert.deepEqual(
                back[i].map((w) => Buffer.from(w)),
                argv.map((w) => Buffer.from(w)),
              );
            }
            // The value (as check() canonicalised it) is one element, alone or as the value of k=v.
            const canonical = String(fieldOf(field) === field ? valueAt(inputs, field) : value);
            const elements = commands.flat();
            assert.ok(
              elements.some((e) => e === canonical || e.endsWith(`=${canonical}`) || e.startsWith(`${canonical}=`)),
              `${JSON.stringify(canonical)} is no argv element of ${JSON.stringify(commands)}`,
            );
            figures.argvProven++;
          }),
          {
            numRuns: Number(process.env.HOSTILE_RUNS ?? 60),
            seed: process.env.HOSTILE_SEED ? Number(process.env.HOSTILE_SEED) : undefined,
          },
        );
      });
    }
  }

  it("left no canary: no shell ever interpreted a value", () => {
    canaryFound = fs.existsSync(CANARY) ? 1 : 0;
    assert.equal(fs.existsSync(CANARY), false);
  });
});
