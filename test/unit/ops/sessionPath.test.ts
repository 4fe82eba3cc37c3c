import { strict as assert } from "node:assert";
import { type SessionPath, sessionCapture } from "../../../provider/ops/sessionPath";

const overEth0: SessionPath = { peer: "198.18.0.1", route: { dev: "eth0" } };

describe("never cut the branch we sit on: what captures the session", () => {
  const cases: [string, SessionPath, { addresses: string[]; routes: string[] }, ReturnType<typeof sessionCapture>][] = [
    [
      "a route to the peer itself",
      overEth0,
      { addresses: ["198.51.100.250/32"], routes: ["198.18.0.1/32"] },
      { what: "route", value: "198.18.0.1/32" },
    ],
    [
      "a range that holds the peer",
      overEth0,
      { addresses: ["198.51.100.250/32"], routes: ["198.51.100.128/26", "198.18.0.0/15"] },
      { what: "route", value: "198.18.0.0/15" },
    ],
    [
      "an address whose subnet holds the peer",
      overEth0,
      { addresses: ["198.18.0.9/24"], routes: [] },
      { what: "address", value: "198.18.0.9/24" },
    ],
    ["the peer's own address", overEth0, { addresses: ["198.18.0.1/32"], routes: [] }, { what: "address", value: "198.18.0.1/32" }],
    [
      "routes and address elsewhere",
      overEth0,
      { addresses: ["198.51.100.250/32"], routes: ["198.51.100.128/26", "fd18:0:0:1::/64"] },
      undefined,
    ],
    ["another family", { peer: "fd18::1", route: { dev: "eth0" } }, { addresses: ["198.18.0.9/8"], routes: ["198.0.0.0/8"] }, undefined],
    [
      "an IPv6 peer and a route holding it",
      { peer: "fd18::1", route: { dev: "eth0" } },
      { addresses: [], routes: ["fd18::/64"] },
      { what: "route", value: "fd18::/64" },
    ],
    [
      "a peer that is the host's own address",
      { peer: "127.0.0.1", route: { dev: "lo", type: "local" } },
      { addresses: [], routes: ["127.0.0.1/32"] },
      undefined,
    ],
    [
      "a session already over the link",
      { peer: "198.18.0.1", route: { dev: "shim0" } },
      { addresses: [], routes: ["198.18.0.1/32"] },
      undefined,
    ],
  ];
  for (const [title, path, change, expected] of cases) {
    it(title, () => assert.deepEqual(sessionCapture(path, { link: "shim0", ...change }), expected));
  }
});
