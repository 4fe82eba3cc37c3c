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
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { SHOWN_PREFIX } from "../../provider/errors";
import { type Argv, toRemoteCommand } from "../../provider/host/command";
import { networkCreateRequest } from "../../provider/host/docker";
import { linkSetupCommands } from "../../provider/host/persistentLinks";
import { hostShimProvider, shimMapping } from "../../provider/resources/link/hostShim";
import { vlanMapping, vlanSubinterfaceProvider } from "../../provider/resources/link/vlanSubinterface";
import { ipvlanMapping, ipvlanNetworkProvider } from "../../provider/resources/network/ipvlan";
import { macvlanMapping, macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { toNetworkSpec } from "../../provider/resources/network/mapping";
import { recordFigure } from "../support/figures";
import { ed25519KeyPair } from "../support/keys";
import { assertSafeMessage, MessageAudit } from "../support/safeMessage";
import { SAMPLE_LAN } from "../support/samples";

const CANARY = path.join(os.tmpdir(), `underlay-canary-${process.pid}`);
const key = ed25519KeyPair();
const PASSWORD = "hunter2 but much longer than that";
const SECRETS = [key.private.split("\n").slice(1, -2).join(""), PASSWORD];
const connection = {
  host: "198.51.100.11",
  privateKey: key.private,
  password: PASSWORD,
  hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
};

type Provider = {
  check(
    olds: Record<string, unknown>,
    news: Record<string, unknown>,
  ): Promise<{ inputs?: Record<string, unknown>; failures?: { property: string; reason: string }[] }>;
};

interface Resource {
  provider: Provider;
  valid: Record<string, unknown>;
  /** The commands a create runs on the host for checked inputs (the link's `ip` commands). */
  commands(inputs: Record<string, unknown>): Argv[];
  /** The Engine API body a create sends (networks go to Docker as JSON, never through a shell). */
  apiBody?(inputs: Record<string, unknown>): unknown;
  strings: string[];
  numbers: string[];
}

const RESOURCES: Record<string, Resource> = {
  MacvlanNetwork: {
    provider: macvlanNetworkProvider,
    valid: {
      connection,
      ...SAMPLE_LAN,
      labels: { team: "net" },
      ipv6: { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1" },
      additionalSubnets: [{ subnet: "203.0.113.0/24" }],
    },
    commands: () => [],
    apiBody: (inputs) => networkCreateRequest(toNetworkSpec(macvlanMapping, inputs as never)).body,
    strings: [
      "name",
      "parent",
      "subnet",
      "gateway",
      "ipRange",
      "auxAddresses.shim",
      "auxAddresses.<key>",
      "labels.team",
      "labels.<key>",
      "owner",
      "mode",
      "ipv6.subnet",
      "ipv6.gateway",
      "additionalSubnets.0.subnet",
      "connection.host",
      "connection.user",
      "connection.hostKey",
      "connection.agentSocket",
    ],
    numbers: ["connection.port", "connection.connectTimeoutMs", "connection.commandTimeoutMs"],
  },
  IpvlanNetwork: {
    provider: ipvlanNetworkProvider,
    valid: { connection, name: "ipv", parent: "eth1", subnet: "198.51.100.0/24", gateway: "198.51.100.1", labels: { team: "net" } },
    commands: () => [],
    apiBody: (inputs) => networkCreateRequest(toNetworkSpec(ipvlanMapping, inputs as never)).body,
    strings: ["name", "parent", "subnet", "gateway", "mode", "flag", "labels.team", "owner"],
    numbers: [],
  },
  HostShim: {
    provider: hostShimProvider,
    valid: { connection, name: "lanshim", parent: "eth1", address: "198.51.100.250/32", routes: ["198.51.100.128/26"] },
    commands: (inputs) => linkSetupCommands(shimMapping.persistentLink(inputs as never)),
    strings: ["name", "parent", "address", "routes.0", "mode"],
    numbers: [],
  },
  VlanSubinterface: {
    provider: vlanSubinterfaceProvider,
    valid: { connection, parent: "eth1", vlanId: 50, name: "eth1.50", mtu: 1500 },
    commands: (inputs) => linkSetupCommands(vlanMapping.persistentLink(inputs as never)),
    strings: ["parent", "name"],
    numbers: ["vlanId", "mtu"],
  },
};

const SHELL = [
  `$(touch ${CANARY})`,
  `\`touch ${CANARY}\``,
  `;touch ${CANARY}`,
  `|touch ${CANARY}`,
  `&&touch ${CANARY}`,
  `'$(touch ${CANARY})'`,
  `"$(touch ${CANARY})"`,
  `\ntouch ${CANARY}`,
  `$'\\x41'`,
  "${IFS}",
  "*",
  "~",
  "!!",
  "#",
  "\\",
];
const SPECIAL = [
  "",
  " ",
  "-",
  "--",
  "-rf",
  "--help",
  "-oProxyCommand=touch /tmp/x",
  "\0",
  "a\0b",
  "\n",
  "\r\n",
  "\t",
  "еth1",
  "eth１",
  "ｅth1",
  "eth1\u200b",
  "\u202eeth1",
  "eth1\u2066",
  "\u00a0",
  "\ufeff",
  "\u0085",
  "\ud800",
  "😀",
  "0.0.0.0/0",
  "::/0",
  "198.51.100.7/24",
  "198.51.100.0/24",
  "198.51.100.250/32",
  "198.51.100.1",
  "fd18:0:0:1::/64",
  "fd18::1",
  "fe80::1/64",
  "fe80::1",
  "127.0.0.1/8",
  "lo",
  "all",
  "default",
  "eth1",
  "eth1.50",
  "bridge",
  "l3",
  "private",
  "vepa",
  "passthru",
  "a".repeat(16),
  "b".repeat(300),
  "c".repeat(5000),
  "d".repeat(200_000),
  "x=y",
  "k=v=w",
  "%n%s",
  "..",
  ".",
  "/",
  "a/b",
];

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SHELL, ...SPECIAL) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom("eth1", "198.51.100.9", "lan", "198.51.100.0/25", "fd18::9"), fc.constantFrom(...SHELL, ...SPECIAL))
      .map(([a, b]) => a + b),
  },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.\-=:/@%+,]{1,20}$/) },
  { weight: 1, arbitrary: fc.ipV4().chain((ip) => fc.integer({ min: 0, max: 40 }).map((len) => `${ip}/${len}`)) },
  { weight: 1, arbitrary: fc.ipV6().chain((ip) => fc.integer({ min: 0, max: 130 }).map((len) => `${ip}/${len}`)) },
);
const hostileNumber = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1,
    22,
    50,
    67,
    68,
    1500,
    4094,
    4095,
    65535,
    65536,
    2 ** 31,
    2 ** 53,
    1.5,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
  ),
  fc.integer(),
  fc.double(),
);

/** The input with `field` (a dotted path; "<key>" means the key of that map) set to `value`. */
function withField(valid: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(valid);
  const parts = field.split(".");
  let at: Record<string, unknown> = copy;
  for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
  const last = parts[parts.length - 1];
  if (last === "<key>") {
    const [first] = Object.keys(at);
    const v = at[first];
    delete at[first];
    // An own property even for "__proto__", as JSON.parse (and so the engine's inputs) makes it.
    Object.defineProperty(at, value as string, { value: v, enumerable: true, writable: true, configurable: true });
  } else at[last] = value;
  return copy;
}

function fieldOf(field: string): string {
  return field.replace(/\.<key>$/, "");
}

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

/** Every string value and every object key in a JSON value. */
function jsonStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(jsonStrings);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...jsonStrings(v)]);
  return [];
}

function valueAt(input: Record<string, unknown>, field: string): unknown {
  return field.split(".").reduce<unknown>((at, k) => (at as Record<string, unknown>)?.[k], input);
}
