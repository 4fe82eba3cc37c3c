import { strict as assert } from "node:assert";
import { RefusalError } from "../../../provider/errors";
import { deleteOwnLink, requireNewLink } from "../../../provider/ops/links";
import { fakeRunner, linksJson, TARGET } from "../../support/fakeRunner";

const noDevice = { exitCode: 1, stderr: 'Device "x" does not exist.' };

function hostWith(links: Parameters<typeof linksJson>[0]) {
  return fakeRunner((argv) => {
    if (argv[0] !== "ip" || argv[4] !== "show") return undefined;
    if (argv.length === 5) return { stdout: linksJson(links) };
    const found = links.filter((l) => l.name === argv[argv.length - 1]);
    return found.length ? { stdout: linksJson(found) } : noDevice;
  });
}

describe("ops: owned links", () => {
  it("returns the parent of a new link", async () => {
    const { parent } = await requireNewLink(hostWith([{ name: "eth1", mtu: 9000 }]).run, TARGET, "shim0", "eth1");
    assert.equal(parent.name, "eth1");
    assert.equal(parent.mtu, 9000);
  });

  it("refuses a name that is taken and a parent that is missing, by type and name", async () => {
    await assert.rejects(requireNewLink(hostWith([{ name: "eth1" }, { name: "shim0" }]).run, TARGET, "shim0", "eth1"), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "nameTaken");
      assert.deepEqual(err.names, ["shim0"]);
      assert.equal(err.message, `${TARGET}: interface "shim0" already exists; remove it or choose another name`);
      return true;
    });
    await assert.rejects(requireNewLink(hostWith([{ name: "eth1" }, { name: "shim0" }]).run, TARGET, "shim1", "eth9"), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "parentMissing");
      assert.deepEqual(err.names, ["eth9"]);
      assert.match(err.message, /it has: eth1, shim0\); set parent to one of those/);
      return true;
    });
  });

  it("deletes its own link after the steps that come first", async () => {
    const host = hostWith([{ name: "shim0", kind: "macvlan" }]);
    await deleteOwnLink(host.run, TARGET, "shim0", "macvlan", [{ argv: ["rm", "-f", "--", "/etc/x"] }]);
    assert.deepEqual(host.calls, ["ip -j -d link show dev shim0", "rm -f -- /etc/x", "ip link delete dev shim0"]);
  });

  it("counts a link already gone as deleted, still removing what comes first", async () => {
    const host = hostWith([]);
    await deleteOwnLink(host.run, TARGET, "shim0", "macvlan", [{ argv: ["rm", "-f", "--", "/etc/x"] }]);
    assert.deepEqual(host.calls, ["ip -j -d link show dev shim0", "rm -f -- /etc/x"]);
  });

  it("leaves alone a link that is now of another kind", async () => {
    const host = hostWith([{ name: "shim0", kind: "vlan" }]);
    await assert.rejects(deleteOwnLink(host.run, TARGET, "shim0", "macvlan", [{ argv: ["rm", "x"] }]), (err: unknown) => {
      assert.ok(err instanceof RefusalError);
      assert.equal(err.kind, "notOurs");
      assert.match(err.message, /"shim0" is now a vlan link, not the macvlan link this resource made; not deleting it/);
      return true;
    });
    await assert.rejects(deleteOwnLink(hostWith([{ name: "shim0" }]).run, TARGET, "shim0", "macvlan", []), /now a plain link/);
    assert.deepEqual(host.calls, ["ip -j -d link show dev shim0"]);
  });
});
