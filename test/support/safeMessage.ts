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
