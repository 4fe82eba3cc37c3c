import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { toRemoteCommand } from "../../../provider/host/command";
import {
  buildDeadmanArm,
  buildDeadmanCheck,
  buildDeadmanCleanup,
  buildRollbackScript,
  deadmanToken,
  parseDeadmanArm,
  parseDeadmanCheck,
  undoWithInput,
} from "../../../provider/host/deadman";
import { eventually, throughout } from "../../support/eventually";

describe("the dead-man switch's commands", () => {
  const token = "/run/lock/pulumi-underlay-deadman.root/deadman-00ff00ff00ff00ff";

  it("names tokens from hex only, in a directory of the login user's under /run/lock", () => {
    assert.equal(deadmanToken("root", "00ff00ff00ff00ff"), token);
    for (const bad of ["", "../../etc/passwd", "00ff 00ff", "ABCDEF12", "$(x)"])
      assert.throws(() => deadmanToken("root", bad), /must be hex/);
    for (const bad of ["", "../x", "a/b", "-x", "$(x)"]) assert.throws(() => deadmanToken(bad, "00ff00ff"), /unexpected user name/);
  });

  it("builds the rollback: wait, take the token or stop, undo newest first keeping what they print on stderr, mark it done", () => {
    const script = buildRollbackScript(token, 30, [
      ["ip", "link", "delete", "dev", "shim0"],
      ["rm", "-f", "--", "/etc/systemd/network/60-underlay-shim0.network"],
    ]);
    const t = token;
    assert.equal(
      script,
      `trap '' HUP; trap 'kill "$s" 2>/dev/null' WINCH; sleep 30 & s=$!; wait "$s"; trap '' WINCH; mv -- ${t} ${t}.undoing 2>/dev/null || exit 0; ` +
        `ip link delete dev shim0 2>>${t}.undoing >/dev/null; rm -f -- /etc/systemd/network/60-underlay-shim0.network 2>>${t}.undoing >/dev/null; ` +
        `mv -- ${t}.undoing ${t}.undone`,
    );
    assert.throws(() => buildRollbackScript(token, 0, []), /whole seconds/);
    assert.throws(() => buildRollbackScript(token, 1.5, []), /whole seconds/);
  });

  it("arms with a fixed script; the token and the rollback are positional words, quoted once more on the way", () => {
    const undos = [["ip", "link", "delete", "dev", "sh'im"]];
    const argv = buildDeadmanArm(token, 20, undos);
    assert.deepEqual(argv.slice(0, 2), ["sh", "-c"]);
    assert.match(argv[2], /^umask 077\n/);
    assert.match(
      argv[2],
      /\n\( set -C; : >"\$1" \) \|\| exit 1\nsetsid sh -c "\$2" pulumi-underlay-deadman <\/dev\/null >\/dev\/null 2>&1 &\necho "\$!"$/,
    );
    assert.deepEqual(argv.slice(3), ["sh", token, buildRollbackScript(token, 20, undos)]);
    assert.match(argv[5], /ip link delete dev 'sh'\\''im' 2>>/);
    assert.equal(parseDeadmanArm("12345\n"), 12345);
    assert.throws(() => parseDeadmanArm(""), /no pid/);
    assert.throws(() => parseDeadmanArm("1\n"), /no pid/);
  });

  it("checks and confirms with a fixed script, and reads its exit codes", () => {
    assert.deepEqual(buildDeadmanCheck(token, 4242, "confirm").slice(3), ["sh", token, "4242", "confirm"]);
    assert.deepEqual(buildDeadmanCheck(token, 4242, "status").slice(3), ["sh", token, "4242", "status"]);
    assert.deepEqual(buildDeadmanCheck(token, 4242, "undo").slice(3), ["sh", token, "4242", "undo"]);
    assert.match(buildDeadmanCheck(token, 1, "status")[2], /mv -- "\$1" "\$1\.kept".*kill -TERM "-\$2"/);
    const r = (exitCode: number, stdout = "") => ({ exitCode, stdout, stderr: "" });
    assert.deepEqual(parseDeadmanCheck(r(0)), { state: "confirmed" });
    assert.deepEqual(parseDeadmanCheck(r(3, "RTNETLINK answers: x\n")), { state: "undone", output: "RTNETLINK answers: x\n" });
    assert.deepEqual(parseDeadmanCheck(r(4)), { state: "lost" });
    assert.deepEqual(parseDeadmanCheck(r(5)), { state: "armed" });
    assert.deepEqual(parseDeadmanCheck(r(6)), { state: "undoing" });
    assert.equal(parseDeadmanCheck(r(1)), undefined);
    assert.deepEqual(buildDeadmanCleanup(token), ["rm", "-f", "--", `${token}.kept`]);
  });

  it("in a real sh: hostile words reach the undo commands byte for byte and no shell interprets them; a confirmed token stops the rollback", function () {
    this.timeout(15_000); // two rollbacks with a 1 s window each, on a loaded machine
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deadman-"));
    try {
      const canary = path.join(dir, "canary");
      const hostile = [`$(touch ${canary})`, `\`touch ${canary}\``, `;touch ${canary}`, `'"x`, "a\\b", "*", "\u202e", "-n"];
      const out = path.join(dir, "out");
      const undos = hostile.map((word) => ["sh", "-c", 'printf "%s\\n" "$1" >>"$2"', "sh", word, out]);
      const t = path.join(dir, "it's a token");
      fs.writeFileSync(t, "");
      // The rollback as the remote shell gets it: one quoted command line.
      execFileSync("sh", ["-c", toRemoteCommand(["sh", "-c", buildRollbackScript(t, 1, undos)], { sudo: false })]);
      // Undo commands ran in the order given (ops/deadman.ts passes them newest first).
      assert.deepEqual(fs.readFileSync(out, "utf8").split("\n").slice(0, -1), hostile);
      assert.equal(fs.existsSync(canary), false, "a shell interpreted an undo word");
      assert.deepEqual([fs.existsSync(t), fs.existsSync(`${t}.undone`)], [false, true]);
      // The status check reports it undone (and clears the marker).
      const status = buildDeadmanCheck(t, 999999, "status");
      const undone = (() => {
        try {
          execFileSync("sh", ["-c", toRemoteCommand(status, { sudo: false })]);
          return 0;
        } catch (e) {
          return (e as { status: number }).status;
        }
      })();
      assert.equal(undone, 3);
      // A token the provider took first: the rollback stops without running anything.
      fs.writeFileSync(t, "");
      fs.renameSync(t, `${t}.kept`);
      fs.rmSync(out);
      execFileSync("sh", ["-c", toRemoteCommand(["sh", "-c", buildRollbackScript(t, 1, undos)], { sudo: false })]);
      assert.equal(fs.existsSync(out), false, "the rollback ran after the token was taken");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in a real sh: asked to undo, a rollback armed for 60 s undoes at once, keeping only what its commands print on stderr", async function () {
    this.timeout(15_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deadman-"));
    let pid: number | undefined;
    const check = (mode: "undo" | "status") => {
      try {
        execFileSync("sh", ["-c", toRemoteCommand(buildDeadmanCheck(t, pid ?? 0, mode), { sudo: false })], { stdio: "pipe" });
        return { code: 0, stdout: "" };
      } catch (e) {
        return { code: (e as { status: number }).status, stdout: String((e as { stdout: Buffer }).stdout) };
      }
    };
    const t = path.join(dir, "deadman-00ff00ff");
    try {
      const out = path.join(dir, "out");
      const undo = ["sh", "-c", 'echo undone >"$1"; echo "the whole file"; echo "an error" >&2', "sh", out];
      const armed = execFileSync("sh", ["-c", toRemoteCommand(buildDeadmanArm(t, 60, [undo]), { sudo: false })], { stdio: "pipe" });
      pid = parseDeadmanArm(armed.toString());
      assert.equal(check("status").code, 5, "not armed");
      // Asked as the provider asks: again until it says undone (one that came before the
      // rollback set its trap is ignored).
      let seen: { code: number; stdout: string } | undefined;
      await eventually(
        async () => {
          seen = check("undo");
          assert.equal(seen.code, 3);
        },
        5_000,
        20,
      );
      assert.equal(seen?.stdout, "an error\n");
      assert.equal(fs.readFileSync(out, "utf8"), "undone\n");
      // The rollback and its sleep are gone, not left waiting out the window.
      await eventually(async () => assert.deepEqual(liveInGroup(pid ?? 0), []), 5_000, 20);
    } finally {
      // Only the rollback this test started, by its process group.
      if (pid) {
        try {
          process.kill(-pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in a real sh: signals only the process that is the token's rollback, not one that took its pid", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deadman-"));
    // A process of this test's own, in a group of its own, standing for one that took the pid.
    const other = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    try {
      const t = path.join(dir, "deadman-00ff00ff");
      fs.writeFileSync(t, "");
      const pid = other.pid ?? 0;
      execFileSync("sh", ["-c", toRemoteCommand(buildDeadmanCheck(t, pid, "confirm"), { sudo: false })], { stdio: "pipe" });
      assert.ok(fs.existsSync(`${t}.kept`), "not confirmed");
      // The confirmation's TERM to the process group would have ended it by now.
      await throughout(async () => assert.deepEqual(liveInGroup(pid), [pid]), 300);
    } finally {
      other.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in a real sh: an undo that needs input gets it byte for byte, though the rollback has no stdin", function () {
    this.timeout(10_000); // a rollback with a 1 s window, on a loaded machine
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deadman-"));
    try {
      const file = path.join(dir, "25-shim.network");
      const canary = path.join(dir, "canary");
      const old = `[Match]\nName=sh0\n$(touch ${canary}) \`x\` '"%s%n\\\n`;
      fs.writeFileSync(file, "new content");
      const t = path.join(dir, "token");
      fs.writeFileSync(t, "");
      const undo = undoWithInput(["sh", "-c", 'cat >"$1"', "sh", file], old);
      execFileSync("sh", ["-c", toRemoteCommand(["sh", "-c", buildRollbackScript(t, 1, [undo])], { sudo: false })], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      assert.equal(fs.readFileSync(file, "utf8"), old);
      assert.equal(fs.existsSync(canary), false, "a shell interpreted the input");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in a real sh: arms only in a real directory of the login user's own (not a symlink, not another user's)", function () {
    this.timeout(10_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deadman-"));
    const arm = (tokenDir: string) => {
      const t = path.join(tokenDir, "deadman-00ff00ff");
      try {
        const out = execFileSync("sh", ["-c", toRemoteCommand(buildDeadmanArm(t, 1, []), { sudo: false })], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        return { code: 0, out: out.toString(), token: fs.existsSync(t) };
      } catch (e) {
        return { code: (e as { status: number }).status, out: String((e as { stderr: Buffer }).stderr), token: fs.existsSync(t) };
      }
    };
    try {
      const own = arm(path.join(dir, "own"));
      assert.equal(own.code, 0, own.out);
      assert.ok(own.token);
      assert.equal(fs.statSync(path.join(dir, "own")).mode & 0o777, 0o700);

      fs.mkdirSync(path.join(dir, "elsewhere"));
      fs.symlinkSync(path.join(dir, "elsewhere"), path.join(dir, "link"));
      const linked = arm(path.join(dir, "link"));
      assert.deepEqual([linked.code, linked.token], [1, false]);
      assert.match(linked.out, /is not a directory of this user/);

      if (process.getuid?.() === 0) {
        fs.mkdirSync(path.join(dir, "theirs"));
        fs.chownSync(path.join(dir, "theirs"), 65534, 65534);
        const theirs = arm(path.join(dir, "theirs"));
        assert.deepEqual([theirs.code, theirs.token], [1, false]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The processes of a process group that are alive (a zombie is not), by /proc. */
function liveInGroup(pgid: number): number[] {
  const live: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // After "pid (comm) ": state, ppid, pgrp, ...
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") live.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return live;
}
