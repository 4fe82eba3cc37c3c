// The generated hostile inputs of issue 10, shared by the unit suite (test/unit/hostileInput.test.ts:
// check() and a real local sh) and the lab test that sends what check() accepts to a real host
// (test/integration/hardening.test.ts): the resources with a valid input each, the fields that
// take strings and numbers, and the fast-check arbitraries.

import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import type { Argv } from "../../provider/host/command";
import { networkCreateRequest } from "../../provider/host/docker";
import { linkSetupCommands } from "../../provider/host/persistentLinks";
import { hostShimProvider, shimMapping } from "../../provider/resources/link/hostShim";
import { vlanMapping, vlanSubinterfaceProvider } from "../../provider/resources/link/vlanSubinterface";
import { ipvlanMapping, ipvlanNetworkProvider } from "../../provider/resources/network/ipvlan";
import { macvlanMapping, macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { toNetworkSpec } from "../../provider/resources/network/mapping";
import { ed25519KeyPair } from "./keys";
import { SAMPLE_LAN } from "./samples";

export const CANARY = path.join(os.tmpdir(), `underlay-canary-${process.pid}`);
const key = ed25519KeyPair();
const PASSWORD = "hunter2 but much longer than that";
export const SECRETS = [key.private.split("\n").slice(1, -2).join(""), PASSWORD];
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

export interface Resource {
  provider: Provider;
  valid: Record<string, unknown>;
  /** The commands a create runs on the host for checked inputs (the link's `ip` commands). */
  commands(inputs: Record<string, unknown>): Argv[];
  /** The Engine API body a create sends (networks go to Docker as JSON, never through a shell). */
  apiBody?(inputs: Record<string, unknown>): unknown;
  strings: string[];
  numbers: string[];
}

export const RESOURCES: Record<string, Resource> = {
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

export const hostileString = fc.oneof(
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
export const hostileNumber = fc.oneof(
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
export function withField(valid: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
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

export function fieldOf(field: string): string {
  return field.replace(/\.<key>$/, "");
}

/** Every string value and every object key in a JSON value. */
export function jsonStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(jsonStrings);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...jsonStrings(v)]);
  return [];
}

export function valueAt(input: Record<string, unknown>, field: string): unknown {
  return field.split(".").reduce<unknown>((at, k) => (at as Record<string, unknown>)?.[k], input);
}
