// The dead-man switch (ops/deadman.ts) on a lab host: a normal shim create leaves no token and no
// rollback behind; a shim route that really captures the SSH session (a change the refusal in
// sessionPath.ts would stop, so the steps are run directly) is undone by the host itself, the
// provider gets a DeadmanError, and the host answers over SSH again; and a change whose
// connection dies half-way, so that the provider cannot undo it, is undone by the host's switch
// instead of being confirmed half made.
//
// On the netns lab the session reaches sshd through a pipe (127.0.0.1 in the root namespace), so
// no route in the host can capture it. This test gives the host a second way in that does cross
// its network: 127.0.0.1:<port> -> socat -> the lab's external device -> TCP over the LAN to an
// sshd on the host's eth1 address (lanSshd.ts). The session's peer is then the external device, as on a real LAN. On
// the VM lab the session already comes in over the guest's eth0.

import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { DeadmanError, StepsFailedError } from "../../provider/errors";
import {
  buildDeadmanArm,
  buildDeadmanCheck,
  deadmanDir,
  deadmanToken,
  parseDeadmanArm,
  parseDeadmanCheck,
} from "../../provider/host/deadman";
import { buildLinkDelete } from "../../provider/host/iproute";
import { applyStepsWithDeadman } from "../../provider/ops/deadman";
import { findSessionPath } from "../../provider/ops/sessionPath";
import { hostShimProvider, shimMapping } from "../../provider/resources/link/hostShim";
import { createLinkSteps } from "../../provider/resources/link/provider";
import { parseConnection } from "../../provider/ssh/connection";
import { freshRunner } from "../../provider/ssh/oneShot";
import { hostSession } from "../../provider/ssh/pool";
import { startLanSshd } from "../lab/lanSshd";
import type { NetnsLab } from "../lab/netnsLab";
import type { Lab, LabHost } from "../lab/types";
import { eventually } from "../support/eventually";
import { recordFigure } from "../support/figures";
import { connectionFor, lab, snapshotHost, uniqueName } from "./fixture";

/** Processes in the host's network namespace whose command line says they are a rollback. */
async function rollbacksRunning(host: LabHost): Promise<string> {
  // "deadma[n]": the pattern matches the rollback's $0, not this sh's own command line.
  const found = await host.exec(
    ["sh", "-c", "pgrep -a --nslist net --ns $$ -f 'pulumi-underlay-deadma[n]'; pgrep -a --nslist net --ns $$ -x sleep"],
    {
      allowFail: true,
    },
  );
  return found.stdout.trim();
}

/**
 * The switch's files on the host (tokens, confirmations, undo records), read over SSH: a netns
 * lab host's sshd has a /run/lock of its own, which only its sessions see.
 */
async function tokens(host: LabHost): Promise<string> {
  const connection = parseConnection(connectionFor(host), "HostShim");
  const dir = deadmanDir(connection.user);
  return (await hostSession(connection).run(["sh", "-c", `ls -A ${dir} 2>/dev/null || true`])).stdout.trim();
}

