// Shared zod pieces. Every resource schema is built from these, and every value that reaches
// a host has passed one of them: the argv quoting in host/command.ts is the safety net, these are
// the first line (a name Linux or Docker would refuse never gets as far as the host).

import { z } from "zod";
import { escapeText, type FieldFailure, printable, SHOWN_PREFIX, showValue } from "./errors";
import {
  canonicalAddress,
  canonicalPrefix,
  containsAddress,
  containsPrefix,
  type Family,
  formatPrefix,
  hasHostBits,
  isReservedIPv4HostAddress,
  networkOf,
  parseAddress,
  parsePrefix,
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
      } else if (prefix.length === 0) {
        ctx.addIssue({ code: "custom", message: "is the whole address space (/0), not a LAN's subnet" });
      }
    })
    .transform(canonicalPrefix);
}

// The IPv6 link-local block: the kernel gives such an address scope link, and a read filters
// those out (it adds one to every link itself), so one set by hand could never read back.
const IPV6_LINK_LOCAL = parsePrefix("fe80::/10")!;
const NOT_A_HOST_ADDRESS: { prefix: NonNullable<ReturnType<typeof parsePrefix>>; why: string }[] = [
  {
    prefix: IPV6_LINK_LOCAL,
    why: "is IPv6 link-local (fe80::/10): the kernel adds one to every link itself, and it never reads back as set",
  },
  { prefix: parsePrefix("127.0.0.0/8")!, why: "is a loopback address" },
  { prefix: parsePrefix("::1/128")!, why: "is the loopback address" },
  { prefix: parsePrefix("224.0.0.0/4")!, why: "is a multicast address" },
  { prefix: parsePrefix("ff00::/8")!, why: "is a multicast address" },
];

/**
 * An interface address with its prefix length (host bits expected), either family: one the
 * kernel keeps as given and a read finds again, so never unspecified, a subnet's own network or
 * broadcast address, /0, link-local, loopback or multicast.
 */
export const interfaceAddress = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    const prefix = parsePrefix(v);
    if (!prefix) {
      ctx.addIssue({ code: "custom", message: "must be an address with a prefix length, like 198.51.100.250/32" });
      return;
    }
    const bits = prefix.family === 4 ? 32 : 128;
    const address = { family: prefix.family, value: prefix.address };
    const hostBits = (1n << BigInt(bits - prefix.length)) - 1n;
    const why =
      prefix.address === 0n
        ? "is the unspecified address, which names no host"
        : prefix.length === 0
          ? "has prefix length 0 (the whole address space); a host address is usually /32 or /128"
          : (NOT_A_HOST_ADDRESS.find((n) => n.prefix.family === prefix.family && containsAddress(n.prefix, address))?.why ??
            (prefix.family === 4 && prefix.length <= 30 && (prefix.address & hostBits) === 0n
              ? `is the network address of ${formatPrefix(networkOf(prefix))}, not a host address`
              : prefix.family === 4 && prefix.length <= 30 && (prefix.address & hostBits) === hostBits
                ? `is the broadcast address of ${formatPrefix(networkOf(prefix))}, not a host address`
                : undefined));
    if (why) ctx.addIssue({ code: "custom", message: why });
  })
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
    } else if (prefix.length === 0) {
      // Every destination, the SSH session's own included, would leave through the shim.
      ctx.addIssue({ code: "custom", message: "is a default route (/0); a shim routes only its containers' range" });
    }
  })
  .transform(canonicalPrefix);

// Linux's dev_valid_name refuses "", ".", "..", '/', ':' and whitespace, and names of 16 bytes
// or more. We accept a stricter set that also never means anything to a shell or to `ip`
// ("@" would read as "name@peer" in `ip link` output).
// "all" and "default" are the kernel's per-protocol settings directories
// (/proc/sys/net/ipv4/conf/all, .../default): registering a link by either name fails with
// "File exists"; "bonding_masters" is a file in /sys/class/net when bonding is loaded.
const KERNEL_RESERVED_LINK_NAMES = new Set(["all", "default", "bonding_masters"]);

export const interfaceName = z
  .string()
  .refine((v) => Buffer.byteLength(v) <= 15, { message: "is longer than 15 bytes (the kernel's IFNAMSIZ limit)" })
  .refine((v) => v !== "." && v !== "..", { message: "is not a valid interface name" })
  .refine((v) => !KERNEL_RESERVED_LINK_NAMES.has(v), { message: "is a name the kernel reserves (all, default, bonding_masters)" })
  .refine((v) => /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(v), {
    message: "may hold only letters, digits, '_', '.' and '-', and must not start with '.' or '-'",
  });

