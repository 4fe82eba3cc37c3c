import { strict as assert } from "node:assert";
import { RefusalError, StepsFailedError } from "../../../provider/errors";
import { networkdFiles, type PersistentLink, systemdUnitFiles, unitName as unitNameOf } from "../../../provider/host/persistentLinks";
import {
  detectPersistMethod,
  isPersisted,
  persistSteps,
  readPersisted,
  unpersistSteps,
  updatePersistenceSteps,
} from "../../../provider/ops/persistence";
import { applySteps } from "../../../provider/ops/steps";
import { fakeRunner, TARGET } from "../../support/fakeRunner";

const vlan: PersistentLink = { kind: "vlan", name: "eth1.50", parent: "eth1", vlanId: 50 };
const NETWORK_FILE = "/etc/systemd/network/10-eth1.network";
const networkctl = JSON.stringify({ Interfaces: [{ Name: "eth1", NetworkFile: NETWORK_FILE }, { Name: "eth2" }] });

function host(opts: {
  networkd?: boolean;
  systemd?: boolean;
  files?: Record<string, string>;
  enabled?: boolean;
  networkctlFails?: boolean;
}) {
  return fakeRunner((argv) => {
    const cmd = argv.join(" ");
    if (cmd === "systemctl is-active --quiet systemd-networkd") return { exitCode: opts.networkd ? 0 : 3 };
    if (cmd === "networkctl --json=short list") return opts.networkctlFails ? { exitCode: 1 } : { stdout: networkctl };
    if (cmd === "test -d /run/systemd/system") return { exitCode: opts.systemd ? 0 : 1 };
    if (argv[0] === "cat") {
      const content = opts.files?.[argv[2]];
      return content === undefined ? { exitCode: 1, stderr: `cat: ${argv[2]}: No such file or directory` } : { stdout: content };
    }
    if (argv[1] === "is-enabled") return { exitCode: opts.enabled ? 0 : 1 };
    return undefined;
  });
}

const UNIT_PATH = "/etc/systemd/system/underlay-link-eth1.50.service";
const WANTS = "/etc/systemd/system/multi-user.target.wants/underlay-link-eth1.50.service";

/**
 * A host's files and unit state as the commands persistence runs see them, failing where the
 * real tools fail: `cat` of a missing file, `rmdir` of a missing directory, `systemctl disable`
 * of a unit whose file is gone; `fail` makes one more command fail.
 */
function filesHost(files: Record<string, string>, dirs: string[], fail?: string) {
  const state = { files: new Map(Object.entries(files)), dirs: new Set(dirs) };
  const runner = fakeRunner((argv, stdin) => {
    const cmd = argv.join(" ");
    if (cmd === fail) return { exitCode: 1, stderr: "Failed: injected" };
    const paths = argv.slice(argv.indexOf("--") + 1);
    switch (argv[0]) {
      case "cat": {
        const content = state.files.get(paths[0]);
        return content === undefined ? { exitCode: 1, stderr: `cat: ${paths[0]}: No such file or directory` } : { stdout: content };
      }
      case "tee":
        state.files.set(paths[0], stdin ?? "");
        return {};
      case "rm":
        for (const path of paths) state.files.delete(path);
        return {};
      case "mkdir":
        state.dirs.add(paths[0]);
        return {};
      case "rmdir":
        if (!state.dirs.has(paths[0])) return { exitCode: 1, stderr: `rmdir: failed to remove '${paths[0]}': No such file or directory` };
        if (![...state.files.keys()].some((f) => f.startsWith(`${paths[0]}/`))) state.dirs.delete(paths[0]);
        return {};
    }
    if (argv[0] === "systemctl") {
      const unit = `/etc/systemd/system/${argv[2]}`;
      if (argv[1] === "is-enabled") return { exitCode: state.files.has(WANTS) ? 0 : 1 };
      if (argv[1] === "enable") state.files.set(WANTS, unit);
      if (argv[1] === "disable") {
        if (!state.files.has(unit)) return { exitCode: 1, stderr: `Failed to disable unit: Unit file ${argv[2]} does not exist.` };
        state.files.delete(WANTS);
      }
      return {};
    }
    return undefined;
  });
  return Object.assign(runner, { state });
}