/** Whether a file exists as the host's SSH sessions see it (see tokens()). */
async function existsInSession(host: LabHost, file: string): Promise<boolean> {
  const connection = parseConnection(connectionFor(host), "HostShim");
  return (await hostSession(connection).run(["test", "-e", file], { allowFailure: true })).exitCode === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function connects(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

describe("dead-man switch on a lab host", function () {
  this.timeout(180_000);
  let theLab: Lab;
  let host: LabHost;
  const links: string[] = [];
  const started: ChildProcess[] = [];
  const stops: (() => void)[] = [];
  let scratch: string | undefined;

  before(async function () {
    this.timeout(600_000);
    theLab = await lab();
    host = theLab.hosts[0];
  });

  afterEach(async () => {
    for (const l of links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
  });

  after(() => {
    // Only the relays this file started, by their pids.
    for (const child of started) if (child.pid && child.exitCode === null) process.kill(child.pid, "SIGTERM");
    for (const stop of stops) stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  /** A way into the host over its LAN (see the top of this file); on the VM lab, the usual one. */
  async function sessionOverTheNetwork(): Promise<Record<string, unknown>> {
    if (theLab.kind !== "netns") return connectionFor(host, { commandTimeoutMs: 30_000 });
    const netns = theLab as NetnsLab;
    const lanIp = host.lanAddress.split("/")[0];
    const sshdPort = 2222;
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ulab-deadman-"));
    const inward = path.join(scratch, "inward.sh");
    fs.writeFileSync(inward, `#!/bin/sh\nexec nsenter --net=/var/run/netns/${netns.prefix}-ext socat STDIO TCP:${lanIp}:${sshdPort}\n`, {
      mode: 0o755,
    });
    const sshd = await startLanSshd(netns, theLab.hosts.indexOf(host), sshdPort);
    stops.push(() => sshd.stop());
    const port = await freePort();
    const outside = spawn("socat", [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:${inward},nofork`], { stdio: "ignore" });
    started.push(outside);
    await eventually(() => connects(port), 10_000, 100);
    return connectionFor(host, { port, commandTimeoutMs: 30_000 });
  }

  it("a normal shim create disarms the switch: no token, no rollback process left, the shim exactly as asked", async () => {
    const tokensBefore = await tokens(host);
    const name = uniqueName("dms");
    links.push(name);
    const checked = await hostShimProvider.check(
      {},
      { connection: connectionFor(host), name, parent: host.lanParent, address: "198.51.100.248/32", routes: ["203.0.113.64/27"] },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    const created = await hostShimProvider.create(checked.inputs);
    const [shown] = JSON.parse((await host.exec(["ip", "-j", "address", "show", "dev", name])).stdout);
    assert.deepEqual(
      shown.addr_info
        .filter((a: { family: string }) => a.family === "inet")
        .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
      ["198.51.100.248/32"],
    );
    const routes = JSON.parse((await host.exec(["ip", "-j", "route", "show", "dev", name])).stdout);
    assert.deepEqual(
      routes.map((r: { dst: string }) => r.dst),
      ["203.0.113.64/27"],
    );
    assert.equal(created.outs?.up, true);
    // The rollback's process group was ended by the confirmation, not left to wake and find no token.
    await eventually(async () => assert.equal(await rollbacksRunning(host), ""), 5_000, 100);
    assert.equal(await tokens(host), tokensBefore, "the switch left files behind");
    await hostShimProvider.delete(created.id, created.outs!);
  });

  it("the rollback outlives the SSH connection that armed it (sshd ends with the connection) and fires after its window", async () => {
    const connection = parseConnection(connectionFor(host), "HostShim");
    const victim = uniqueName("dmo");
    links.push(victim);
    await host.exec(["ip", "link", "add", victim, "type", "veth", "peer", "name", `${victim}p`]);
    const tokensBefore = await tokens(host);
    const token = deadmanToken(connection.user, randomBytes(8).toString("hex"));
    // Armed on a connection of its own, closed as soon as the command answers.
    const armedAt = Date.now();
    const armed = await freshRunner(connection)(buildDeadmanArm(token, 2, [buildLinkDelete(victim)]), 10_000);
    assert.equal(armed.exitCode, 0, armed.stderr);
    const pid = parseDeadmanArm(armed.stdout);
    assert.ok(await existsInSession(host, token), "no token after arming");
    await eventually(
      async () => assert.equal((await host.exec(["ip", "link", "show", "dev", victim], { allowFail: true })).code, 1),
      7_000,
      100,
    );
    assert.ok(Date.now() - armedAt >= 2_000, "the rollback fired before its window");
    await eventually(async () => assert.equal((await host.exec(["kill", "-0", String(pid)], { allowFail: true })).code, 1), 5_000, 100);
    const status = await freshRunner(connection)(buildDeadmanCheck(token, pid, "status"), 10_000);
    assert.deepEqual(parseDeadmanCheck(status), { state: "undone", output: "" });
    assert.equal(await tokens(host), tokensBefore);
  });

  it("a shim route that captures the SSH session: the host undoes it by itself, the provider gets a DeadmanError, and SSH works again", async () => {
    // Arming and the four steps up to the route must fit in the window, or the route is never
    // added: five commands, 0.4-1.3 s each on a VM under TCG (LAB.md), more on a loaded machine.
    const windowMs = 15_000;
    const connection = parseConnection(await sessionOverTheNetwork(), "HostShim");
    const session = hostSession(connection);
    const sessionPath = await session.exclusive((run) => findSessionPath(run));
    assert.ok(
      sessionPath && sessionPath.route.type !== "local",
      `the session does not cross the host's network: ${JSON.stringify(sessionPath)}`,
    );
    // A parent that reaches nobody: a route to the peer through a shim on it takes the session's
    // replies into a dead end (on the LAN parent the shim would still reach the peer).
    const dead = uniqueName("dmv");
    links.push(dead);
    await host.exec(["ip", "link", "add", dead, "type", "veth", "peer", "name", `${dead}p`]);
    await host.exec(["ip", "link", "set", dead, "up"]);
    const name = uniqueName("dms");
    links.push(name);
    const before = await snapshotHost(host);
    const tokensBefore = await tokens(host);
    const steps = createLinkSteps(
      shimMapping.persistentLink({
        connection,
        name,
        parent: dead,
        mode: "bridge",
        address: "198.51.100.247/32",
        routes: [`${sessionPath.peer}/32`],
        persist: false,
      }),
    );

    // The host's own record of what happened to its links and routes, with its own clock: on
    // the VM lab the test's commands reach the host over the very path the route captures, so
    // polling from here would only see the host again after its undo.
    const record = `/tmp/ulab-deadman-${name}.monitor`;
    const monitor = (
      await host.exec(["sh", "-c", 'setsid ip -ts monitor link route >"$1" 2>&1 </dev/null & echo $!', "sh", record])
    ).stdout.trim();
    assert.match(monitor, /^\d+$/, "ip monitor did not start");
    try {
      await eventually(async () => assert.ok((await host.exec(["test", "-e", record], { allowFail: true })).code === 0), 10_000, 50);
      const began = Date.now();
      const change = session.exclusive((run) =>
        applyStepsWithDeadman(
          run,
          freshRunner(connection),
          { target: session.target, user: connection.user, sudo: connection.sudo },
          steps,
          {
            windowMs,
            attemptMs: 3_000,
            settleMs: 15_000,
            retryPauseMs: 300,
          },
        ),
      );
      const failed = await change.then(
        () => undefined,
        (err: unknown) => ({ err, seconds: (Date.now() - began) / 1000 }),
      );
      // Back in touch with the host (over the captured path, once its undo restored it).
      await eventually(async () => assert.equal(await snapshotHost(host), before), 60_000, 100);
      const events = (await host.exec(["cat", record])).stdout;
      const at = (pattern: RegExp): number | undefined => {
        const line = events.split("\n").find((l) => pattern.test(l));
        const stamp = line?.match(/^\[([^\]]+)\]/)?.[1];
        return stamp ? Date.parse(`${stamp.slice(0, 23)}Z`) : undefined;
      };
      const esc = (text: string) => text.replace(/\./g, "\\.");
      const added = at(new RegExp(`^\\[[^\\]]+\\] \\d+: ${name}@`));
      const routed = at(new RegExp(`^\\[[^\\]]+\\] ${esc(sessionPath.peer)} dev ${name} `));
      const deleted = at(new RegExp(`^\\[[^\\]]+\\] Deleted \\d+: ${name}@`));
      // The route really was there (the session was cut), and then the host took it back alone.
      assert.ok(added !== undefined && routed !== undefined && deleted !== undefined, `the host's record:\n${events}`);
      assert.ok(added <= routed && routed <= deleted, `the host's record:\n${events}`);
      const undoneAfter = (deleted - added) / 1000;
      const bound = windowMs / 1000 + 5;
      recordFigure({
        group: "faults",
        name: "shim route captures the session: host undid it by itself (its clock, from the shim's creation)",
        value: undoneAfter.toFixed(1),
        target: `≤ window + 5 s (${bound} s)`,
        ok: undoneAfter <= bound,
      });
      assert.ok(undoneAfter <= bound, `the host undid the change ${undoneAfter} s after it made the shim`);

      assert.ok(failed, "the change that cut the session was reported as a success");
      assert.ok(failed.err instanceof DeadmanError, String(failed.err));
      assert.equal(failed.err.outcome, "undone", failed.err.message);
      assert.match(failed.err.message, new RegExp(`the host undid the change by itself.*the host ran \`ip link delete dev ${name}\``));
      assert.ok(failed.seconds <= windowMs / 1000 + 15, `the provider answered after ${failed.seconds} s`);

      // SSH works again, through the provider's own pool, and nothing of the switch is left.
      const listed = await session.run(["ip", "-j", "link", "show", "dev", host.lanParent]);
      assert.equal(JSON.parse(listed.stdout)[0].ifname, host.lanParent);
      assert.equal(await rollbacksRunning(host), "");
      assert.equal(await tokens(host), tokensBefore);
      assert.equal(await snapshotHost(host), before);
    } finally {
      await host.exec(["kill", monitor], { allowFail: true });
      await host.exec(["rm", "-f", record], { allowFail: true });
    }
  });
  it("a change whose connection dies half-way is not confirmed half made: the provider's undo fails, the host's switch undoes it when asked", async () => {
    // Far longer than the change and the ask take, even on a VM under TCG (a command 0.4-1.3 s,
    // a login 1.1-1.7 s): the host must undo it because it was asked, not because the window ended.
    const windowMs = 60_000;
    const connection = parseConnection(connectionFor(host, { commandTimeoutMs: 30_000 }), "HostShim");
    const session = hostSession(connection);
    const dead = uniqueName("dmv");
    links.push(dead);
    await host.exec(["ip", "link", "add", dead, "type", "veth", "peer", "name", `${dead}p`]);
    const name = uniqueName("dmh");
    links.push(name);
    const before = await snapshotHost(host);
    const tokensBefore = await tokens(host);
    const [add, ...rest] = createLinkSteps(
      shimMapping.persistentLink({
        connection,
        name,
        parent: dead,
        mode: "bridge",
        address: "198.51.100.246/32",
        routes: [],
        persist: false,
      }),
    );
    // Once the shim is made, the connection carrying the change (and the host lock) dies: this
    // step ends the sshd processes that serve it, as test/lab/fault-command.sh does: its sshd
    // ancestors (on the netns lab the `sshd -i` socat started; on a VM the session and its
    // monitor), never the listening daemon, whose parent is pid 1. Fresh logins still get
    // through, so only not confirming lets the host take the shim back.
    const cut = {
      argv: [
        "sh",
        "-c",
        [
          "p=$$; pids=",
          'while [ "$p" -gt 1 ]; do',
          '  c=$(cat /proc/$p/comm); up=$(cut -d" " -f4 /proc/$p/stat)',
          '  case "$c" in sshd|sshd-session) [ "$up" != 1 ] || break; pids="$pids $p";; *) [ -z "$pids" ] || break;; esac',
          "  p=$up",
          "done",
          '[ -n "$pids" ] && kill -KILL $pids',
        ].join("\n"),
      ],
    };
    const began = Date.now();
    const failed = await session
      .exclusive((run) =>
        applyStepsWithDeadman(
          run,
          freshRunner(connection),
          { target: session.target, user: connection.user, sudo: connection.sudo },
          [add, cut, ...rest],
          { windowMs, attemptMs: 3_000, settleMs: 15_000, retryPauseMs: 300 },
        ),
      )
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    const seconds = (Date.now() - began) / 1000;
    const after = await snapshotHost(host);
    const bound = windowMs / 1000;
    recordFigure({
      group: "faults",
      name: "the connection under a shim change dies half-way (the provider cannot undo it): not confirmed, the host's switch undid it",
      value: `${failed instanceof StepsFailedError ? `StepsFailedError (host ${failed.hostUndo?.outcome ?? "not asked"})` : String(failed)} in ${seconds.toFixed(1)} s; host ${after === before ? "as before" : "changed"}`,
      target: `StepsFailedError, host undone when asked, before its ${bound} s window ended; host as before`,
      ok: failed instanceof StepsFailedError && failed.hostUndo?.outcome === "undone" && seconds < bound && after === before,
    });
    assert.ok(failed instanceof StepsFailedError, String(failed));
    assert.equal(failed.undoFailures.length, 1, failed.message);
    assert.equal(failed.hostUndo?.outcome, "undone", failed.message);
    assert.match(
      failed.message,
      new RegExp(`undoing failed here too \\(\`ip link delete dev ${name}\`.*was asked to undo it: it ran its undo commands`),
    );
    assert.ok(seconds < bound, `the provider answered after ${seconds} s: the host undid it only when its window ended`);
    // The host is as it was: the shim is gone, and nothing of the switch is left.
    assert.equal(after, before);
    assert.equal(await rollbacksRunning(host), "");
    assert.equal(await tokens(host), tokensBefore);
  });
});
