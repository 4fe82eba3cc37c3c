// `sudo: true` with a non-root SSH user on the VM lab: a user whose passwordless sudo rights
// cover what the provider runs creates, reads and deletes a network and a HostShim; a user in
// the docker group with no sudo at all manages the Docker-only resources with `sudo: false`; a
// user allowed only `docker` is refused with a message that names the right it lacks (`ip`) and
// the sudoers rule.
// The VM image has no sudo: Debian's package is fetched with apt-get download (the Debian mirror
// is reachable here) and installed into this VM only (its disk is a throwaway overlay).

import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { dynamic } from "@pulumi/pulumi";
import { RemoteCommandError } from "../../../provider/errors";
import { findSessionPath } from "../../../provider/ops/sessionPath";
import { type HostShimState, hostShimProvider } from "../../../provider/resources/link/hostShim";
import { ipvlanNetworkProvider } from "../../../provider/resources/network/ipvlan";
import { macvlanNetworkProvider } from "../../../provider/resources/network/macvlan";
import { parseConnection } from "../../../provider/ssh/connection";
import { hostSession } from "../../../provider/ssh/pool";
import type { LabHost } from "../../lab/types";
import { recordFigure } from "../../support/figures";
import { connectionFor, lab, uniqueName } from "../fixture";

