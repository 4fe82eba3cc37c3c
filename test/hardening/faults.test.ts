// Faults on a lab host (issue 10), injected for real (test/lab/README.md, "Faults"): the SSH
// connection cut after each step of a HostShim and of a MacvlanNetwork create, sshd stopped,
// dockerd stopped (create, read, delete), a command that hangs, a host that stops answering,
// refused credentials and host keys. Each must end in a typed error naming the host within the
// bound its test states; a retry without the fault must converge to exactly the declared state
// (checked on the host's `ip -j` and Docker networks); delete must bring back the snapshot
// taken before. Each scenario records one figure (test/support/figures.ts, group "faults").

import { strict as assert } from "node:assert";
import { DockerApiError, RefusalError, TransportError } from "../../provider/errors";
import { HostShimArgsSchema, type HostShimState, hostShimProvider } from "../../provider/resources/link/hostShim";
import { MacvlanNetworkArgsSchema, macvlanNetworkProvider } from "../../provider/resources/network/macvlan";
import { closeAllSessions } from "../../provider/ssh/pool";
import { snapshotHost, uniqueName } from "../integration/fixture";
import type { LabFaults, LabHost } from "../lab/types";
import { eventually } from "../support/eventually";
import { ed25519KeyPair } from "../support/keys";
import { assertSafeMessage } from "../support/safeMessage";
import {
  asResourceWould,
  COMMAND_TIMEOUT_MS,
  CONNECT_TIMEOUT_MS,
  DIAL_ATTEMPTS,
  DIAL_BACKOFF_MS,
  failsWithin,
  faultConnection,
  faultHost,
  kindOf,
  scenario,
  seconds,
  settledWithin,
  succeedsWithin,
  typedCause,
  without,
} from "./faultChecks";

const SHIM_ADDRESS = "198.51.100.240/32";
const SHIM_ROUTES = ["203.0.113.0/28"];
const NETWORK_SUBNET = "203.0.113.32/28";