/** A parent for macvlan/ipvlan ports or a VLAN: a real NIC, never the loopback device. */
export const parentInterfaceName = interfaceName.refine((v) => v !== "lo", {
  message: "is the loopback device, which cannot carry macvlan, ipvlan or VLAN links",
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

// Docker itself puts no bound on a network label; containerd refuses a label whose key and
// value together pass 4096 bytes (labels.Validate), so that is the bound per label. Labels
// travel as JSON in the create request's body, which has no size limit either; the bound on
// all of them is this provider's own: Docker returns every network's labels in each listing
// (GET /networks, which every read of a host shares) and Pulumi keeps them in the state, so
// one network's labels must not grow those without end.
export const LABEL_KEY_MAX_BYTES = 255;
export const LABEL_MAX_BYTES = 4096;
export const LABELS_MAX_BYTES = 65_536;

/** Docker label keys: reverse-DNS style, no '=' (`docker network create --label` splits on it). */
export const labelKey = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, "must be a label key like com.example.team")
  .refine((v) => Buffer.byteLength(v) <= LABEL_KEY_MAX_BYTES, { message: `is longer than ${LABEL_KEY_MAX_BYTES} bytes` });

/**
 * Label values: printable text. Control characters (C0 and C1) would corrupt `docker inspect`
 * output and logs, and a lone surrogate cannot be written as UTF-8 (it would read back as U+FFFD).
 */
export const labelValue = z
  .string()
  .refine((v) => !/[\u0000-\u001f\u007f-\u009f]/.test(v), { message: "must not contain control characters" })
  .refine((v) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v), {
    message: "holds a lone UTF-16 surrogate, which has no UTF-8 form",
  })
  .refine((v) => Buffer.byteLength(v) <= LABEL_MAX_BYTES, { message: `is longer than ${LABEL_MAX_BYTES} bytes` });

/** The labels map: each label within containerd's bound, all of them within the provider's. */
export const labels = z.record(labelKey, labelValue).superRefine((map, ctx) => {
  let total = 0;
  for (const [key, value] of Object.entries(map)) {
    const bytes = Buffer.byteLength(key) + 1 + Buffer.byteLength(value);
    if (bytes > LABEL_MAX_BYTES) {
      ctx.addIssue({ code: "custom", path: [key], message: `key and value together are ${bytes} bytes; at most ${LABEL_MAX_BYTES}` });
    }
    // As the request body carries them: "key":"value", with JSON's escapes.
    total += Buffer.byteLength(JSON.stringify(key)) + 1 + Buffer.byteLength(JSON.stringify(value));
  }
  if (total > LABELS_MAX_BYTES) {
    ctx.addIssue({
      code: "custom",
      message: `take ${total} bytes together; at most ${LABELS_MAX_BYTES} (every listing of the host's networks carries them)`,
    });
  }
});

/**
 * Keys of Docker's aux addresses (IPAM AuxiliaryAddresses). Docker sets no bound; the names
 * are kept with the network and come back in every listing, so they get the bound label keys
 * have (the hostile-input suite once sent a 200,000-character name).
 */
export const auxAddressName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must start with a letter or digit and hold only letters, digits, '_', '.' and '-'")
  .refine((v) => v.length <= LABEL_KEY_MAX_BYTES, { message: `is longer than ${LABEL_KEY_MAX_BYTES} characters` });

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
 * An issue for every own "__proto__" key in the inputs (JSON.parse makes one): z.record copies
 * a map into a plain object, where that key cannot be an own property, so zod dropped it without
 * a word and the label or aux address silently vanished (found by the hostile-input suite).
 */
export function protoKeyIssues(input: unknown, at: PropertyKey[] = []): z.core.$ZodIssue[] {
  if (input === null || typeof input !== "object") return [];
  const issues: z.core.$ZodIssue[] = [];
  if (Object.hasOwn(input, "__proto__")) {
    issues.push({ code: "custom", path: [...at, "__proto__"], message: "is a key a JavaScript object cannot hold; choose another", input });
  }
  for (const [key, value] of Object.entries(input)) issues.push(...protoKeyIssues(value, [...at, key]));
  return issues;
}

/**
 * `secretPaths` are dotted paths whose values must never be shown ("connection.privateKey").
 * An issue on a secret field names the field and says the value is hidden; a secret's value
 * pasted into another field is hidden there too, and every other value goes through the one
 * `showValue` (escaped, bounded, key material hidden).
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, secretPaths: readonly string[]): FieldFailure[] {
  const secrets = secretPaths.map((p) => valueAt(input, p.split("."))).filter((v): v is string => typeof v === "string" && v.length > 0);
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
    const shown = secret
      ? " (value hidden: secret)"
      : value === null || typeof value !== "object"
        ? ` (got ${showValue(value, secrets)})`
        : "";
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
