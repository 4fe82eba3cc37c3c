// The dead-man switch's decisions (ops/deadman.ts) against a fake host: when it arms, what it
// confirms, and what it reports when the host is cut off. The host's side (the scripts really
// running, the rollback firing, the session really cut) is proven on the lab
// (test/integration/deadman.test.ts).

import { strict as assert } from "node:assert";
import { DeadmanError, StepsFailedError, TransportError } from "../../../provider/errors";
import type { Argv, CommandResult } from "../../../provider/host/command";
import { applyStepsWithDeadman, type DeadmanOptions } from "../../../provider/ops/deadman";
import type { HostStep } from "../../../provider/ops/steps";
import { fakeRunner, TARGET } from "../../support/fakeRunner";

const HOST = { target: TARGET, user: "root", sudo: false };

import { ed25519KeyPair } from "../../support/keys";
import { assertSafeMessage } from "../../support/safeMessage";

const FAST: DeadmanOptions = { windowMs: 1_000, attemptMs: 200, settleMs: 2_000, retryPauseMs: 20 };

const STEPS: HostStep[] = [
  { argv: ["ip", "link", "add", "shim0"], undo: ["ip", "link", "delete", "dev", "shim0"] },
  { argv: ["ip", "address", "add", "198.51.100.250/32", "dev", "shim0"] },
  { argv: ["tee", "/etc/x"], stdin: "text", undo: ["rm", "-f", "--", "/etc/x"] },
];

const isArm = (argv: readonly string[]) => argv[0] === "sh" && argv[2].includes("setsid");

/** A fresh-login runner answering with `answer`, recording the mode of each check. */
function freshLogins(answer: (mode: string, attempt: number) => Promise<Partial<CommandResult>>) {
  const modes: string[] = [];
  const fresh = async (argv: Argv): Promise<CommandResult> => {
    modes.push(argv[6]);
    const given = await answer(argv[6], modes.length);
    return { exitCode: given.exitCode ?? 0, stdout: given.stdout ?? "", stderr: "" };
  };
  return { fresh, modes };
}

