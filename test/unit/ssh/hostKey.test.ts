// Which connections share a host's lock and its cached view: the same name and port reached
// through the same bastions, whatever the user, credentials or letter case.

import { strict as assert } from "node:assert";
import { hostKey } from "../../../provider/ssh/pool";

describe("hostKey", () => {
  const hop = (host: string) => ({ host, port: 22 });

  it("is the same for the same host and port, whatever the case of the name", () => {
    assert.equal(hostKey({ host: "Docker1.lan", port: 22 }), hostKey({ host: "docker1.lan", port: 22 }));
  });

  it("tells apart one address behind two different bastions", () => {
    const siteA = hostKey({ host: "10.0.0.10", port: 22, proxyJump: [hop("bastion-a")] });
    const siteB = hostKey({ host: "10.0.0.10", port: 22, proxyJump: [hop("bastion-b")] });
    assert.notEqual(siteA, siteB);
    assert.notEqual(siteA, hostKey({ host: "10.0.0.10", port: 22 }));
  });

  it("tells apart ports and hop orders", () => {
    assert.notEqual(hostKey({ host: "h", port: 22 }), hostKey({ host: "h", port: 2222 }));
    assert.notEqual(
      hostKey({ host: "h", port: 22, proxyJump: [hop("a"), hop("b")] }),
      hostKey({ host: "h", port: 22, proxyJump: [hop("b"), hop("a")] }),
    );
  });
});
