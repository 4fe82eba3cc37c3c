// Hardening on a lab host (issue 10): a link that took a shim's name is never deleted; a shim
// whose routes would capture the SSH session is refused; hostile label values that check()
// accepts arrive byte for byte (as JSON to the Engine API); and the values that do reach a shell
// (a shim's name, parent, address and routes, on the `ip` command lines) are only ever safe
// forms, which arrive byte for byte, while no shell interprets anything; and every generated
// hostile value check() accepts for a link's fields arrives on the host as one argv element.

import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { InputValidationError } from "../../provider/errors";
import { findSessionPath } from "../../provider/ops/sessionPath";
import { type HostShimState, hostShimProvider } from "../../provider/resources/link/hostShim";
import { macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { parseConnection } from "../../provider/ssh/connection";
import { hostSession } from "../../provider/ssh/pool";
import type { Lab, LabHost } from "../lab/types";
import { recordFigure } from "../support/figures";
import { CANARY, fieldOf, hostileNumber, hostileString, RESOURCES, valueAt, withField } from "../support/hostileInputs";
import { connectionFor, lab, refused, snapshotHost, uniqueName } from "./fixture";

describe("hardening on a lab host", function () {
  this.timeout(180_000);
  let theLab: Lab;
  let host: LabHost;
  const links: string[] = [];
  const networks: string[] = [];

  before(async function () {
    this.timeout(600_000);
    theLab = await lab();
    host = theLab.hosts[0];
  });

  afterEach(async () => {
    for (const n of networks.splice(0)) await host.docker(["network", "rm", n], { allowFail: true });
    for (const l of links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
  });

  async function createShim(name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; outs: HostShimState }> {
    links.push(name);
    const checked = await hostShimProvider.check(
      {},
      { connection: connectionFor(host), name, parent: host.lanParent, address: "198.51.100.249/32", routes: [], ...extra },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    const created = await hostShimProvider.create(checked.inputs);
    assert.ok(created.outs);
    return { id: created.id, outs: created.outs };
  }

  async function linkJson(name: string): Promise<{ ifindex: number; address: string; link?: string; linkinfo?: { info_kind: string } }> {
    return JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", name])).stdout)[0];
  }

  it("refuses to delete another macvlan link that took the shim's name, naming what differs, and leaves it", async () => {
    const name = uniqueName("shim");
    const shim = await createShim(name);
    const ours = await linkJson(name);
    assert.deepEqual(shim.outs.identity, { kind: "macvlan", parent: host.lanParent, macAddress: ours.address, ifindex: ours.ifindex });
    // Someone removes the shim and makes their own macvlan link of that name on another parent.
    const other = uniqueName("vp");
    links.push(other);
    await host.exec(["ip", "link", "add", other, "type", "veth", "peer", "name", `${other}b`]);
    await host.exec(["ip", "link", "delete", "dev", name]);
    await host.exec(["ip", "link", "add", "link", other, "name", name, "type", "macvlan", "mode", "bridge"]);
    const theirs = await linkJson(name);
    // The MAC may be the same: systemd's MACAddressPolicy=persistent (the VM lab's Debian) derives
    // a virtual link's MAC from its name. The parent and the ifindex still tell the links apart.
    const macDiffers = ours.address !== theirs.address ? `.*MAC "${ours.address}" when made, now "${theirs.address}"` : "";
    const text = new RegExp(
      `parent "${host.lanParent}" when made, now "${other}"${macDiffers}.*ifindex ${ours.ifindex} when made, now ${theirs.ifindex}`,
    );
    await assert.rejects(hostShimProvider.delete(shim.id, shim.outs), refused("notOurs", [name], text));
    const after = await linkJson(name);
    assert.deepEqual(
      [after.ifindex, after.address, after.link],
      [theirs.ifindex, theirs.address, other],
      "delete touched someone else's link",
    );
    // Once it is gone, delete succeeds (nothing of ours is left).
    await host.exec(["ip", "link", "delete", "dev", name]);
    await hostShimProvider.delete(shim.id, shim.outs);
  });

  it("finds the SSH session's own path on the host, and refuses a shim whose route would capture it", async () => {
    const connection = parseConnection(connectionFor(host), "HostShim");
    const path = await hostSession(connection).exclusive((run) => findSessionPath(run));
    assert.ok(path, "no session path found on the lab host");
    if (path.route.type === "local") {
      // The netns lab forwards 127.0.0.1:<port> into `sshd -i` in the host's namespace, so the
      // peer is the host's own loopback address, which no route a link adds can capture; there
      // the capture is proven by the unit tests. On the VM lab the session arrives over the
      // guest's eth0 (qemu's user network), and the refusal is proven below.
      assert.equal(path.peer, "127.0.0.1");
      assert.equal(path.route.dev, "lo");
      return;
    }
    const before = await snapshotHost(host);
    const name = uniqueName("shim");
    links.push(name);
    const checked = await hostShimProvider.check(
      {},
      { connection: connectionFor(host), name, parent: host.lanParent, address: "198.51.100.249/32", routes: [`${path.peer}/32`] },
    );
    await assert.rejects(hostShimProvider.create(checked.inputs), refused("cutsSession", [name], new RegExp(`route ${path.peer}/32`)));
    assert.equal(await snapshotHost(host), before);
  });

  it("creates a network with hostile label values check() accepts; they read back byte for byte", async () => {
    // Labels travel as JSON in the Engine API request, never through a shell: what matters
    // is that Docker keeps each value exactly.
    const file = "/tmp/underlay-lab-label";
    const values = [
      `$(touch ${file})`,
      `\`touch ${file}\``,
      `;touch ${file}`,
      `'"$(touch ${file})"'`,
      "it's",
      "a\\b",
      "*",
      "~root",
      "-rf",
      "--help",
      "k=v=w",
      "${HOME}",
      "\u202eevil",
      "еth1",
      "😀 grapheme",
      "\u00a0nbsp",
      " lead and trail ",
      "",
      "x".repeat(4000),
    ];
    const labels = Object.fromEntries(values.map((v, i) => [`com.example.l${i}`, v]));
    const name = uniqueName("hl");
    networks.push(name);
    const checked = await macvlanNetworkProvider.check(
      {},
      { connection: connectionFor(host), name, parent: host.lanParent, subnet: "203.0.113.0/28", labels },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    await macvlanNetworkProvider.create(checked.inputs);
    const inspected = JSON.parse((await host.docker(["network", "inspect", name])).stdout)[0];
    const whole = Object.entries(labels).filter(([k, v]) => Buffer.from(inspected.Labels[k] ?? "<missing>").equals(Buffer.from(v))).length;
    recordFigure({
      group: "hostile input",
      name: "hostile label values check() accepts, read back byte for byte on the lab host (docker network inspect)",
      value: `${whole}/${values.length}`,
      target: `${values.length}/${values.length}`,
      ok: whole === values.length,
    });
    for (const [k, v] of Object.entries(labels)) {
      assert.deepEqual(Buffer.from(inspected.Labels[k] ?? "<missing>"), Buffer.from(v), `label ${k} did not read back byte for byte`);
    }
  });

  it("lets only safe forms of a shim's name, parent, address and routes reach the shell; they arrive byte for byte and no shell ran", async () => {
    // These fields become words of the `ip` command lines that the host's login shell parses.
    const canary = path.join(os.tmpdir(), `underlay-lab-shell-canary-${process.pid}`);
    fs.rmSync(canary, { force: true });
    const noCanary = async () => {
      assert.equal(fs.existsSync(canary), false, "a shell interpreted a value (here)");
      assert.notEqual((await host.exec(["test", "-e", canary], { allowFail: true })).code, 0, "a shell interpreted a value (on the host)");
    };
    const hostile = [
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `;touch ${canary}`,
      `'$(touch ${canary})'`,
      `x|touch ${canary}`,
      "-h",
      "a b",
    ];
    const valid = {
      connection: connectionFor(host),
      name: uniqueName("hs"),
      parent: host.lanParent,
      address: "198.51.100.249/32",
      routes: [],
    };
    const before = await snapshotHost(host);
    for (const field of ["name", "parent", "address", "routes"] as const) {
      for (const value of hostile) {
        const raw = { ...valid, [field]: field === "routes" ? [value] : value };
        const checked = await hostShimProvider.check({}, raw);
        assert.ok(
          checked.failures?.some((f) => f.property === field || f.property.startsWith(`${field}.`) || f.property.startsWith(`${field}[`)),
          `${field} = ${JSON.stringify(value)} passed check(): ${JSON.stringify(checked.failures)}`,
        );
        // create() validates again, so inputs that never went through check() stop there too.
        await assert.rejects(hostShimProvider.create(raw), InputValidationError);
      }
    }
    assert.equal(await snapshotHost(host), before);
    await noCanary();

    // The edge of what check() accepts: every character a name may hold, surrounding white space
    // on an address (check() trims it), and routes of both ends of the prefix range.
    const name = `_${process.pid % 1000}.-x_`;
    links.push(name);
    const checked = await hostShimProvider.check(
      {},
      { ...valid, name, address: " 198.51.100.249/32\t", routes: ["198.51.100.200/29", "198.51.100.199/32"] },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    const created = await hostShimProvider.create(checked.inputs);
    const [link] = JSON.parse((await host.exec(["ip", "-j", "-d", "link", "show", "dev", name])).stdout);
    assert.deepEqual(Buffer.from(link.ifname), Buffer.from(name));
    assert.equal(link.linkinfo.info_kind, "macvlan");
    const [addressed] = JSON.parse((await host.exec(["ip", "-j", "address", "show", "dev", name])).stdout);
    assert.deepEqual(
      addressed.addr_info
        .filter((a: { family: string }) => a.family === "inet")
        .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
      ["198.51.100.249/32"],
    );
    const routes = JSON.parse((await host.exec(["ip", "-j", "route", "show", "dev", name])).stdout) as { dst: string }[];
    assert.deepEqual(routes.map((r) => r.dst).sort(), ["198.51.100.199", "198.51.100.200/29"]);
    await hostShimProvider.delete(created.id, created.outs as never);
    const canaryFound =
      (fs.existsSync(canary) ? 1 : 0) + ((await host.exec(["test", "-e", canary], { allowFail: true })).code === 0 ? 1 : 0);
    recordFigure({
      group: "hostile input",
      name: "canary files found on the lab run (here and on the host)",
      value: canaryFound,
      target: "0",
      ok: canaryFound === 0,
    });
    await noCanary();
  });

  it("every generated hostile value check() accepts for a link's fields arrives on the host as one argv element, byte for byte", async () => {
    // The same generators as the unit suite (test/support/hostileInputs.ts); here what check()
    // accepts goes through the real transport and the host's login shell: each command the
    // create would run, as `printf '%s\0'` of its words, read back and compared. (A network's
    // values reach no shell: they go to Docker as JSON, proven above with hostile labels.)
    const session = hostSession(parseConnection(connectionFor(host), "HostShim"));
    const seed = process.env.HOSTILE_SEED ? Number(process.env.HOSTILE_SEED) : Date.now() % 1_000_000;
    let tried = 0;
    let accepted = 0;
    let proven = 0;
    for (const r of Object.values(RESOURCES)) {
      if (r.apiBody) continue;
      const cases = [...r.strings.map((f) => [f, hostileString] as const), ...r.numbers.map((f) => [f, hostileNumber] as const)];
      for (const [field, arbitrary] of cases) {
        for (const value of fc.sample(arbitrary as fc.Arbitrary<unknown>, { numRuns: 40, seed })) {
          tried++;
          const checked = await r.provider.check({}, withField(r.valid, field, value));
          if (checked.failures) continue;
          accepted++;
          const inputs = checked.inputs ?? {};
          const commands = r.commands(inputs);
          for (const argv of commands) {
            const back = (await session.run(["printf", "%s\\0", ...argv])).stdout.split("\0").slice(0, -1);
            assert.deepEqual(
              back.map((w) => Buffer.from(w)),
              argv.map((w) => Buffer.from(w)),
              `${JSON.stringify(argv)} did not arrive whole`,
            );
          }
          const canonical = String(fieldOf(field) === field ? valueAt(inputs, field) : value);
          assert.ok(
            commands.flat().some((e) => e === canonical || e.endsWith(`=${canonical}`) || e.startsWith(`${canonical}=`)),
            `${JSON.stringify(canonical)} is no argv element of ${JSON.stringify(commands)}`,
          );
          proven++;
        }
      }
    }
    const canaries = (fs.existsSync(CANARY) ? 1 : 0) + ((await host.exec(["test", "-e", CANARY], { allowFail: true })).code === 0 ? 1 : 0);
    recordFigure({
      group: "hostile input",
      name: `generated link values check() accepts (of ${tried}, seed ${seed}), sent to the lab host: arrived as one argv element, byte for byte`,
      value: `${proven}/${accepted}`,
      target: `${accepted}/${accepted}`,
      ok: proven === accepted && accepted > 0,
    });
    recordFigure({
      group: "hostile input",
      name: "canary files after that lab run (here and on the host)",
      value: canaries,
      target: "0",
      ok: canaries === 0,
    });
    assert.ok(accepted > 0, "check() accepted no generated value: nothing was sent");
    assert.equal(canaries, 0);
  });
});
