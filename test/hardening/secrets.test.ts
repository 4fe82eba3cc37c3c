// Secrets (issue 10): with the private key and a password given, every operation of each
// resource a netns lab host can run (MacvlanNetwork, HostShim: check, create, read, update,
// delete) and the error paths cheap to trigger (a wrong password, a wrong key, a changed host
// key, refused inputs, a refused create, a failing remote command) leave no piece of a secret
// in any error (its message and every field, as util.inspect prints it), any output, or
// anything the process printed. "A piece" is the secret or any 16-character window of it.

import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { type HostShimState, hostShimProvider } from "../../provider/resources/link/hostShim";
import { macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { closeAllSessions } from "../../provider/ssh/pool";
import { connectionFor, lab, uniqueName } from "../integration/fixture";
import type { LabHost } from "../lab/types";
import { recordFigure } from "../support/figures";
import { ed25519KeyPair } from "../support/keys";
import { secretOccurrences } from "../support/safeMessage";

/** A private key's body (its base64 lines, joined): the part that must never surface. */
function keyBody(privateKey: string): string {
  return privateKey
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"))
    .join("");
}

/** Everything the process writes to stdout and stderr while `body` runs (passed through as well). */
async function capturingOutput<T>(body: () => Promise<T>): Promise<{ result: T; printed: string }> {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((s) => s.write.bind(s));
  streams.forEach((s, i) => {
    s.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return originals[i](chunk, ...rest);
    }) as typeof s.write;
  });
  try {
    return { result: await body(), printed: chunks.join("") };
  } finally {
    streams.forEach((s, i) => {
      s.write = originals[i] as typeof s.write;
    });
  }
}

