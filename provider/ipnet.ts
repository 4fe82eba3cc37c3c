// Address arithmetic for IPv4 and IPv6, on bigints so both families share one code path.
// Every address and prefix that reaches a host or the state goes through `formatAddress`,
// so what was written and what is read back compare as plain strings.

import { isIPv4, isIPv6 } from "node:net";

export type Family = 4 | 6;

export interface Address {
  family: Family;
  value: bigint;
}

export interface Prefix {
  family: Family;
  /** The address as written, host bits included (a shim's 198.51.100.250/24). */
  address: bigint;
  length: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

export function parseAddress(text: string): Address | undefined {
  if (isIPv4(text)) {
    const value = text.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
    return { family: 4, value };
  }
  // Zone ids (fe80::1%eth0) have no meaning in a Docker IPAM config or a route.
  if (isIPv6(text) && !text.includes("%")) {
    return { family: 6, value: parseIPv6(text) };
  }
  return undefined;
}

function parseIPv6(text: string): bigint {
  let head = text;
  let embeddedV4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    embeddedV4 = parseAddress(tail)?.value;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined];
  const leftGroups = left ? left.split(":") : [];
  const rightGroups = right ? right.split(":") : [];
  const missing = 8 - leftGroups.length - rightGroups.length;
  const groups = right === undefined ? leftGroups : [...leftGroups, ...Array<string>(missing).fill("0"), ...rightGroups];
  let value = groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
  if (embeddedV4 !== undefined) {
    value = (value & ~0xffffffffn) | embeddedV4;
  }
  return value;
}

export function formatAddress(address: Address): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => ((address.value >> shift) & 0xffn).toString()).join(".");
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(Number((address.value >> shift) & 0xffffn));
  }
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/** Parses "addr/len"; a bare address is not a prefix (callers decide what a missing length means). */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) return undefined;
  const address = parseAddress(text.slice(0, slash));
  if (!address) return undefined;
  const length = Number(lengthText);
  if (length > BITS[address.family]) return undefined;
  return { family: address.family, address: address.value, length };
}

function hostMask(prefix: Prefix): bigint {
  return (1n << BigInt(BITS[prefix.family] - prefix.length)) - 1n;
}

export function networkOf(prefix: Prefix): Prefix {
  return { ...prefix, address: prefix.address & ~hostMask(prefix) };
}

export function hasHostBits(prefix: Prefix): boolean {
  return (prefix.address & hostMask(prefix)) !== 0n;
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatAddress({ family: prefix.family, value: prefix.address })}/${prefix.length}`;
}

export function containsAddress(prefix: Prefix, address: Address): boolean {
  if (prefix.family !== address.family) return false;
  const mask = hostMask(prefix);
  return (prefix.address & ~mask) === (address.value & ~mask);
}

/** True when `inner` lies wholly inside `outer`. */
export function containsPrefix(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family && inner.length >= outer.length && containsAddress(outer, { family: inner.family, value: inner.address })
  );
}

export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  return containsPrefix(a, b) || containsPrefix(b, a);
}

/** The network and broadcast addresses of an IPv4 subnet are never usable as a host address. */
export function isReservedIPv4HostAddress(prefix: Prefix, address: Address): boolean {
  if (prefix.family !== 4 || prefix.length >= 31) return false;
  const network = prefix.address & ~hostMask(prefix);
  return address.value === network || address.value === (network | hostMask(prefix));
}

/** Canonical spelling of an address ("::ffff:0:1" style for IPv6), or the input when it does not parse. */
export function canonicalAddress(text: string): string {
  const parsed = parseAddress(text);
  return parsed ? formatAddress(parsed) : text;
}

/** Canonical spelling of a prefix; a bare address gets its full-length prefix (as `ip route` prints host routes). */
export function canonicalPrefix(text: string): string {
  const prefix = parsePrefix(text);
  if (prefix) return formatPrefix(prefix);
  const address = parseAddress(text);
  return address ? `${formatAddress(address)}/${BITS[address.family]}` : text;
}

/** True when two CIDR texts share any address; false when either does not parse. */
export function subnetsOverlap(a: string, b: string): boolean {
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  return pa !== undefined && pb !== undefined && prefixesOverlap(pa, pb);
}
