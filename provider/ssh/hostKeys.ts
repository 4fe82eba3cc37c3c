// Host-key pinning: which key types to ask the server for, and whether the key it presented
// is the one the connection pinned (an OpenSSH key line or a SHA256 fingerprint).

import { createHash } from "node:crypto";
import type { ConnectConfig } from "ssh2";

export const OPENSSH_KEY_LINE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/;
export const SHA256_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** The host's key in OpenSSH's fingerprint form, for error messages and for pinning. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named inside an SSH public key blob ("ssh-ed25519"). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString("latin1");
}

/** Host key algorithms to offer first, so the server presents the key type the user pinned. */
export function preferredHostKeyAlgorithms(hostKey: string | undefined): ConnectConfig["algorithms"] {
  const type = hostKey ? OPENSSH_KEY_LINE.exec(hostKey)?.[1] : undefined;
  if (!type) return undefined;
  const offered = type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
  return { serverHostKey: { prepend: offered } } as ConnectConfig["algorithms"];
}

export interface HostKeyVerdict {
  accepted: boolean;
  /** "ssh-ed25519 SHA256:...", as an error message shows it so the user can pin it. */
  presented: string;
  /** Why a key was refused, when there is more to say than "not the pinned key". */
  why?: string;
}

/**
 * A pinned key must match, even with insecureIgnoreHostKey set; without a pin, only the
 * explicit opt-out accepts a key.
 */
export function judgeHostKey(pin: { hostKey?: string; insecureIgnoreHostKey: boolean }, keyBlob: Buffer): HostKeyVerdict {
  const presented = `${keyTypeOf(keyBlob)} ${fingerprintOf(keyBlob)}`;
  if (!pin.hostKey) return { accepted: pin.insecureIgnoreHostKey, presented };
  const line = OPENSSH_KEY_LINE.exec(pin.hostKey);
  const accepted = line ? Buffer.from(line[2], "base64").equals(keyBlob) : pin.hostKey === fingerprintOf(keyBlob);
  return { accepted, presented };
}
