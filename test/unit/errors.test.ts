import { strict as assert } from "node:assert";
import { DockerApiError, RefusalError, RemoteCommandError, TransportError } from "../../provider/errors";

const T = "ssh://root@h:22";

describe("errors", () => {
  it("carry a refusal's kind and the names in the way, and build one message per kind", () => {
    const cases: [ConstructorParameters<typeof RefusalError>[1], string[], string][] = [
      [
        { kind: "nameTaken", object: "network", name: "lan", id: "0123456789abcdef" },
        ["lan"],
        'a Docker network named "lan" already exists (id 0123456789ab); set adopt: true to take it over if its settings match, or choose another name',
      ],
      [{ kind: "parentMissing", parent: "eth9" }, ["eth9"], 'parent interface "eth9" does not exist'],
      [
        { kind: "inUse", object: "link", name: "eth1.50", networks: ["a", "b"] },
        ["a", "b"],
        '"eth1.50" is still the parent of Docker network(s) "a", "b"; delete them first',
      ],
      [
        { kind: "parentTaken", parent: "eth1", driver: "macvlan", network: "mv" },
        ["mv"],
        'Docker network "mv" already uses parent "eth1" with the macvlan driver; Docker allows one macvlan network per parent',
      ],
      [{ kind: "mtuTooLarge", parent: "eth1", mtu: 9000, parentMtu: 1500 }, ["eth1"], `mtu 9000 is larger than parent "eth1"'s mtu 1500`],
      [
        { kind: "gone", object: "Docker network", name: "lan", id: "abc" },
        ["lan"],
        'Docker network "lan" (abc) no longer exists; run `pulumi refresh`',
      ],
      [{ kind: "gone", object: "interface", name: "shim0" }, ["shim0"], 'interface "shim0" no longer exists; run `pulumi refresh`'],
      [
        { kind: "vanished", object: "interface", name: "shim0", during: "update" },
        ["shim0"],
        'interface "shim0" vanished during the update',
      ],
      [
        { kind: "vanished", object: "interface", name: "shim0", during: "create" },
        ["shim0"],
        'interface "shim0" vanished right after it was created',
      ],
      [
        { kind: "adoptMismatch", name: "lan", differences: ["a", "b"] },
        ["lan"],
        'cannot adopt Docker network "lan": its settings differ:\n  - a\n  - b',
      ],
    ];
    for (const [refusal, names, text] of cases) {
      const err = new RefusalError(T, refusal);
      assert.equal(err.kind, refusal.kind);
      assert.deepEqual(err.names, names);
      assert.equal(err.message, `${T}: ${text}`);
      assert.equal(err.name, "RefusalError");
      assert.equal(err.target, T);
      assert.ok(err instanceof Error);
    }
  });

  it("show a failed command quoted as the shell would run it", () => {
    const err = new RemoteCommandError(T, ["docker", "network", "create", "--label", "team=a b", "--", "lan"], {
      exitCode: 1,
      stdout: "out",
      stderr: "",
    });
    assert.equal(err.message, `${T}: \`docker network create --label 'team=a b' -- lan\` exited with 1: out`);
    assert.equal(
      new RemoteCommandError(T, ["true"], { exitCode: 3, stdout: " ", stderr: "\n" }).message,
      `${T}: \`true\` exited with 3: (no output)`,
    );
    assert.equal(new RemoteCommandError(T, ["x"], { exitCode: 3, stdout: "o", stderr: " e \n" }).message, `${T}: \`x\` exited with 3: e`);
  });

  it("give each transport failure its reason, and say when a retry is safe", () => {
    const reasons = [
      [TransportError.cannotConnect(T, "ECONNREFUSED"), "connect", true, "cannot connect: ECONNREFUSED"],
      [TransportError.handshakeFailed(T, "bad packet"), "handshake", true, "bad packet"],
      [TransportError.closedBeforeReady(T), "handshake", true, "connection closed before the SSH session was ready"],
      [TransportError.noSession(T, 2000), "timeout", true, "no SSH session within 2000 ms"],
      [
        TransportError.authFailed(T, "root", ["publickey", "password"]),
        "auth",
        true,
        "authentication as root failed (tried: publickey, password)",
      ],
      [
        TransportError.hostKeyRefused(T, "ssh-ed25519 SHA256:x", false),
        "hostKey",
        true,
        "host key verification failed: the host presented ssh-ed25519 SHA256:x and no connection.hostKey is set",
      ],
      [TransportError.cannotStart(T, ["a b"], "Not connected"), "channel", false, "cannot start `'a b'`: Not connected"],
      [TransportError.noExitStatus(T, ["x"], "KILL", ""), "channel", true, "`x` ended without an exit status (signal KILL)"],
      [TransportError.noExitStatus(T, ["x"], undefined, ""), "channel", true, "`x` ended without an exit status"],
    ] as const;
    for (const [err, reason, mayHaveRun, text] of reasons) {
      assert.equal(err.reason, reason);
      assert.equal(err.commandMayHaveRun, mayHaveRun);
      assert.equal(err.message, `${T}: ${text}`);
      assert.equal(err.name, "TransportError");
    }
  });
});

describe("errors: what a daemon or a library said goes through the shared escaping", () => {
  const hostile = `bad \u202e name \u0085 end${"x".repeat(5000)}`;

  it("escapes and bounds the daemon's message and dial-stdio's stderr in DockerApiError", () => {
    const answered = new DockerApiError(T, "POST", "/networks/create", 400, JSON.stringify({ message: hostile }));
    const failed = new DockerApiError(T, "GET", "/networks", undefined, hostile, 1, hostile);
    for (const err of [answered, failed]) {
      assert.match(err.message, /bad \\u202e name \\u0085 end/);
      assert.doesNotMatch(err.message, /[\u202e\u0085]/u);
      assert.ok(err.message.length < 1200, `${err.message.length} chars`);
      assert.match(err.message, /… \(5016 chars\)$/);
    }
    assert.match(answered.message, /^ssh:\/\/root@h:22: Docker API `POST \/networks\/create` answered 400: bad /);
  });

  it("escapes and bounds a handshake or connect failure's text", () => {
    for (const err of [TransportError.handshakeFailed(T, hostile), TransportError.cannotConnect(T, hostile)]) {
      assert.doesNotMatch(err.message, /[\u202e\u0085]/u);
      assert.match(err.message, /\\u202e/);
      assert.ok(err.message.length < 700, `${err.message.length} chars`);
    }
  });
});

describe("errors: sudo rights", () => {
  it("says which command the user may not run through sudo, and the sudoers rule that grants it", () => {
    const refused = new RemoteCommandError("ssh://ops@198.51.100.11:22", ["ip", "-j", "link"], {
      exitCode: 1,
      stdout: "",
      stderr: "sudo: a password is required\n",
    });
    assert.match(
      refused.message,
      /ops may not run `ip` as root without a password: add a sudoers rule such as `ops ALL=\(root\) NOPASSWD: \$\(command -v ip\)`/,
    );
    const other = new RemoteCommandError("ssh://ops@198.51.100.11:22", ["ip", "-j", "link"], {
      exitCode: 1,
      stdout: "",
      stderr: "Cannot find device",
    });
    assert.doesNotMatch(other.message, /sudoers/);
  });
});
