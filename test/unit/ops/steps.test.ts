import { strict as assert } from "node:assert";
import { RemoteCommandError, StepsFailedError, TransportError } from "../../../provider/errors";
import { applySteps } from "../../../provider/ops/steps";
import { fakeRunner, TARGET } from "../../support/fakeRunner";

describe("ops: steps with undo", () => {
  it("runs every step in order with its stdin", async () => {
    const host = fakeRunner();
    await applySteps(host.run, [{ argv: ["a"] }, { argv: ["tee", "f"], stdin: "text" }, { argv: ["b"], undo: ["not-b"] }]);
    assert.deepEqual(host.calls, ["a", "tee f", "b"]);
    assert.deepEqual(host.stdins, [undefined, "text", undefined]);
  });

  it("undoes what was done, newest first, when a step fails, and says so", async () => {
    const host = fakeRunner((argv) => (argv[0] === "boom" ? { exitCode: 2, stderr: "File exists" } : undefined));
    await assert.rejects(
      applySteps(host.run, [
        { argv: ["one"], undo: ["undo-one"] },
        { argv: ["two"] },
        { argv: ["three"], undo: ["undo-three"] },
        { argv: ["boom"], undo: ["never"] },
      ]),
      (err: unknown) => {
        assert.ok(err instanceof StepsFailedError);
        assert.ok(err.cause instanceof RemoteCommandError);
        assert.equal(err.stepsDone, 3);
        assert.deepEqual(err.undoFailures, []);
        assert.match(err.message, /`boom` exited with 2: File exists\n\(the 3 step\(s\) already done were undone\)$/);
        return true;
      },
    );
    assert.deepEqual(host.calls, ["one", "two", "three", "boom", "undo-three", "undo-one"]);
  });

  it("keeps undoing when an undo fails, and lists what could not be undone", async () => {
    const host = fakeRunner((argv) => {
      if (argv[0] === "boom") return { exitCode: 1, stderr: "no" };
      if (argv[0] === "undo-two") return { exitCode: 1, stderr: "busy\n" };
      return undefined;
    });
    await assert.rejects(
      applySteps(host.run, [{ argv: ["one"], undo: ["undo-one"] }, { argv: ["two"], undo: ["undo-two", "a b"] }, { argv: ["boom"] }]),
      (err: unknown) => {
        assert.ok(err instanceof StepsFailedError);
        assert.deepEqual(
          err.undoFailures.map((f) => f.argv),
          [["undo-two", "a b"]],
        );
        assert.match(err.message, /undoing failed too, check the host by hand: `undo-two 'a b'`: busy\)$/);
        return true;
      },
    );
    assert.deepEqual(host.calls.slice(-2), ["undo-two a b", "undo-one"]);
  });

  it("counts an undo the transport could not run as failed", async () => {
    let calls = 0;
    const run = async (argv: readonly string[]) => {
      calls++;
      if (argv[0] === "boom") throw new Error("connection lost");
      if (argv[0] === "undo") throw new Error("still lost");
      return { exitCode: 0, stdout: "", stderr: "" };
    };
    await assert.rejects(applySteps(run, [{ argv: ["one"], undo: ["undo"] }, { argv: ["boom"] }]), (err: unknown) => {
      assert.ok(err instanceof StepsFailedError);
      assert.deepEqual(err.undoFailures, [{ argv: ["undo"], stderr: "still lost" }]);
      assert.match(err.message, /^connection lost\n/);
      return true;
    });
    assert.equal(calls, 3);
  });

  it("also undoes a step whose outcome is unknown (timed out), first, and a failure of that undo is not one", async () => {
    const calls: string[] = [];
    const run = async (argv: readonly string[]) => {
      calls.push(argv.join(" "));
      if (argv[0] === "slow") throw TransportError.commandTimedOut(TARGET, argv, 3000);
      if (argv[0] === "undo-slow") return { exitCode: 1, stdout: "", stderr: "Cannot find device" };
      return { exitCode: 0, stdout: "", stderr: "" };
    };
    await assert.rejects(
      applySteps(run, [
        { argv: ["one"], undo: ["undo-one"] },
        { argv: ["slow"], undo: ["undo-slow"] },
        { argv: ["never"], undo: ["undo-never"] },
      ]),
      (err: unknown) => {
        assert.ok(err instanceof StepsFailedError);
        assert.ok(err.cause instanceof TransportError);
        assert.equal(err.stepsDone, 1);
        assert.deepEqual(err.undoFailures, []);
        assert.match(err.message, /`slow` did not finish within 3000 ms/);
        return true;
      },
    );
    assert.deepEqual(calls, ["one", "slow", "undo-slow", "undo-one"]);
  });

  it("gives a timed-out step's own undo its input, and counts that undo as failed when the transport could not run it", async () => {
    const host = fakeRunner();
    const timedOut = async (argv: readonly string[], options?: Parameters<typeof host.run>[1]) => {
      if (argv[0] === "tee" && options?.stdin === "new") throw TransportError.commandTimedOut(TARGET, argv, 3000);
      return host.run([...argv], options);
    };
    await assert.rejects(
      applySteps(timedOut, [{ argv: ["tee", "--", "/etc/f"], stdin: "new", undo: ["tee", "--", "/etc/f"], undoStdin: "old" }]),
      StepsFailedError,
    );
    // The file is written back as it was, not emptied.
    assert.deepEqual(host.calls, ["tee -- /etc/f"]);
    assert.deepEqual(host.stdins, ["old"]);

    const gone = async (argv: readonly string[]) => {
      if (argv[0] === "add") throw TransportError.commandTimedOut(TARGET, argv, 3000);
      throw TransportError.lockLost(TARGET, argv, "its holder on the host ended");
    };
    await assert.rejects(applySteps(gone, [{ argv: ["add"], undo: ["del"] }]), (err: unknown) => {
      assert.ok(err instanceof StepsFailedError);
      assert.equal(err.stepsDone, 0);
      assert.deepEqual(
        err.undoFailures.map((f) => f.argv),
        [["del"]],
      );
      assert.match(err.message, /undoing failed too, check the host by hand: `del`: .*the host lock this change held is lost/);
      return true;
    });
  });

  it("also undoes a step the connection was lost under, but not one that never started", async () => {
    const lost = fakeRunnerThrowing(TransportError.noExitStatus(TARGET, ["add"], undefined, ""));
    await assert.rejects(applySteps(lost.run, [{ argv: ["add"], undo: ["del"] }]), StepsFailedError);
    assert.deepEqual(lost.calls, ["add", "del"]);
    const neverRan = fakeRunnerThrowing(TransportError.cannotStart(TARGET, ["add"], "open failed"));
    await assert.rejects(applySteps(neverRan.run, [{ argv: ["add"], undo: ["del"] }]), StepsFailedError);
    assert.deepEqual(neverRan.calls, ["add"]);
  });
});

/** A runner whose `add` fails with `error` and whose every other command succeeds. */
function fakeRunnerThrowing(error: Error) {
  const calls: string[] = [];
  const run = async (argv: readonly string[]) => {
    calls.push(argv.join(" "));
    if (argv[0] === "add") throw error;
    return { exitCode: 0, stdout: "", stderr: "" };
  };
  return { calls, run };
}