describe("sudo: true with a non-root user (VM)", function () {
  this.timeout(600_000);
  let host: LabHost;
  let scratch: string;

  before(async function () {
    this.timeout(600_000);
    host = (await lab()).hosts[0];
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ulab-sudo-"));
    execFileSync("apt-get", ["download", "sudo"], { cwd: scratch, stdio: "ignore", timeout: 120_000 });
    const deb = fs.readdirSync(scratch).find((f) => f.endsWith(".deb"));
    assert.ok(deb, "apt-get download sudo gave no package");
    const key = path.join(scratch, "key");
    fs.writeFileSync(key, host.ssh.privateKey, { mode: 0o600 });
    execFileSync(
      "scp",
      [
        "-q",
        "-P",
        String(host.ssh.port),
        "-i",
        key,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        path.join(scratch, deb),
        `root@${host.ssh.host}:/root/sudo.deb`,
      ],
      { timeout: 120_000 },
    );
    await host.exec(["dpkg", "-i", "/root/sudo.deb"], { timeoutMs: 300_000 });
    for (const user of ["ulabops", "ulabpart", "ulabdock"]) {
      await host.exec(["useradd", "-m", "-s", "/bin/sh", user]);
      await host.exec(["install", "-d", "-m", "700", "-o", user, "-g", user, `/home/${user}/.ssh`]);
      await host.exec(["install", "-m", "600", "-o", user, "-g", user, "/root/.ssh/authorized_keys", `/home/${user}/.ssh/authorized_keys`]);
    }
    // Exactly what a network and a HostShim need: no `sh` (which would amount to full root). The
    // session guard's read and the dead-man switch run as the login user (ops/deadman.ts).
    const rules = [
      "ulabops ALL=(root) NOPASSWD: /usr/bin/docker, /usr/sbin/ip, /usr/bin/test",
      "ulabpart ALL=(root) NOPASSWD: /usr/bin/docker",
    ].join("\n");
    await host.exec([
      "sh",
      "-c",
      `printf '%s\\n' '${rules.replace(/\n/g, "' '")}' > /etc/sudoers.d/ulab && chmod 440 /etc/sudoers.d/ulab && visudo -c`,
    ]);
  });

  after(async function () {
    this.timeout(120_000);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    if (!host) return;
    await host.exec(["rm", "-rf", "/etc/sudoers.d/ulab", "/root/sudo.deb", "/run/lock/pulumi-underlay-deadman.ulabops"], {
      allowFail: true,
    });
    for (const user of ["ulabops", "ulabpart", "ulabdock"]) await host.exec(["userdel", "-r", user], { allowFail: true });
  });

  it("a user with passwordless sudo for docker, ip and test manages a network", async () => {
    const name = uniqueName("sudo");
    const inputs = {
      connection: connectionFor(host, { user: "ulabops", sudo: true }),
      name,
      parent: host.lanParent,
      subnet: "203.0.113.0/26",
    };
    assert.equal((await host.exec(["id", "-u", "ulabops"])).stdout.trim() !== "0", true);
    let managed = false;
    try {
      const checked = await macvlanNetworkProvider.check!({}, inputs);
      assert.deepEqual(checked.failures ?? [], []);
      const created = await macvlanNetworkProvider.create!(checked.inputs);
      try {
        const inspected = JSON.parse((await host.docker(["network", "inspect", name])).stdout)[0];
        assert.equal(inspected.Options.parent, host.lanParent);
        const read = await macvlanNetworkProvider.read!(created.id, created.outs!);
        assert.equal(read.id, created.id);
      } finally {
        await macvlanNetworkProvider.delete!(created.id, created.outs!);
      }
      assert.notEqual((await host.docker(["network", "inspect", name], { allowFail: true })).code, 0);
      managed = true;
    } finally {
      recordFigure({
        group: "least privilege",
        name: "MacvlanNetwork create, read, delete by a non-root user with sudo -n for docker, ip, test only (VM)",
        value: managed ? "done" : "failed",
        target: "done",
        ok: managed,
      });
    }
  });

  it("the same user makes, reads and deletes a HostShim; the session guard still finds the SSH session's path", async () => {
    const name = uniqueName("sush");
    const connection = connectionFor(host, { user: "ulabops", sudo: true });
    let managed = false;
    try {
      const checked = await hostShimProvider.check(
        {},
        { connection, name, parent: host.lanParent, address: "198.51.100.246/32", routes: [] },
      );
      assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
      const created = await hostShimProvider.create(checked.inputs);
      try {
        const shown = JSON.parse((await host.exec(["ip", "-j", "address", "show", "dev", name])).stdout)[0];
        assert.ok(shown.addr_info.some((a: { local: string }) => a.local === "198.51.100.246"));
        assert.equal((await hostShimProvider.read(name, created.outs as HostShimState)).id, name);
      } finally {
        await hostShimProvider.delete(name, created.outs as HostShimState);
      }
      assert.notEqual((await host.exec(["ip", "link", "show", "dev", name], { allowFail: true })).code, 0);
      // The create ran under the dead-man switch, as this user: its directory is the user's, and
      // the confirmed token was cleaned up.
      const dir = (await host.exec(["stat", "-c", "%U %a", "/run/lock/pulumi-underlay-deadman.ulabops"])).stdout.trim();
      assert.equal(dir, "ulabops 700");
      assert.equal((await host.exec(["ls", "-A", "/run/lock/pulumi-underlay-deadman.ulabops"])).stdout.trim(), "");
      managed = true;
    } finally {
      recordFigure({
        group: "least privilege",
        name: "HostShim create, read, delete by the same user (VM)",
        value: managed ? "done" : "failed",
        target: "done",
        ok: managed,
      });
    }
    // The guard that refuses a shim capturing the session reads $SSH_CONNECTION through `sh` as
    // the login user; under `sudo -n` without a rule for sh it must not go blind.
    const session = hostSession(parseConnection(connection, "HostShim"));
    const found = await session.exclusive((run) => findSessionPath(run));
    recordFigure({
      group: "least privilege",
      name: "session guard finds the SSH session's path for the sudo-limited user (VM)",
      value: found ? `found (${found.peer})` : "not found: guard skipped",
      target: "found",
      ok: found !== undefined,
    });
    assert.ok(found, "the session guard cannot see the SSH session of a user with sudo for docker, ip and test only");
  });

  it("a user in the docker group, with no sudo at all, manages a MacvlanNetwork and an IpvlanNetwork with sudo: false", async () => {
    await host.exec(["usermod", "-a", "-G", "docker", "ulabdock"]);
    assert.equal((await host.exec(["sudo", "-n", "-l", "-U", "ulabdock"], { allowFail: true })).stdout.includes("(root)"), false);
    const connection = connectionFor(host, { user: "ulabdock", sudo: false });
    let managed = 0;
    try {
      const cases: [dynamic.ResourceProvider, string][] = [
        [macvlanNetworkProvider as dynamic.ResourceProvider, "203.0.113.64/27"],
        [ipvlanNetworkProvider as dynamic.ResourceProvider, "203.0.113.96/27"],
      ];
      for (const [provider, subnet] of cases) {
        const name = uniqueName("dock");
        const checked = await provider.check!({}, { connection, name, parent: host.lanParent, subnet });
        assert.deepEqual(checked.failures ?? [], []);
        const created = await provider.create!(checked.inputs);
        try {
          const inspected = JSON.parse((await host.docker(["network", "inspect", name])).stdout)[0];
          assert.deepEqual(
            inspected.IPAM.Config.map((c: { Subnet: string }) => c.Subnet),
            [subnet],
          );
          assert.equal((await provider.read!(created.id, created.outs!)).id, created.id);
        } finally {
          await provider.delete!(created.id, created.outs!);
        }
        assert.notEqual((await host.docker(["network", "inspect", name], { allowFail: true })).code, 0);
        managed++;
      }
    } finally {
      recordFigure({
        group: "least privilege",
        name: "MacvlanNetwork and IpvlanNetwork create, read, delete by a docker-group user without sudo (VM)",
        value: `${managed}/2`,
        target: "2/2",
        ok: managed === 2,
      });
    }
  });

  it("a user allowed only docker is told it lacks ip, with the sudoers rule, and the host is unchanged", async () => {
    const name = uniqueName("sudo");
    const checked = await macvlanNetworkProvider.check!(
      {},
      {
        connection: connectionFor(host, { user: "ulabpart", sudo: true }),
        name,
        parent: host.lanParent,
        subnet: "203.0.113.64/26",
      },
    );
    let named = false;
    try {
      await assert.rejects(macvlanNetworkProvider.create!(checked.inputs), (err: unknown) => {
        assert.ok(err instanceof RemoteCommandError, String(err));
        assert.match(
          err.message,
          /ulabpart may not run `ip` as root without a password: add a sudoers rule such as `ulabpart ALL=\(root\) NOPASSWD: \$\(command -v ip\)`/,
        );
        return true;
      });
      assert.notEqual((await host.docker(["network", "inspect", name], { allowFail: true })).code, 0);
      named = true;
    } finally {
      recordFigure({
        group: "least privilege",
        name: "a user with sudo for docker only: refused naming the missing right (ip) and the sudoers rule, host unchanged (VM)",
        value: named ? "named" : "not named",
        target: "named",
        ok: named,
      });
    }
  });
});