describe("faults on a lab host", function () {
  this.timeout(180_000);
  let host: LabHost;
  let faults: LabFaults;
  let target: string;
  const links: string[] = [];
  const networks: string[] = [];

  before(async function () {
    this.timeout(600_000);
    ({ host, faults, target } = await faultHost());
  });

  beforeEach(() => closeAllSessions());

  afterEach(async () => {
    await faults.clear();
    await faults.startSshd();
    await faults.startDockerd();
    closeAllSessions();
    for (const n of networks.splice(0)) await host.docker(["network", "rm", n], { allowFail: true });
    for (const l of links.splice(0)) await host.exec(["ip", "link", "delete", "dev", l], { allowFail: true });
  });

  function connection(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return faultConnection(host, overrides);
  }

  async function ipJson<T>(args: string[]): Promise<T[]> {
    return JSON.parse((await host.exec(["ip", "-j", ...args])).stdout || "[]") as T[];
  }

  // ---- HostShim ------------------------------------------------------------------------------

  async function shimInputs(overrides: Record<string, unknown> = {}): Promise<{ name: string; inputs: Record<string, unknown> }> {
    const name = uniqueName("fs");
    links.push(name);
    const checked = await hostShimProvider.check(
      {},
      {
        connection: connection(overrides),
        name,
        parent: host.lanParent,
        address: SHIM_ADDRESS,
        routes: SHIM_ROUTES,
        persist: false,
        ...asResourceWould(HostShimArgsSchema, "HostShim", name),
      },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    return { name, inputs: checked.inputs };
  }

  /** The host has the declared shim and, apart from it, is exactly as `before`. */
  async function assertShimExactly(name: string, before: string, outs: HostShimState | undefined): Promise<void> {
    const [link] = await ipJson<{ link?: string; flags: string[]; linkinfo?: { info_kind: string; info_data?: { mode?: string } } }>([
      "-d",
      "link",
      "show",
      "dev",
      name,
    ]);
    assert.ok(link, `shim ${name} is missing`);
    assert.equal(link.linkinfo?.info_kind, "macvlan");
    assert.equal(link.linkinfo?.info_data?.mode, "bridge");
    assert.equal(link.link, host.lanParent);
    assert.ok(link.flags.includes("UP"), `shim ${name} is not up: ${link.flags.join(",")}`);
    const addresses = (await ipJson<{ addr_info: { local: string; prefixlen: number }[] }>(["-4", "address", "show", "dev", name])).flatMap(
      (a) => a.addr_info.map((i) => `${i.local}/${i.prefixlen}`),
    );
    assert.deepEqual(addresses, [SHIM_ADDRESS]);
    const routes = (await ipJson<{ dst: string }>(["-4", "route", "show", "dev", name])).map((r) => r.dst);
    assert.deepEqual(routes.sort(), [...SHIM_ROUTES].sort());
    assert.equal(without(await snapshotHost(host), name), before, "the host changed besides the shim");
    if (outs) {
      assert.equal(outs.address, SHIM_ADDRESS);
      assert.deepEqual(outs.routes, SHIM_ROUTES);
      assert.equal(outs.up, true);
    }
  }

  /** Retry the create without the fault, check the host, delete, check the snapshot is back. */
  async function retryConvergesShim(name: string, inputs: Record<string, unknown>, before: string): Promise<void> {
    const created = await succeedsWithin(hostShimProvider.create(inputs), "the retried create");
    assert.equal(created.id, name);
    await assertShimExactly(name, before, created.outs);
    await succeedsWithin(hostShimProvider.delete(created.id, created.outs as HostShimState), "delete");
    assert.equal(await snapshotHost(host), before, "delete did not bring the host back to the snapshot");
  }

  const shimSteps: { step: string; pattern: (name: string) => string }[] = [
    // A link made with its owner's mark is added and marked in one `ip -batch -` (its only use).
    { step: "1 (ip link add)", pattern: (n) => `ip (link add link [^ ]+ name ${n} type macvlan|-batch -$)` },
    { step: "2 (ip address add)", pattern: (n) => `ip address add [^ ]+ dev ${n}$` },
    { step: "3 (ip link set up)", pattern: (n) => `ip link set dev ${n} up$` },
    { step: "4 (ip route add)", pattern: (n) => `ip -4 route add [^ ]+ dev ${n}$` },
  ];
  // ---- MacvlanNetwork ------------------------------------------------------------------------

  async function networkInputs(): Promise<{ name: string; inputs: Record<string, unknown> }> {
    const name = uniqueName("fn");
    networks.push(name);
    const checked = await macvlanNetworkProvider.check(
      {},
      {
        connection: connection(),
        name,
        parent: host.lanParent,
        subnet: NETWORK_SUBNET,
        ...asResourceWould(MacvlanNetworkArgsSchema, "MacvlanNetwork", name),
      },
    );
    assert.equal(checked.failures, undefined, JSON.stringify(checked.failures));
    return { name, inputs: checked.inputs };
  }

  /** Exactly one network of that name, as declared, and nothing else changed. */
  async function assertNetworkExactly(name: string, id: string, before: string): Promise<void> {
    const named = (await host.docker(["network", "ls", "--no-trunc", "--filter", `name=^${name}$`, "--format", "{{.ID}}"])).stdout
      .split("\n")
      .filter(Boolean);
    assert.deepEqual(named, [id], `networks named ${name}: ${named.join(", ")}`);
    const [inspected] = JSON.parse((await host.docker(["network", "inspect", name])).stdout);
    assert.equal(inspected.Driver, "macvlan");
    assert.equal(inspected.Options?.parent, host.lanParent);
    assert.deepEqual(
      inspected.IPAM.Config.map((c: { Subnet: string }) => c.Subnet),
      [NETWORK_SUBNET],
    );
    assert.equal(without(await snapshotHost(host), name), before, "the host changed besides the network");
  }

  async function retryConvergesNetwork(name: string, inputs: Record<string, unknown>, before: string): Promise<void> {
    const created = await succeedsWithin(macvlanNetworkProvider.create(inputs), "create");
    assert.ok(created.outs);
    await assertNetworkExactly(name, created.id, before);
    await succeedsWithin(macvlanNetworkProvider.delete(created.id, created.outs), "delete");
    assert.equal(await snapshotHost(host), before, "delete did not bring the host back to the snapshot");
  }

  const networkSteps: { step: string; action: "api-cut-before" | "api-cut-after"; pattern: string }[] = [
    { step: "before the create request", action: "api-cut-before", pattern: "^POST /v[0-9.]+/networks/create " },
    { step: "after the create request", action: "api-cut-after", pattern: "^POST /v[0-9.]+/networks/create " },
    { step: "after the listing that reads the new network back", action: "api-cut-after", pattern: "^GET /v[0-9.]+/networks\\?filters=" },
  ];
  // ---- credentials and host keys -------------------------------------------------------------

  /** Connections sshd logged since `log` was read: the distinct client ports its lines name. */
  async function connectionsSince(log: string): Promise<number> {
    const lines = (await faults.sshdLog()).slice(log.length);
    return new Set([...lines.matchAll(/ port (\d+)/g)].map((m) => m[1])).size;
  }

  const logins: { name: string; overrides: () => Record<string, unknown> }[] = [
    { name: "wrong key", overrides: () => ({ privateKey: ed25519KeyPair().private }) },
    // The lab's sshd takes keys only: to the client a refused password and a wrong one look alike.
    { name: "wrong password", overrides: () => ({ privateKey: undefined, password: "not-the-password-1234567890" }) },
  ];
  for (const { name: what, overrides } of logins) {
    scenario(`${what}`, "typed auth error ≤ connectTimeoutMs; one login, no retry; nothing changed", async () => {
      const before = await snapshotHost(host);
      const given = overrides();
      const { inputs } = await shimInputs(given);
      const log = await faults.sshdLog();
      const { error, ms } = await failsWithin(hostShimProvider.create(inputs), CONNECT_TIMEOUT_MS, "create");
      const cause = typedCause(error, [TransportError], target) as TransportError;
      assert.equal(cause.reason, "auth", cause.message);
      assertSafeMessage(
        error.message,
        Object.values(given).filter((v): v is string => typeof v === "string"),
      );
      let logins = 0;
      await eventually(async () => {
        logins = await connectionsSince(log);
        assert.equal(logins, 1, `sshd saw ${logins} connections (one per dial)`);
      }, 2_000);
      assert.equal(await snapshotHost(host), before);
      return `${kindOf(cause)} in ${seconds(ms)}; ${logins} login; nothing changed`;
    });
  }

  scenario("unknown host key (no pin)", "refused in check(), naming connection.hostKey; nothing changed", async () => {
    const before = await snapshotHost(host);
    const name = uniqueName("fs");
    const checked = await hostShimProvider.check(
      {},
      { connection: connection({ hostKey: undefined }), name, parent: host.lanParent, address: SHIM_ADDRESS, routes: SHIM_ROUTES },
    );
    const failures = checked.failures ?? [];
    assert.ok(
      failures.some((f) => f.property === "connection.hostKey"),
      `check() accepted an unpinned host: ${JSON.stringify(failures)}`,
    );
    assert.equal(await snapshotHost(host), before);
    return "refused in check() on connection.hostKey; nothing changed";
  });

  const hostKeys: { name: string; overrides: () => Record<string, unknown>; text: RegExp }[] = [
    {
      name: "changed host key (another key pinned)",
      overrides: () => ({ hostKey: ed25519KeyPair().public.trim().split(" ").slice(0, 2).join(" ") }),
      text: /does not match connection\.hostKey/,
    },
    {
      name: "revoked host key (@revoked in knownHosts)",
      overrides: () => ({
        hostKey: undefined,
        knownHosts: `[${host.ssh.host}]:${host.ssh.port} ${host.ssh.hostPublicKey}\n@revoked [${host.ssh.host}]:${host.ssh.port} ${host.ssh.hostPublicKey}\n`,
      }),
      text: /revoked/,
    },
  ];
  for (const { name: what, overrides, text } of hostKeys) {
    scenario(what, "typed hostKey error ≤ connectTimeoutMs; one connection, no retry; nothing changed", async () => {
      const before = await snapshotHost(host);
      const { inputs } = await shimInputs(overrides());
      const log = await faults.sshdLog();
      const { error, ms } = await failsWithin(hostShimProvider.create(inputs), CONNECT_TIMEOUT_MS, "create");
      const cause = typedCause(error, [TransportError], target) as TransportError;
      assert.equal(cause.reason, "hostKey", cause.message);
      assert.match(cause.message, text);
      let dials = 0;
      await eventually(async () => {
        dials = await connectionsSince(log);
        assert.equal(dials, 1, `sshd saw ${dials} connections (one per dial)`);
      }, 2_000);
      assert.equal(await snapshotHost(host), before);
      return `${kindOf(cause)} in ${seconds(ms)}; ${dials} connection; nothing changed`;
    });
  }
  // ---- sshd and dockerd stopped --------------------------------------------------------------

  scenario(
    "sshd stopped during a HostShim create",
    "typed connect error ≤ the dial backoff (refused at once, dialErrorLimit tries); nothing changed; retry converges",
    async () => {
      const before = await snapshotHost(host);
      const { name, inputs } = await shimInputs();
      await faults.stopSshd();
      // A refused connection fails at once: only the waits between the tries count.
      const bound = (DIAL_ATTEMPTS - 1) * DIAL_BACKOFF_MS;
      const { error, ms } = await failsWithin(hostShimProvider.create(inputs), bound, "create");
      const cause = typedCause(error, [TransportError], target) as TransportError;
      assert.equal(cause.reason, "connect", cause.message);
      await faults.startSshd();
      assert.equal(await snapshotHost(host), before, "a create that could not connect changed the host");
      await retryConvergesShim(name, inputs, before);
      return `${kindOf(cause)} in ${seconds(ms)}; retry converged`;
    },
  );

  /** The host's links, addresses and routes only (no Docker while dockerd is down). */
  async function ipOnly(): Promise<string> {
    return (await snapshotHost({ ...host, docker: async () => ({ code: 0, stdout: "", stderr: "" }) }))
      .split("\n--\n")
      .slice(1)
      .join("\n--\n");
  }

  scenario(
    "dockerd stopped during a MacvlanNetwork create",
    "typed error ≤ commandTimeoutMs; nothing changed; retry converges",
    async () => {
      const before = await snapshotHost(host);
      const ipBefore = await ipOnly();
      const { name, inputs } = await networkInputs();
      await faults.stopDockerd();
      const { error, ms } = await failsWithin(macvlanNetworkProvider.create(inputs), COMMAND_TIMEOUT_MS, "create");
      const cause = typedCause(error, [DockerApiError], target);
      assert.equal(await ipOnly(), ipBefore);
      await faults.startDockerd();
      assert.equal(await snapshotHost(host), before, "a create without dockerd changed the host");
      await retryConvergesNetwork(name, inputs, before);
      return `${kindOf(cause)} in ${seconds(ms)}; retry converged`;
    },
  );

  scenario(
    "dockerd stopped during a MacvlanNetwork read",
    "typed error ≤ commandTimeoutMs, never 'gone'; read after restart finds it",
    async () => {
      const { inputs } = await networkInputs();
      const created = await succeedsWithin(macvlanNetworkProvider.create(inputs), "create");
      assert.ok(created.outs);
      await faults.stopDockerd();
      const { error, ms } = await failsWithin(macvlanNetworkProvider.read(created.id, created.outs), COMMAND_TIMEOUT_MS, "read");
      const cause = typedCause(error, [DockerApiError], target);
      await faults.startDockerd();
      const read = await succeedsWithin(macvlanNetworkProvider.read(created.id, created.outs), "read after restart");
      assert.equal(read.id, created.id, "the network reads as gone after dockerd came back");
      return `${kindOf(cause)} in ${seconds(ms)}; read after restart found the network`;
    },
  );

  scenario(
    "dockerd stopped during a MacvlanNetwork delete",
    "typed error ≤ commandTimeoutMs; network kept; retry deletes; snapshot back",
    async () => {
      const before = await snapshotHost(host);
      const { name, inputs } = await networkInputs();
      const created = await succeedsWithin(macvlanNetworkProvider.create(inputs), "create");
      assert.ok(created.outs);
      await faults.stopDockerd();
      const { error, ms } = await failsWithin(macvlanNetworkProvider.delete(created.id, created.outs), COMMAND_TIMEOUT_MS, "delete");
      const cause = typedCause(error, [DockerApiError], target);
      await faults.startDockerd();
      await assertNetworkExactly(name, created.id, before);
      await succeedsWithin(macvlanNetworkProvider.delete(created.id, created.outs), "delete");
      assert.equal(await snapshotHost(host), before);
      return `${kindOf(cause)} in ${seconds(ms)}; retry deleted; snapshot back`;
    },
  );

  // ---- a host that never answers, connections cut, commands that hang -------------------

  scenario(
    "a host that never answers (connections accepted, no SSH banner)",
    "typed timeout (connectTimeoutMs) ≤ dialErrorLimit × connectTimeoutMs; nothing changed; retry converges",
    async () => {
      const before = await snapshotHost(host);
      const { name, inputs } = await shimInputs();
      await faults.pauseListener();
      const bound = DIAL_ATTEMPTS * CONNECT_TIMEOUT_MS + DIAL_BACKOFF_MS;
      const { error, ms } = await failsWithin(hostShimProvider.create(inputs), bound, "create");
      const cause = typedCause(error, [TransportError], target) as TransportError;
      assert.equal(cause.reason, "timeout", cause.message);
      assert.match(cause.message, new RegExp(`within ${CONNECT_TIMEOUT_MS} ms`));
      await faults.resumeListener();
      assert.equal(await snapshotHost(host), before);
      await retryConvergesShim(name, inputs, before);
      return `${kindOf(cause)} in ${seconds(ms)}; retry converged`;
    },
  );

  for (const { step, action, pattern } of networkSteps) {
    scenario(
      `SSH connection cut ${step} of a MacvlanNetwork create`,
      "typed error ≤ commandTimeoutMs; retry converges; delete restores",
      async () => {
        const before = await snapshotHost(host);
        const { name, inputs } = await networkInputs();
        await faults.inject(action, pattern);
        const { error, ms } = await failsWithin(macvlanNetworkProvider.create(inputs), COMMAND_TIMEOUT_MS, "create");
        const cause = typedCause(error, [TransportError, DockerApiError], target);
        assert.deepEqual(await faults.pending(), [], "the fault never fired");
        await retryConvergesNetwork(name, inputs, before);
        return `${kindOf(cause)} in ${seconds(ms)}; retry converged; delete restored the host`;
      },
    );
  }

  for (const { step, pattern } of shimSteps) {
    scenario(
      `SSH connection cut after step ${step} of a HostShim create`,
      "typed error ≤ commandTimeoutMs; retry converges; delete restores",
      async () => {
        const before = await snapshotHost(host);
        const { name, inputs } = await shimInputs();
        await faults.inject("cut-after", pattern(name));
        const { error, ms } = await failsWithin(hostShimProvider.create(inputs), COMMAND_TIMEOUT_MS, "create");
        const cause = typedCause(error, [TransportError], target);
        assert.deepEqual(await faults.pending(), [], "the fault never fired");
        await retryConvergesShim(name, inputs, before);
        return `${kindOf(cause)} in ${seconds(ms)}; retry converged; delete restored the host`;
      },
    );
  }

  scenario(
    "a command that hangs during a HostShim create",
    "typed timeout (commandTimeoutMs) ≤ commandTimeoutMs; the command ended; next operation works",
    async () => {
      const before = await snapshotHost(host);
      const { name, inputs } = await shimInputs();
      await faults.inject("hang", `ip (link add link [^ ]+ name ${name} type macvlan|-batch -$)`);
      const { error, ms } = await failsWithin(hostShimProvider.create(inputs), COMMAND_TIMEOUT_MS, "create");
      const cause = typedCause(error, [TransportError], target) as TransportError;
      assert.equal(cause.reason, "timeout", cause.message);
      assert.match(cause.message, new RegExp(`within ${COMMAND_TIMEOUT_MS} ms`));
      await eventually(
        async () => assert.deepEqual(await faults.hung(), [], "the hung command still runs on the host"),
        COMMAND_TIMEOUT_MS,
      );
      await retryConvergesShim(name, inputs, before);
      return `${kindOf(cause)} in ${seconds(ms)}; hung command ended; retry converged`;
    },
  );

  scenario(
    "a Docker API stream that hangs during a MacvlanNetwork create",
    "typed timeout (commandTimeoutMs) ≤ commandTimeoutMs; the command ended; next operation works",
    async () => {
      const before = await snapshotHost(host);
      const { name, inputs } = await networkInputs();
      await faults.inject("hang", "docker system dial-stdio");
      const { error, ms } = await failsWithin(macvlanNetworkProvider.create(inputs), COMMAND_TIMEOUT_MS, "create");
      const cause = typedCause(error, [TransportError, DockerApiError], target);
      assert.match(cause.message, new RegExp(`within ${COMMAND_TIMEOUT_MS} ms`));
      // The host ends a dial-stdio stream 2 × commandTimeoutMs after it opened (pool.ts), at
      // the latest one request deadline after the request on it failed.
      await eventually(
        async () => assert.deepEqual(await faults.hung(), [], "the hung dial-stdio still runs on the host"),
        COMMAND_TIMEOUT_MS + 2_000,
      );
      await retryConvergesNetwork(name, inputs, before);
      return `${kindOf(cause)} in ${seconds(ms)}; hung stream ended; retry converged`;
    },
  );

  scenario(
    "a host that stops answering in the middle of a HostShim create",
    "typed timeout (commandTimeoutMs) ≤ commandTimeoutMs; while the dead session lingers the next create ends (done or typed error) within its bound; once the host drops it, a retry converges",
    async () => {
      const before = await snapshotHost(host);
      const { name, inputs } = await shimInputs();
      await faults.inject("silent", `ip address add [^ ]+ dev ${name}$`);
      const { error, ms } = await failsWithin(hostShimProvider.create(inputs), COMMAND_TIMEOUT_MS, "create");
      const cause = typedCause(error, [TransportError], target) as TransportError;
      assert.equal(cause.reason, "timeout", cause.message);
      assert.match(cause.message, new RegExp(`within ${COMMAND_TIMEOUT_MS} ms`));
      // The silenced session is still there, stopped (its processes may hold what it held, the
      // host's lock among them): the next create must not wait on it, whether it gets through
      // or is refused.
      const next = await settledWithin(hostShimProvider.create(inputs), "a create while the dead session lingers");
      const meanwhile =
        "value" in next ? "done" : kindOf(typedCause(next.error as Error, [TransportError, RefusalError, DockerApiError], target));
      if ("value" in next) await succeedsWithin(hostShimProvider.delete(name, next.value.outs as HostShimState), "delete");
      // The host drops the dead session (as sshd's ClientAliveInterval would): the retry converges.
      await faults.clear();
      await retryConvergesShim(name, inputs, before);
      return `${kindOf(cause)} in ${seconds(ms)}; meanwhile ${meanwhile}; retry converged`;
    },
  );
});
