// What "safe to print" means for a message, as one assertion the suites share: no raw control,
// bidi, C1 or invisible code point; no key block; no 16-character piece of a secret; bounded.

import { strict as assert } from "node:assert";

// Written independently of provider/errors.ts's own class, so a gap there shows here.
const RAW_INVISIBLE =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: the class lists invisible code points (combining variation selectors among them) one by one, on purpose
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ud800-\udfff]/u;

export function secretPieces(secret: string, size = 16): string[] {
  const pieces: string[] = [];
  for (let i = 0; i + size <= secret.length; i++) pieces.push(secret.slice(i, i + size));
  return pieces;
}

/** How many times the secrets, or any 16-character window of them, occur in `text`. */
export function secretOccurrences(text: string, secrets: readonly string[]): number {
  let n = 0;
  for (const piece of secrets.flatMap((s) => (s.length < 16 ? [s] : secretPieces(s)))) {
    for (let at = text.indexOf(piece); at >= 0; at = text.indexOf(piece, at + 1)) n++;
  }
  return n;
}

/** Fails, saying why, unless `message` is safe to print given the secrets in play. */
export function assertSafeMessage(message: string, secrets: readonly string[] = [], maxLength = 2000): void {
  const raw = message.match(RAW_INVISIBLE);
  assert.equal(raw, null, `raw U+${raw?.[0].codePointAt(0)?.toString(16)} in ${JSON.stringify(message)}`);
  assert.ok(!/PRIVATE KEY|BEGIN OPENSSH/.test(message), `key material in ${JSON.stringify(message.slice(0, 300))}`);
  for (const secret of secrets) {
    for (const piece of secretPieces(secret)) {
      assert.ok(!message.includes(piece), `a piece of a secret (${JSON.stringify(piece)}) in ${JSON.stringify(message.slice(0, 300))}`);
    }
  }
  assert.ok(message.length <= maxLength, `a ${message.length}-character message`);
}

/** The longest prefix of `value` (in code points) that `message` shows verbatim. */
export function echoedPrefix(message: string, value: string): number {
  const points = Array.from(value);
  let n = 0;
  let prefix = "";
  while (n < points.length && message.includes(prefix + points[n])) prefix += points[n++];
  return n;
}

/**
 * What the hardening figures count over many messages (test/support/figures.ts): the same
 * properties assertSafeMessage asserts, counted instead of thrown, so a run reports how many
 * messages broke each rule and not only the first.
 */
export class MessageAudit {
  messages = 0;
  /** Messages holding a raw control, bidi, C1 or invisible code point. */
  raw = 0;
  /** Messages holding a key block or a 16-character piece of a secret. */
  secret = 0;
  /** The longest prefix of a checked value any message echoed verbatim, in code points. */
  longestEcho = 0;

  observe(message: string, secrets: readonly string[] = [], value?: unknown): void {
    this.messages++;
    if (RAW_INVISIBLE.test(message)) this.raw++;
    const pieces = secrets.flatMap((s) => secretPieces(s));
    if (/PRIVATE KEY|BEGIN OPENSSH/.test(message) || pieces.some((p) => message.includes(p))) this.secret++;
    if (typeof value === "string") this.longestEcho = Math.max(this.longestEcho, echoedPrefix(message, value));
  }
}
