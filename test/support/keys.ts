// Key pairs for tests. ssh2's generateKeyPairSync("ed25519") now and then (about 1 in 400)
// writes a key whose public part lost a leading zero byte, which its own parseKey then refuses
// as "Malformed OpenSSH private key"; a test must not fail on that dice roll.

import { utils as sshUtils } from "ssh2";

export function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = sshUtils.generateKeyPairSync("ed25519");
    if (!(sshUtils.parseKey(pair.private) instanceof Error) && !(sshUtils.parseKey(pair.public) instanceof Error)) return pair;
  }
}
