import { strict as assert } from "node:assert";
import { RefusalError } from "../../../provider/errors";
import type { CommandResult } from "../../../provider/host/command";
import { refuseCuttingSession, type SessionPath, sessionCapture } from "../../../provider/ops/sessionPath";
import { fakeRunner, TARGET } from "../../support/fakeRunner";

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

describe("never cut the branch we sit on: a guard that cannot look refuses", () => {
  const shim = { link: "shim0", addresses: ["198.51.100.250/32"], routes: ["198.51.100.128/26"] };
  const hostWhere = (
    peerRead: Partial<CommandResult>,
    routeGet: Partial<CommandResult> = { stdout: '[{"dst":"198.18.0.1","dev":"eth0"}]' },
  ) => fakeRunner((argv) => (argv[0] === "sh" ? peerRead : argv[0] === "ip" ? routeGet : undefined));

  it("refuses an addressed change when the peer read fails (a sudoers that does not allow sh), naming why", async () => {
    const h = hostWhere({ exitCode: 1, stderr: "sudo: a password is required\n" });
    await assert.rejects(refuseCuttingSession(h.run, TARGET, shim), (err: unknown) => {
      assert.ok(err instanceof RefusalError, String(err));
      assert.equal(err.kind, "sessionUnknown");
      assert.deepEqual(err.names, ["shim0"]);
      assert.match(
        err.message,
        /cannot tell which path this SSH session takes \(reading \$SSH_CONNECTION exited with 1: sudo: a password is required\)/,
      );
      assert.match(err.message, /for "shim0" leave it alone; refusing/);
      return true;
    });
  });

  it("refuses when sshd did not know the peer, or no route to it is found", async () => {
    const unknown = hostWhere({ stdout: "SSH_CONNECTION=UNKNOWN 65535 UNKNOWN 65535\n" });
    await assert.rejects(refuseCuttingSession(unknown.run, TARGET, shim), /sshd reported no client address/);
    const noRoute = hostWhere(
      { stdout: "SSH_CONNECTION=198.18.0.1 1 198.18.0.2 22\n" },
      { exitCode: 2, stderr: "RTNETLINK answers: Network is unreachable\n" },
    );
    await assert.rejects(
      refuseCuttingSession(noRoute.run, TARGET, shim),
      /`ip route get 198\.18\.0\.1` found no route: RTNETLINK answers: Network is unreachable/,
    );
  });

  it("passes a change the path is known to survive, and one that adds no address or route without asking", async () => {
    const known = hostWhere({ stdout: "SSH_CONNECTION=198.18.0.1 1 198.18.0.2 22\n" });
    await refuseCuttingSession(known.run, TARGET, shim);
    const failing = hostWhere({ exitCode: 1, stderr: "sudo: a password is required\n" });
    await refuseCuttingSession(failing.run, TARGET, { link: "eth1.50", addresses: [], routes: [] });
    assert.deepEqual(failing.calls, []);
  });
});
