// Shared zod pieces. Every resource schema is built from these, and every value that reaches
// a host has passed one of them: the argv quoting in host/command.ts is the safety net, these are
// the first line (a name Linux or Docker would refuse never gets as far as the host).

import { z } from "zod";
import { escapeText, FieldFailure, printable, showValue, SHOWN_PREFIX } from "./errors";
import {
  canonicalAddress,
  canonicalPrefix,
  containsAddress,
  containsPrefix,
  Family,
  hasHostBits,
  isReservedIPv4HostAddress,
  networkOf,
  parseAddress,
  parsePrefix,
  formatPrefix,
} from "./ipnet";

/** Pulumi's placeholder for a value not known until apply (`pulumi preview` of a new dependency). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function familyName(family: Family): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/** An IP address of one family, canonicalised so state compares by string. */
export function ipAddress(family: Family) {
  return z
    .string()
    .trim()
    .refine((v) => parseAddress(v)?.family === family, { message: `must be an ${familyName(family)} address` })
    .transform(canonicalAddress);
}

/** A subnet in CIDR form whose host bits are zero (Docker and the kernel store it that way). */
export function subnet(family: Family) {
  return z
    .string()
    .trim()
    .superRefine((v, ctx) => {
      const prefix = parsePrefix(v);
      if (!prefix || prefix.family !== family) {
        ctx.addIssue({ code: "custom", message: `must be an ${familyName(family)} subnet in CIDR form (a.b.c.d/len)` });
      } else if (hasHostBits(prefix)) {
        ctx.addIssue({
          code: "custom",
          message: `has host bits set; the subnet is ${formatPrefix(networkOf(prefix))}`,
        });
      }
    })
    .transform(canonicalPrefix);
}

/** An interface address with its prefix length (host bits expected), either family. */
export const interfaceAddress = z
  .string()
  .trim()
  .refine((v) => parsePrefix(v) !== undefined, { message: "must be an address with a prefix length, like 198.51.100.250/32" })
  .transform(canonicalPrefix);

/** A route destination, either family; host bits must be zero as the kernel requires. */
export const routeDestination = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    const prefix = parsePrefix(v);
    if (!prefix) {
      ctx.addIssue({ code: "custom", message: "must be a destination in CIDR form, like 198.51.100.128/26" });
    } else if (hasHostBits(prefix)) {
      ctx.addIssue({ code: "custom", message: `has host bits set; the destination is ${formatPrefix(networkOf(prefix))}` });
    }
  })
  .transform(canonicalPrefix);

// Linux's dev_valid_name refuses "", ".", "..", '/', ':' and whitespace, and names of 16 bytes
// or more. We accept a stricter set that also never means anything to a shell or to `ip`
// ("@" would read as "name@peer" in `ip link` output).
export const interfaceName = z
  .string()
  .refine((v) => Buffer.byteLength(v) <= 15, { message: "is longer than 15 bytes (the kernel's IFNAMSIZ limit)" })
  .refine((v) => v !== "." && v !== "..", { message: "is not a valid interface name" })
  .refine((v) => /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(v), {
    message: "may hold only letters, digits, '_', '.' and '-', and must not start with '.' or '-'",
  });

const RESERVED_NETWORK_NAMES = new Set(["bridge", "host", "none", "default"]);

// Docker's own rule for names ([a-zA-Z0-9][a-zA-Z0-9_.-]) plus the predefined networks it will
// not let a user create again.
export const dockerNetworkName = z
  .string()
  .refine((v) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v), {
    message: "must start with a letter or digit and hold only letters, digits, '_', '.' and '-'",
  })
  .refine((v) => v.length <= 128, { message: "is longer than 128 characters" })
  .refine((v) => !RESERVED_NETWORK_NAMES.has(v), { message: "is one of Docker's predefined network names" });

/** A DNS name or an IP literal; never starts with '-', so it can never read as an ssh option. */
export const hostName = z
  .string()
  .trim()
  .refine(
    (v) =>
      parseAddress(v) !== undefined ||
      (v.length <= 253 && /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v)),
    { message: "must be a host name or an IP address" },
  );

/** Docker label keys: reverse-DNS style, no '=' (it separates key from value on the command line). */
export const labelKey = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._\/-]*$/, "must be a label key like com.example.team");

/** Label values: any printable text; control characters would corrupt `docker inspect` output and logs. */
export const labelValue = z
  .string()
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), { message: "must not contain control characters" });