describe("ops: the dead-man switch", () => {
  it("arms with the undo commands newest first, runs the steps, confirms on a fresh login, and cleans up", async () => {
    const host = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    const logins = freshLogins(async () => ({ exitCode: 0 }));
    const armed = await applyStepsWithDeadman(host.run, logins.fresh, HOST, STEPS, FAST);
    assert.ok(armed);
    assert.equal(armed.pid, 4242);
    assert.match(armed.token, /^\/run\/lock\/pulumi-underlay-deadman\.root\/deadman-[0-9a-f]{16}$/);
    assert.equal(host.calls.length, 5);
    assert.match(host.calls[0], /sleep 1 & .*; rm -f -- \/etc\/x 2>>\S+ >\/dev\/null; ip link delete dev shim0 2>>/);
    assert.deepEqual(host.calls.slice(1, 4), ["ip link add shim0", "ip address add 198.51.100.250/32 dev shim0", "tee /etc/x"]);
    assert.equal(host.calls[4], `rm -f -- ${armed.token}.kept`);
    // The switch's own commands run as the login user; the steps as the connection says.
    assert.deepEqual(host.asLoginUser, [true, false, false, false, true]);
    assert.deepEqual(logins.modes, ["confirm"]);
  });

  it("under sudo: the rollback runs as the login user and each undo command goes through sudo -n, input included", async () => {
    const host = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    const logins = freshLogins(async () => ({ exitCode: 0 }));
    const steps: HostStep[] = [
      { argv: ["ip", "link", "add", "shim0"], undo: ["ip", "link", "delete", "dev", "shim0"] },
      { argv: ["tee", "/etc/x"], stdin: "new", undo: ["tee", "/etc/x"], undoStdin: "old" },
    ];
    const armed = await applyStepsWithDeadman(host.run, logins.fresh, { target: TARGET, user: "ops", sudo: true }, steps, FAST);
    assert.ok(armed);
    assert.match(armed.token, /^\/run\/lock\/pulumi-underlay-deadman\.ops\/deadman-/);
    assert.equal(host.asLoginUser[0], true);
    assert.match(
      host.calls[0],
      /sleep 1 & .*sh -c 'input=\$1; shift; printf %s "\$input" \| "\$@"' sh old sudo -n -- tee \/etc\/x 2>>\S+ >\/dev\/null; sudo -n -- ip link delete dev shim0 2>>/,
    );
  });

  it("does not arm steps with nothing to undo", async () => {
    const host = fakeRunner();
    const logins = freshLogins(async () => ({ exitCode: 0 }));
    assert.equal(await applyStepsWithDeadman(host.run, logins.fresh, HOST, [{ argv: ["ip", "link", "set", "x", "up"] }], FAST), undefined);
    assert.deepEqual(host.calls, ["ip link set x up"]);
    assert.deepEqual(logins.modes, []);
  });

  it("keeps trying fresh logins through the window, and reports the host's own undo with the last failure seen", async () => {
    const host = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    const logins = freshLogins(async (_mode, attempt) => {
      if (attempt < 3) throw TransportError.noSession(TARGET, 200);
      return { exitCode: 3, stdout: "RTNETLINK answers: No such device\n" };
    });
    await assert.rejects(applyStepsWithDeadman(host.run, logins.fresh, HOST, STEPS, FAST), (err: unknown) => {
      assert.ok(err instanceof DeadmanError, String(err));
      assert.equal(err.outcome, "undone");
      assert.deepEqual(err.undos, [
        ["rm", "-f", "--", "/etc/x"],
        ["ip", "link", "delete", "dev", "shim0"],
      ]);
      assert.match(
        err.message,
        /^ssh:\/\/root@198\.51\.100\.11:22: the host undid the change by itself: .* within the 1 s dead-man window \(ssh:\/\/root@198\.51\.100\.11:22: no SSH session within 200 ms\), so the host ran `rm -f -- \/etc\/x`, `ip link delete dev shim0` \(they printed: RTNETLINK answers: No such device\)/,
      );
      return true;
    });
    assert.deepEqual(logins.modes, ["confirm", "confirm", "confirm"]);
  });

  it("gives each login after one that ran out of time twice the time, up to four times the first: a host slower than one attempt still confirms", async function () {
    this.timeout(20_000);
    const host = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    // A login and the check take 300 ms here, longer than the first attempt's 200 ms.
    const deadlines: number[] = [];
    const slow = async (argv: Argv, deadlineMs: number): Promise<CommandResult> => {
      deadlines.push(deadlineMs);
      await new Promise((resolve) => setTimeout(resolve, Math.min(300, deadlineMs)));
      if (deadlineMs < 300) throw TransportError.noSession(TARGET, deadlineMs);
      return { exitCode: argv[6] === "confirm" ? 0 : 2, stdout: "", stderr: "" };
    };
    const armed = await applyStepsWithDeadman(host.run, slow, HOST, STEPS, { ...FAST, windowMs: 2_000, settleMs: 5_000 });
    assert.ok(armed);
    assert.deepEqual(deadlines, [200, 400]);

    // Never more than four times the first attempt's deadline.
    const never = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    deadlines.length = 0;
    const silent = async (_argv: Argv, deadlineMs: number): Promise<CommandResult> => {
      deadlines.push(deadlineMs);
      await new Promise((resolve) => setTimeout(resolve, deadlineMs));
      throw TransportError.noSession(TARGET, deadlineMs);
    };
    await assert.rejects(applyStepsWithDeadman(never.run, silent, HOST, STEPS, { ...FAST, settleMs: 2_500 }), DeadmanError);
    assert.deepEqual(deadlines.slice(0, 4), [200, 400, 800, 800]);

    // A login refused at once says nothing about the host's speed: the next one keeps 200 ms.
    const refusing = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    deadlines.length = 0;
    const refused = async (_argv: Argv, deadlineMs: number): Promise<CommandResult> => {
      deadlines.push(deadlineMs);
      throw TransportError.cannotConnect(TARGET, "connect ECONNREFUSED");
    };
    await assert.rejects(applyStepsWithDeadman(refusing.run, refused, HOST, STEPS, { ...FAST, settleMs: 200 }), DeadmanError);
    assert.ok(deadlines.length >= 3, `${deadlines.length} attempts`);
    assert.ok(
      deadlines.every((d) => d <= 200),
      String(deadlines),
    );
  });

  it("never confirms steps still running when the window ends: it stops them and waits for the host's undo", async function () {
    this.timeout(10_000);
    let release: (() => void) | undefined;
    const run = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    const hanging = async (argv: Argv, options?: Parameters<typeof run.run>[1]) => {
      if (argv[0] === "ip" && argv[1] === "address") {
        // The answer of the step that cut the session comes back only after the window.
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      }
      return run.run(argv, options);
    };
    const logins = freshLogins(async (mode) => {
      // Let the stuck step's answer arrive while the provider is asking how it ended.
      release?.();
      return mode === "status" ? { exitCode: 3 } : { exitCode: 0 };
    });
    await assert.rejects(applyStepsWithDeadman(hanging, logins.fresh, HOST, STEPS, FAST), (err: unknown) => {
      assert.ok(err instanceof DeadmanError, String(err));
      assert.equal(err.outcome, "undone");
      assert.match(err.message, /its commands did not finish within the window/);
      return true;
    });
    assert.deepEqual(logins.modes, ["status"]);
    await new Promise((resolve) => setImmediate(resolve));
    // The step after the late answer never ran, nor did any undo from the provider's side.
    assert.deepEqual(run.calls.slice(1), ["ip link add shim0", "ip address add 198.51.100.250/32 dev shim0"]);
  });

  it("reports the host silent after the window as unconfirmed, and a step's own failure as applySteps does", async () => {
    const host = fakeRunner((argv) => (isArm(argv) ? { stdout: "4242\n" } : undefined));
    const silent = freshLogins(async () => {
      throw TransportError.cannotConnect(TARGET, "connect ECONNREFUSED");
    });
    await assert.rejects(
      applyStepsWithDeadman(host.run, silent.fresh, HOST, STEPS, { ...FAST, settleMs: 200 }),
      (err: unknown) =>
        err instanceof DeadmanError && err.outcome === "unconfirmed" && /ECONNREFUSED.*still does not answer/.test(err.message),
    );

    const failing = fakeRunner((argv) =>
      isArm(argv) ? { stdout: "4242\n" } : argv[0] === "tee" ? { exitCode: 1, stderr: "Read-only file system" } : undefined,
    );
    const logins = freshLogins(async () => ({ exitCode: 0 }));
    await assert.rejects(applyStepsWithDeadman(failing.run, logins.fresh, HOST, STEPS, FAST), (err: unknown) => {
      assert.ok(err instanceof StepsFailedError, String(err));
      return true;
    });
    // Disarmed after applySteps' own undo, so the host does not undo twice.
    assert.deepEqual(logins.modes, ["confirm"]);
    assert.deepEqual(failing.calls.slice(-2, -1), ["ip link delete dev shim0"]);
  });

  /** A step that timed out on a connection the host then lost, so applySteps' undo fails too. */
  function lostMidway() {
    let lost = false;
    return fakeRunner((argv) => {
      if (isArm(argv)) return { stdout: "4242\n" };
      if (argv[1] === "address") lost = true;
      if (lost) throw TransportError.commandTimedOut(TARGET, argv, 3000);
      return undefined;
    });
  }

  it("does not confirm a failed change whose own undo failed: it asks the host's switch to undo it now, and the error says so", async function () {
    this.timeout(10_000);
    const cut = lostMidway();
    const asked: number[] = [];
    const logins = freshLogins(async (mode, attempt) => {
      asked.push(Date.now());
      if (mode !== "undo") return { exitCode: 0 };
      // Woken by the first ask, the switch runs its undo commands; the second ask finds them done.
      return attempt === 1 ? { exitCode: 6 } : { exitCode: 3, stdout: 'Cannot find device "shim0"\n' };
    });
    const started = Date.now();
    await assert.rejects(applyStepsWithDeadman(cut.run, logins.fresh, HOST, STEPS, FAST), (err: unknown) => {
      assert.ok(err instanceof StepsFailedError, String(err));
      assert.deepEqual(err.hostUndo, { outcome: "undone", windowSeconds: 1, output: 'Cannot find device "shim0"\n' });
      assert.match(err.message, /did not finish within 3000 ms/);
      assert.match(err.message, /undoing failed here too \(`ip link delete dev shim0`: /);
      assert.match(
        err.message,
        /the host's dead-man switch was asked to undo it: it ran its undo commands; they printed: Cannot find device "shim0"/,
      );
      assertSafeMessage(err.message);
      return true;
    });
    // Never confirmed (that would have kept shim0 without its address), and asked to undo at
    // once, not left waiting for the window's end.
    assert.deepEqual(logins.modes, ["undo", "undo"]);
    assert.ok(asked[1] - started < FAST.windowMs, `done ${asked[1] - started} ms after the start, not within the window`);

    // The host never says it ran them: still armed until the provider stops asking, its token
    // gone, or an answer the check does not know; the step's failure is reported either way.
    const answers: [number, RegExp][] = [
      [5, /the host answered; its switch had not fired yet/],
      [4, /the switch's token .* is gone from the host \(an answer that said how it ended was lost, or the host rebooted\)/],
      [1, /the host's answer to the check was not understood: it exited with 1/],
    ];
    for (const [exitCode, why] of answers) {
      const asking = freshLogins(async () => ({ exitCode }));
      await assert.rejects(
        applyStepsWithDeadman(lostMidway().run, asking.fresh, HOST, STEPS, { ...FAST, settleMs: 200 }),
        (err: unknown) => {
          assert.ok(err instanceof StepsFailedError, String(err));
          assert.equal(err.hostUndo?.outcome, "unconfirmed");
          assert.match(err.message, /did not finish within 3000 ms/);
          assert.match(
            err.message,
            /was asked to undo it, as it also does by itself when its 1 s window ends; the host did not say it had \(/,
          );
          assert.match(err.message, why);
          assert.match(err.message, /\), check the host by hand\)$/);
          return true;
        },
      );
      assert.ok(!asking.modes.includes("confirm"), String(exitCode));
    }
  });

  it("does not confirm a first step that timed out when its own undo could not run either", async function () {
    this.timeout(10_000);
    let lost = false;
    const host = fakeRunner((argv) => {
      if (isArm(argv)) return { stdout: "4242\n" };
      if (argv[1] === "link") lost = true;
      if (lost) throw TransportError.commandTimedOut(TARGET, argv, 3000);
      return undefined;
    });
    const logins = freshLogins(async (mode) => (mode === "undo" ? { exitCode: 3 } : { exitCode: 0 }));
    await assert.rejects(applyStepsWithDeadman(host.run, logins.fresh, HOST, STEPS, FAST), (err: unknown) => {
      assert.ok(err instanceof StepsFailedError, String(err));
      assert.equal(err.stepsDone, 0);
      assert.equal(err.hostUndo?.outcome, "undone");
      return true;
    });
    assert.deepEqual(logins.modes, ["undo"]);
  });

  it("says what the host printed and why, escaped, bounded, with no key material, and the first few undo commands", () => {
    const key = ed25519KeyPair().private;
    const undos = Array.from({ length: 40 }, (_, i) => ["ip", "route", "add", `198.51.100.${i}/32`, "dev", "shim\u202e0"]);
    const err = new DeadmanError(
      TARGET,
      "undone",
      30,
      `peer said \u202e${key}`,
      undos,
      `RTNETLINK answers: x\u0007\n${key}\n${"y".repeat(5000)}`,
    );
    assertSafeMessage(err.message, [key]);
    assert.match(
      err.message,
      /the host ran `ip route add 198\.51\.100\.0\/32 dev 'shim\\u202e0'`, .*, and 36 more \(they printed: RTNETLINK answers: x\\u0007/,
    );
  });
});
