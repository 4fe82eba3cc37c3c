// Host-key verification against the text of an OpenSSH known_hosts file, as `ssh` does it:
// plain and hashed (`|1|salt|hash`) host names, `[host]:port` for ports other than 22,
// wildcards and negations, several key types per host, and `@revoked` keys that are never
// accepted. `@cert-authority` lines are not supported (host certificates are not checked).

import { createHmac } from "node:crypto";
import type { ConnectConfig } from "ssh2";
import { fingerprintOf, type HostKeyVerdict, keyTypeOf } from "./hostKeys";

export interface KnownHostsEntry {
  marker?: "@revoked" | "@cert-authority";
  /** The comma-separated host patterns as written (hashed entries stay hashed). */
  patterns: string[];
  keyType: string;
  key: Buffer;
}

/** The entries of a known_hosts text; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const raw of text.split("\n")) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0].startsWith("#")) continue;
    const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
    if (marker !== undefined && marker !== "@revoked" && marker !== "@cert-authority") continue;
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) continue;
    const key = Buffer.from(base64, "base64");
    // The key blob names its own type; a line whose type disagrees is malformed.
    if (keyTypeOf(key) !== keyType) continue;
    entries.push({ marker: marker as KnownHostsEntry["marker"], patterns: hosts.split(","), keyType, key });
  }
  return entries;
}

/** The name ssh looks a host up by: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

function patternMatches(pattern: string, name: string): boolean {
  const hashed = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(pattern);
  if (hashed) {
    const digest = createHmac("sha1", Buffer.from(hashed[1], "base64")).update(name).digest("base64");
    return digest === hashed[2];
  }
  return wildcardMatch(pattern, name);
}

/** Whether an entry's patterns name the host: one pattern matches and no negated one does. */
export function entryMatches(entry: KnownHostsEntry, name: string): boolean {
  let matched = false;
  for (const p of entry.patterns) {
    if (p.startsWith("!")) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The key types known for the host, so the server is asked for one of those first. */
export function knownHostAlgorithms(text: string, host: string, port: number): ConnectConfig["algorithms"] {
  const name = knownHostsName(host, port);
  const types = [
    ...new Set(
      parseKnownHosts(text)
        .filter((e) => e.marker === undefined && entryMatches(e, name))
        .map((e) => e.keyType),
    ),
  ];
  if (types.length === 0) return undefined;
  const offered = types.flatMap((t) => (t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t]));
  return { serverHostKey: { prepend: offered } } as ConnectConfig["algorithms"];
}

/** How many entries name the host (for a check-time error when none does). */
export function entriesFor(text: string, host: string, port: number): number {
  const name = knownHostsName(host, port);
  return parseKnownHosts(text).filter((e) => e.marker === undefined && entryMatches(e, name)).length;
}

/**
 * Accepted when a plain entry for the host holds exactly the presented key; a key listed as
 * `@revoked` is refused whatever else the text says.
 */
export function judgeKnownHosts(text: string, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const presented = `${keyTypeOf(keyBlob)} ${fingerprintOf(keyBlob)}`;
  const name = knownHostsName(host, port);
  const entries = parseKnownHosts(text);
  if (entries.some((e) => e.marker === "@revoked" && e.key.equals(keyBlob))) {
    return { accepted: false, presented, why: `the key is marked @revoked in connection.knownHosts` };
  }
  const forHost = entries.filter((e) => e.marker === undefined && entryMatches(e, name));
  if (forHost.some((e) => e.key.equals(keyBlob))) return { accepted: true, presented };
  return {
    accepted: false,
    presented,
    why:
      forHost.length === 0
        ? `connection.knownHosts has no entry for ${name}`
        : `connection.knownHosts lists other keys for ${name} (${forHost.map((e) => `${e.keyType} ${fingerprintOf(e.key)}`).join(", ")})`,
  };
}