describe("secrets: no piece of the key or password in errors, outputs or what the provider printed", function () {
  this.timeout(300_000);
  let host: LabHost;

  before(async function () {
    this.timeout(600_000);
    host = (await lab()).hosts[0];
  });

  after(() => closeAllSessions());

  it("every operation and every cheap error path of MacvlanNetwork and HostShim", async () => {
    const password = `pw-${randomBytes(24).toString("hex")}`;
    const wrongPassword = `wrong-${randomBytes(24).toString("hex")}`;
    const wrongKey = ed25519KeyPair().private;
    const secrets = [keyBody(host.ssh.privateKey), password, wrongPassword, keyBody(wrongKey)];
    // The key and a password on every connection: ssh2 offers the key first; sshd refuses passwords here.
    const connection = connectionFor(host, { password });
    const errors: string[] = [];
    const outputs: string[] = [];
    const paths: string[] = [];
    const network = uniqueName("sec");
    const shim = uniqueName("secsh");

    /** The error an operation must fail with, kept whole (message, fields, cause) for the scan. */
    async function failing(label: string, op: () => Promise<unknown>): Promise<void> {
      paths.push(label);
      await assert.rejects(op(), (err: unknown) => {
        errors.push(`${String(err)}\n${inspect(err, { depth: 6 })}`);
        return true;
      });
    }
    /** The state as Pulumi stores it: `connection` goes in encrypted (additionalSecretOutputs), the rest in plain text. */
    function output(value: unknown): void {
      const { connection: _, ...rest } = (value ?? {}) as Record<string, unknown>;
      outputs.push(JSON.stringify(rest));
    }

    const { printed } = await capturingOutput(async () => {
      // MacvlanNetwork: check, create, read, diff, update (a new connection setting), delete.
      const netInputs = { connection, name: network, parent: host.lanParent, subnet: "203.0.113.0/28", labels: { owner: "secrets" } };
      const checked = await macvlanNetworkProvider.check({}, netInputs);
      assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
      output(checked.inputs);
      const created = await macvlanNetworkProvider.create(checked.inputs);
      output(created.outs);
      const read = await macvlanNetworkProvider.read(created.id, created.outs as never);
      output(read.props);
      const news = (await macvlanNetworkProvider.check({}, { ...netInputs, connection: { ...connection, commandTimeoutMs: 120_000 } }))
        .inputs;
      outputs.push(JSON.stringify(await macvlanNetworkProvider.diff(created.id, created.outs as never, news)));
      output((await macvlanNetworkProvider.update(created.id, created.outs as never, news)).outs);
      // A refused create: the name is taken.
      await failing("MacvlanNetwork create, name taken (refusal)", () => macvlanNetworkProvider.create(checked.inputs));
      await macvlanNetworkProvider.delete(created.id, created.outs as never);

      // HostShim: check, create, read, update (a route added), delete.
      const shimInputs = { connection, name: shim, parent: host.lanParent, address: "198.51.100.248/32", routes: [] };
      const shimChecked = await hostShimProvider.check({}, shimInputs);
      assert.equal(shimChecked.failures, undefined, JSON.stringify(shimChecked.failures));
      const shimCreated = await hostShimProvider.create(shimChecked.inputs);
      output(shimCreated.outs);
      output((await hostShimProvider.read(shim, shimCreated.outs as HostShimState)).props);
      const shimNews = (await hostShimProvider.check({}, { ...shimInputs, routes: ["203.0.113.240/32"] })).inputs;
      const shimUpdated = await hostShimProvider.update(shim, shimCreated.outs as HostShimState, shimNews);
      output(shimUpdated.outs);
      // A refused create (the name is taken), and a failing remote command: a route the host already has.
      await failing("HostShim create, name taken (refusal)", () => hostShimProvider.create(shimChecked.inputs));
      const other = uniqueName("secsh");
      const clash = (
        await hostShimProvider.check({}, { ...shimInputs, name: other, address: "198.51.100.247/32", routes: ["203.0.113.240/32"] })
      ).inputs;
      await failing("HostShim create, `ip route add` fails on the host (steps undone)", () => hostShimProvider.create(clash));
      await hostShimProvider.delete(shim, shimUpdated.outs as HostShimState);

      // Connections that fail: a wrong password alone, a wrong key (with the password), a changed host key.
      const base = { name: uniqueName("sec"), parent: host.lanParent, subnet: "203.0.113.16/28" };
      const variants: [string, Record<string, unknown>][] = [
        ["a wrong password", connectionFor(host, { privateKey: undefined, password: wrongPassword })],
        ["a wrong key", connectionFor(host, { privateKey: wrongKey, password: wrongPassword })],
        ["a changed host key", { ...connection, hostKey: ed25519KeyPair().public }],
      ];
      for (const [label, conn] of variants) {
        const inputs = (await macvlanNetworkProvider.check({}, { ...base, connection: conn })).inputs;
        await failing(`MacvlanNetwork create over ${label} (transport)`, () => macvlanNetworkProvider.create(inputs));
        closeAllSessions();
      }

      // Refused inputs: the key and the password pasted into other fields.
      for (const [field, value] of [
        ["name", password],
        ["parent", host.ssh.privateKey],
        ["address", password],
      ] as const) {
        paths.push(`HostShim check, a secret pasted into ${field} (refused)`);
        const result = await hostShimProvider.check({}, { ...shimInputs, [field]: value });
        assert.ok(
          result.failures?.some((f) => f.property === field),
          JSON.stringify(result.failures),
        );
        for (const f of result.failures ?? []) errors.push(`${f.property}: ${f.reason}`);
      }
      for (const [field, value] of [
        ["user", host.ssh.privateKey],
        ["hostKey", password],
      ] as const) {
        paths.push(`MacvlanNetwork check, a secret pasted into connection.${field} (refused)`);
        const result = await macvlanNetworkProvider.check({}, { ...netInputs, connection: { ...connection, [field]: value } });
        assert.ok(
          result.failures?.some((f) => f.property === `connection.${field}`),
          JSON.stringify(result.failures),
        );
        for (const f of result.failures ?? []) errors.push(`${f.property}: ${f.reason}`);
      }
    });

    const inErrors = secretOccurrences(errors.join("\n"), secrets);
    const inOutputs = secretOccurrences(outputs.join("\n"), secrets);
    const inPrinted = secretOccurrences(printed, secrets);
    const group = "secrets";
    recordFigure({
      group,
      name: `key/password pieces in ${errors.length} errors from ${paths.length} error paths (message and fields)`,
      value: inErrors,
      target: "0",
      ok: inErrors === 0,
    });
    recordFigure({
      group,
      name: `key/password pieces in ${outputs.length} outputs, read results and diffs (connection aside: encrypted)`,
      value: inOutputs,
      target: "0",
      ok: inOutputs === 0,
    });
    recordFigure({
      group,
      name: `key/password pieces in what the provider printed (${printed.length} chars of stdout/stderr)`,
      value: inPrinted,
      target: "0",
      ok: inPrinted === 0,
    });
    assert.equal(inErrors, 0, "a piece of a secret in an error");
    assert.equal(inOutputs, 0, "a piece of a secret in an output");
    assert.equal(inPrinted, 0, "a piece of a secret in what the process printed");
    assert.ok(!/PRIVATE KEY/.test([...errors, ...outputs, printed].join("\n")), "a key block surfaced");
  });
});
