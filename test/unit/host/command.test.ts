import { strict as assert } from "node:assert";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HOST_TIMEOUT_EXIT_CODES, hostDeadlineMs, quoteWord, toRemoteCommand } from "../../../provider/host/command";
import { buildLockHolder, HOST_LOCK_BUSY_EXIT, HOST_LOCK_HEARTBEAT, HOST_LOCK_PATH } from "../../../provider/host/hostLock";
import { eventually, throughout } from "../../support/eventually";

describe("command quoting", () => {
  it("leaves safe words alone and single-quotes the rest", () => {
    assert.equal(quoteWord("eth0.50"), "eth0.50");
    assert.equal(quoteWord("parent=eth1"), "parent=eth1");
    assert.equal(quoteWord("a b"), "'a b'");
    assert.equal(quoteWord("it's"), "'it'\\''s'");
    assert.equal(quoteWord(""), "''");
  });

  it("survives a real POSIX shell byte for byte", () => {
    const nasty = ["$(touch /tmp/pwned)", "`id`", "a;b", "x'y\"z", "new\nline", "*", "~root", "-rf", "\\", "${HOME}"];
    const command = toRemoteCommand(["printf", "%s\\0", ...nasty], { sudo: false });
    const out = execFileSync("sh", ["-c", command]).toString("utf8");
    assert.deepEqual(out.split("\0").slice(0, -1), nasty);
  });

  it("prefixes sudo -n and pins the locale", () => {
    assert.equal(toRemoteCommand(["ip", "-j", "link"], { sudo: true }), "env LC_ALL=C sudo -n -- ip -j link");
  });

  it("wraps the command in timeout outside sudo, so sudoers rules name the same programs", () => {
    assert.equal(
      toRemoteCommand(["ip", "-j", "link"], { sudo: true, hostDeadlineMs: 2400 }),
      "env LC_ALL=C timeout -k 1 2.4 sudo -n -- ip -j link",
    );
    assert.equal(toRemoteCommand(["sleep", "9"], { sudo: false, hostDeadlineMs: 299_000 }), "env LC_ALL=C timeout -k 1 299 sleep 9");
  });

  it("has the host end a command before the client gives up on it", () => {
    assert.equal(hostDeadlineMs(3000), 2400);
    assert.equal(hostDeadlineMs(1000), 800);
    assert.equal(hostDeadlineMs(300_000), 299_000);
  });

  it("lets the host's timeout really end a command, with a status the client reads as a timeout", () => {
    const command = toRemoteCommand(["sleep", "30"], { sudo: false, hostDeadlineMs: 200 });
    const started = Date.now();
    const result = spawnSync("sh", ["-c", command]);
    assert.ok(Date.now() - started < 5000, "sleep 30 ran on past its deadline");
    assert.ok(HOST_TIMEOUT_EXIT_CODES.has(result.status ?? -1), `exit ${result.status}`);
  });

  it("refuses NUL bytes and empty commands", () => {
    assert.throws(() => quoteWord("a\0b"), /NUL/);
    assert.throws(() => toRemoteCommand([], { sudo: false }), /empty/);
  });
});

describe("host lock holder", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ulock-"));
  const lock = path.join(dir, "pulumi-underlay");
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("locks a directory under /run/lock, without sudo and without a host deadline", () => {
    const command = toRemoteCommand(buildLockHolder(2400, 10_000), { sudo: false });
    assert.ok(command.includes(HOST_LOCK_PATH));
    assert.ok(!command.includes("sudo") && !command.startsWith("env LC_ALL=C timeout"), command);
  });

  it("makes the directory, says when it holds the lock, and holds it until its input ends", () => {
    const result = spawnSync("sh", ["-c", toRemoteCommand(buildLockHolder(1000, 10_000, lock), { sudo: false })], { input: "" });
    assert.equal(result.status, 0, result.stderr.toString());
    assert.equal(result.stdout.toString(), "locked\n");
    assert.ok(fs.statSync(lock).isDirectory());
  });

  it("gives up with its own exit status when another holder keeps the lock past the wait", () => {
    fs.mkdirSync(lock, { recursive: true });
    // The outer flock holds the lock for as long as the holder inside it waits for it.
    const result = spawnSync("flock", [lock, "sh", "-c", toRemoteCommand(buildLockHolder(1000, 10_000, lock), { sudo: false })], {
      input: "",
    });
    assert.equal(result.status, HOST_LOCK_BUSY_EXIT, result.stderr.toString());
    assert.equal(result.stdout.toString(), "");
  });

  it("holds the lock while heartbeats come, and frees it once they stop with its input still open", async function () {
    this.timeout(20_000);
    const holder = spawn("sh", ["-c", toRemoteCommand(buildLockHolder(1000, 2000, lock), { sudo: false })], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => holder.once("exit", (code) => resolve(code)));
    const isFree = () => spawnSync("flock", ["-n", lock, "true"]).status === 0;
    try {
      await eventually(async () => assert.equal(isFree(), false, "the holder has not taken the lock"), 5_000, 20);
      // Twice the 2 s silence, with a heartbeat every 200 ms: held all along.
      const beat = setInterval(() => holder.stdin.write(HOST_LOCK_HEARTBEAT), 200);
      try {
        await throughout(() => assert.equal(isFree(), false, "the lock was freed while heartbeats came"), 4_000);
      } finally {
        clearInterval(beat);
      }
      // The heartbeats stop; the input stays open, as a vanished client's connection does.
      await eventually(async () => assert.ok(isFree(), "the lock is still held with no heartbeat"), 10_000, 50);
      assert.equal(await exited, 0);
    } finally {
      holder.kill();
    }
  });
});