/** Keys of Docker's --aux-address name=ip. */
export const auxAddressName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must start with a letter or digit and hold only letters, digits, '_', '.' and '-'");

/** The kernel's macvlan modes, as Docker's macvlan_mode option and `ip link ... mode` spell them. */
export const macvlanMode = z.enum(["bridge", "vepa", "private", "passthru"]);

type IssueSink = z.RefinementCtx;

/** The subnet-membership rules Docker applies at `network create`, checked before any host is touched. */
export function checkIpamMembership(
  ctx: IssueSink,
  at: (string | number)[],
  config: { subnet: string; gateway?: string; ipRange?: string; auxAddresses?: Record<string, string> },
): void {
  const net = parsePrefix(config.subnet);
  if (!net) return; // the subnet's own issue is already reported
  const requireInside = (value: string, path: (string | number)[], what: string) => {
    const address = parseAddress(value);
    if (!address) return;
    if (!containsAddress(net, address)) {
      ctx.addIssue({ code: "custom", path: [...at, ...path], message: `${what} ${value} is outside subnet ${config.subnet}` });
    } else if (isReservedIPv4HostAddress(net, address)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, ...path],
        message: `${what} ${value} is the network or broadcast address of ${config.subnet}`,
      });
    }
  };
  if (config.gateway) requireInside(config.gateway, ["gateway"], "gateway");
  if (config.ipRange) {
    const range = parsePrefix(config.ipRange);
    if (range && !containsPrefix(net, range)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "ipRange"],
        message: `ip range ${config.ipRange} is outside subnet ${config.subnet}`,
      });
    }
  }
  for (const [name, value] of Object.entries(config.auxAddresses ?? {})) {
    requireInside(value, ["auxAddresses", name], `aux address ${name}`);
    if (config.gateway && value === config.gateway) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "auxAddresses", name],
        message: `aux address ${name}=${value} is the gateway; Docker refuses to reserve it twice`,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Turning zod issues into messages an operator can act on: the field path, the value, the rule.

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/**
 * `secretPaths` are dotted paths whose values must never be shown ("connection.privateKey").
 * An issue on a secret field names the field and says the value is hidden; a secret's value
 * pasted into another field is hidden there too, and every other value goes through the one
 * `showValue` (escaped, bounded, key material hidden).
 */
export function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  secretPaths: readonly string[],
): FieldFailure[] {
  const secrets = secretPaths
    .map((p) => valueAt(input, p.split(".")))
    .filter((v): v is string => typeof v === "string" && v.length > 0);
  // Map keys are user text too: a path segment is escaped and bounded like a value.
  const fieldOf = (path: readonly PropertyKey[]) => path.map((k) => escapeText(boundedKey(String(k)))).join(".");
  // The rule's own text can quote a value (zod's "Unrecognized key"); it gets the same treatment.
  const safeText = (text: string) => hideSecrets(printable(text, 500), secrets);
  return issues.map((issue) => {
    // A bad key in a map is reported on the map, naming the key (the value is beside the point).
    if (issue.code === "invalid_key") {
      const property = fieldOf(issue.path.slice(0, -1));
      const key = String(issue.path[issue.path.length - 1]);
      const why = issue.issues.map((i) => safeText(i.message)).join("; ");
      return { property, reason: `${property || "(inputs)"}: key ${showValue(key, secrets)} ${why}` };
    }
    const path = issue.path;
    const property = fieldOf(path);
    const field = property || "(inputs)";
    const raw = path.map(String).join(".");
    const secret = secretPaths.some((p) => raw === p || raw.startsWith(`${p}.`));
    if (issue.code === "unrecognized_keys") {
      return { property, reason: `${field}: unknown input(s) ${issue.keys.map((k) => showValue(k, secrets)).join(", ")}` };
    }
    const value = valueAt(input, path);
    // Objects are never echoed: they may hold a secret field, and the message names the bad part.
    const shown = secret ? " (value hidden: secret)" : value === null || typeof value !== "object" ? ` (got ${showValue(value, secrets)})` : "";
    return { property, reason: `${field}: ${safeText(issue.message)}${shown}` };
  });
}

function boundedKey(key: string): string {
  const points = Array.from(key);
  return points.length <= SHOWN_PREFIX ? key : `${points.slice(0, SHOWN_PREFIX).join("")}… (${points.length} chars)`;
}

function hideSecrets(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, s) => (s.length >= 4 ? t.split(s).join("(hidden)") : t), text);
}

/** True when Pulumi has not resolved some value inside `value` yet. */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}