describe("ops: persistence", () => {
  it("picks networkd when it runs and manages the parent, else a systemd unit, else refuses", async () => {
    assert.deepEqual(await detectPersistMethod(host({ networkd: true }).run, "eth1", TARGET), {
      method: "networkd",
      parentNetworkFile: NETWORK_FILE,
    });
    assert.deepEqual(await detectPersistMethod(host({ networkd: true, systemd: true }).run, "eth2", TARGET), { method: "systemd-unit" });
    assert.deepEqual(await detectPersistMethod(host({ networkd: true, systemd: true, networkctlFails: true }).run, "eth1", TARGET), {
      method: "systemd-unit",
    });
    const noNetworkd = host({ systemd: true });
    assert.deepEqual(await detectPersistMethod(noNetworkd.run, "eth1", TARGET), { method: "systemd-unit" });
    assert.ok(!noNetworkd.calls.includes("networkctl --json=short list"));
    await assert.rejects(detectPersistMethod(host({}).run, "eth1", TARGET), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "persistUnsupported");
      assert.deepEqual(err.names, ["eth1"]);
      assert.match(err.message, /persist: true needs systemd on the host/);
      return true;
    });
  });

  it("writes networkd files (no reload) with an undo each", () => {
    const steps = persistSteps(vlan, { method: "networkd", parentNetworkFile: NETWORK_FILE });
    const files = networkdFiles(vlan, NETWORK_FILE);
    assert.deepEqual(
      steps.map((s) => [s.argv.join(" "), s.stdin, s.undo?.join(" ")]),
      [
        ["mkdir -p -- /etc/systemd/network", undefined, undefined],
        [`tee -- ${files[0].path}`, files[0].content, `rm -f -- ${files[0].path}`],
        ["mkdir -p -- /etc/systemd/network", undefined, undefined],
        [`tee -- ${files[1].path}`, files[1].content, `rm -f -- ${files[1].path}`],
        ["mkdir -p -- /etc/systemd/network/10-eth1.network.d", undefined, undefined],
        [`tee -- ${files[2].path}`, files[2].content, `rm -f -- ${files[2].path}`],
      ],
    );
  });

  it("writes and enables a unit, undoing the enable by disabling", () => {
    const [unit] = systemdUnitFiles(vlan);
    const steps = persistSteps(vlan, { method: "systemd-unit" });
    assert.deepEqual(
      steps.map((s) => [s.argv.join(" "), s.undo?.join(" ")]),
      [
        ["mkdir -p -- /etc/systemd/system", undefined],
        [`tee -- ${unit.path}`, `rm -f -- ${unit.path}`],
        ["systemctl daemon-reload", undefined],
        ["systemctl enable underlay-link-eth1.50.service", "systemctl disable underlay-link-eth1.50.service"],
      ],
    );
  });

  it("removes every trace: the unit file and its enable link, networkd drop-in directories when empty", () => {
    assert.deepEqual(
      unpersistSteps(vlan, { method: "systemd-unit" }).map((s) => s.argv.join(" ")),
      [`rm -f -- ${WANTS} ${UNIT_PATH}`, "systemctl daemon-reload"],
    );
    assert.deepEqual(
      unpersistSteps(vlan, { method: "networkd", parentNetworkFile: NETWORK_FILE }).map((s) => s.argv.join(" ")),
      [
        "rm -f -- /etc/systemd/network/60-underlay-eth1.50.netdev /etc/systemd/network/60-underlay-eth1.50.network /etc/systemd/network/10-eth1.network.d/60-underlay-eth1.50.conf",
        "mkdir -p -- /etc/systemd/network/10-eth1.network.d",
        "rmdir --ignore-fail-on-non-empty -- /etc/systemd/network/10-eth1.network.d",
      ],
    );
  });

  it("reads persisted only when every file is there byte for byte and the unit is enabled", async () => {
    const record = { method: "networkd" as const, parentNetworkFile: NETWORK_FILE };
    const files = Object.fromEntries(networkdFiles(vlan, NETWORK_FILE).map((f) => [f.path, f.content]));
    assert.equal(await isPersisted(host({ files }).run, vlan, record), true);
    const edited = { ...files, [Object.keys(files)[1]]: "edited by hand\n" };
    assert.equal(await isPersisted(host({ files: edited }).run, vlan, record), false);
    const missing = { ...files };
    delete missing[Object.keys(files)[2]];
    assert.equal(await isPersisted(host({ files: missing }).run, vlan, record), false);

    const [unit] = systemdUnitFiles(vlan);
    const unitFiles = { [unit.path]: unit.content };
    assert.equal(await isPersisted(host({ files: unitFiles, enabled: true }).run, vlan, { method: "systemd-unit" }), true);
    assert.equal(await isPersisted(host({ files: unitFiles, enabled: false }).run, vlan, { method: "systemd-unit" }), false);
  });

  it("on update removes persistence when turned off, else rewrites it for the link as it now is", async () => {
    const record = { method: "systemd-unit" as const };
    const off = await updatePersistenceSteps(host({}).run, TARGET, { link: vlan, record }, { link: vlan, persist: false });
    assert.equal(off.record, undefined);
    assert.deepEqual(off.steps, unpersistSteps(vlan, record));
    const neverOn = await updatePersistenceSteps(host({}).run, TARGET, { link: vlan, record: undefined }, { link: vlan, persist: false });
    assert.deepEqual(neverOn, { steps: [], record: undefined });
    const mtu = { ...vlan, mtu: 1400 };
    const rewrite = await updatePersistenceSteps(host({}).run, TARGET, { link: vlan, record }, { link: mtu, persist: true });
    assert.deepEqual(rewrite, { steps: persistSteps(mtu, record), record }, "nothing on the host: written as at create");
    const turnedOn = host({ systemd: true });
    const on = await updatePersistenceSteps(turnedOn.run, TARGET, { link: vlan, record: undefined }, { link: vlan, persist: true });
    assert.deepEqual(on.record, { method: "systemd-unit" });
  });

  it("a failed update writes back the files that were there and leaves an enabled unit enabled", async () => {
    const record = { method: "systemd-unit" as const };
    const [old] = systemdUnitFiles(vlan);
    const mtu = { ...vlan, mtu: 1400 };
    // Enabled: the enable is not run again, and the reload fails after the new unit is written.
    const enabled = filesHost({ [old.path]: old.content, [WANTS]: old.path }, ["/etc/systemd/system"], "systemctl daemon-reload");
    const update = await updatePersistenceSteps(enabled.run, TARGET, { link: vlan, record }, { link: mtu, persist: true });
    await assert.rejects(applySteps(enabled.run, update.steps), StepsFailedError);
    assert.equal(enabled.state.files.get(old.path), old.content, "the unit as it was");
    assert.ok(enabled.state.files.has(WANTS), "still enabled");
    assert.ok(!enabled.calls.some((c) => c.startsWith("rm ") || c.startsWith("systemctl disable")), enabled.calls.join("\n"));

    // Disabled by hand: the enable runs, fails, and the undo puts the old unit back.
    const disabled = filesHost({ [old.path]: old.content }, ["/etc/systemd/system"], `systemctl enable ${unitNameOf(vlan)}`);
    const again = await updatePersistenceSteps(disabled.run, TARGET, { link: vlan, record }, { link: mtu, persist: true });
    await assert.rejects(applySteps(disabled.run, again.steps), StepsFailedError);
    assert.equal(disabled.state.files.get(old.path), old.content);
    assert.ok(!disabled.calls.some((c) => c.startsWith("rm ")), disabled.calls.join("\n"));

    // Unchanged files are not written at all.
    const same = filesHost({ [old.path]: old.content, [WANTS]: old.path }, ["/etc/systemd/system"]);
    assert.deepEqual(persistSteps(vlan, record, await readPersisted(same.run, vlan, record)), []);
  });

  it("removes persistence that is already partly or wholly gone by hand", async () => {
    const [unit] = systemdUnitFiles(vlan);
    for (const files of [{}, { [unit.path]: unit.content }, { [WANTS]: unit.path }]) {
      const h = filesHost(files, ["/etc/systemd/system"]);
      await applySteps(h.run, unpersistSteps(vlan, { method: "systemd-unit" }));
      assert.deepEqual([...h.state.files.keys()], []);
    }
    const networkd = { method: "networkd" as const, parentNetworkFile: NETWORK_FILE };
    const dropIn = "/etc/systemd/network/10-eth1.network.d";
    const all = Object.fromEntries(networkdFiles(vlan, NETWORK_FILE).map((f) => [f.path, f.content]));
    for (const [files, dirs] of [
      [{}, ["/etc/systemd/network"]],
      [all, ["/etc/systemd/network", dropIn]],
      [{ [`${dropIn}/other.conf`]: "x" }, ["/etc/systemd/network", dropIn]],
    ] as const) {
      const h = filesHost(files, [...dirs]);
      await applySteps(h.run, unpersistSteps(vlan, networkd));
      const otherKept = `${dropIn}/other.conf` in files;
      assert.deepEqual([...h.state.files.keys()], otherKept ? [`${dropIn}/other.conf`] : []);
      assert.equal(h.state.dirs.has(dropIn), otherKept, "the drop-in directory goes when empty, stays when not");
    }
  });
});
