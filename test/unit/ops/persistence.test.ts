import { strict as assert } from "node:assert";
import { RefusalError } from "../../../provider/errors";
import { networkdFiles, type PersistentLink, systemdUnitFiles } from "../../../provider/host/persistentLinks";
import { detectPersistMethod, isPersisted, persistSteps, unpersistSteps, updatePersistenceSteps } from "../../../provider/ops/persistence";
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
      return content === undefined ? { exitCode: 1, stderr: "No such file" } : { stdout: content };
    }
    if (argv[1] === "is-enabled") return { exitCode: opts.enabled ? 0 : 1 };
    return undefined;
  });
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

  it("removes every trace: the unit disabled first, networkd drop-in directories when empty", () => {
    assert.deepEqual(
      unpersistSteps(vlan, { method: "systemd-unit" }).map((s) => s.argv.join(" ")),
      [
        "systemctl disable underlay-link-eth1.50.service",
        "rm -f -- /etc/systemd/system/underlay-link-eth1.50.service",
        "systemctl daemon-reload",
      ],
    );
    assert.deepEqual(
      unpersistSteps(vlan, { method: "networkd", parentNetworkFile: NETWORK_FILE }).map((s) => s.argv.join(" ")),
      [
        "rm -f -- /etc/systemd/network/60-underlay-eth1.50.netdev /etc/systemd/network/60-underlay-eth1.50.network /etc/systemd/network/10-eth1.network.d/60-underlay-eth1.50.conf",
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
    assert.deepEqual(rewrite, { steps: persistSteps(mtu, record), record });
    const turnedOn = host({ systemd: true });
    const on = await updatePersistenceSteps(turnedOn.run, TARGET, { link: vlan, record: undefined }, { link: vlan, persist: true });
    assert.deepEqual(on.record, { method: "systemd-unit" });
  });
});
