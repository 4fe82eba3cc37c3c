// A host for ops tests: every command is recorded and answered by the test's function, with
// the same allowFailure rule as the real transport (a non-zero exit throws RemoteCommandError
// unless allowed).

import { RemoteCommandError } from "../../provider/errors";
import type { Argv, CommandResult } from "../../provider/host/command";
import type { DockerApi } from "../../provider/ssh/dockerApi";
import { HostLock, type HostRunner, type RunCommand } from "../../provider/ssh/pool";

export type Answer = (argv: string[], stdin?: string) => Partial<CommandResult> | undefined;

export interface FakeRunner extends HostRunner {
  /** Every command as one string, in order ("ip -j -d link show dev eth1"). */
  readonly calls: string[];
  readonly stdins: (string | undefined)[];
  /** For each call, whether it asked to run as the login user (never through sudo). */
  readonly asLoginUser: boolean[];
  readonly run: RunCommand & HostRunner["run"];
}

export const TARGET = "ssh://root@198.51.100.11:22";

let runners = 0;

/** `docker` answers the host's Engine API requests (none by default: every request fails). */
export function fakeRunner(answer: Answer = () => undefined, docker?: DockerApi): FakeRunner {
  const calls: string[] = [];
  const stdins: (string | undefined)[] = [];
  const asLoginUser: boolean[] = [];
  const run: RunCommand = async (argv: Argv, options = {}) => {
    calls.push(argv.join(" "));
    stdins.push(options.stdin);
    asLoginUser.push(options.asLoginUser === true);
    // Unless a test says otherwise, `test -d /sys/class/net/X/wireless` finds no Wi-Fi.
    const given = answer([...argv], options.stdin) ?? (argv[0] === "test" ? { exitCode: 1 } : {});
    const result: CommandResult = { exitCode: given.exitCode ?? 0, stdout: given.stdout ?? "", stderr: given.stderr ?? "" };
    const allowed = typeof options.allowFailure === "function" ? options.allowFailure(result) : options.allowFailure === true;
    if (result.exitCode !== 0 && !allowed) throw new RemoteCommandError(TARGET, argv, result);
    return result;
  };
  const api: DockerApi = docker ?? {
    request: async (method, path) => {
      throw new Error(`fakeRunner has no Docker API (${method} ${path})`);
    },
  };
  // Each fake is a host of its own, so no two tests share what the ops remember of a host.
  const hostId = `fake-${++runners}:22`;
  // The real lock, so ops are tested with the ordering they get on a host.
  const lock = new HostLock();
  return {
    target: TARGET,
    hostId,
    calls,
    stdins,
    asLoginUser,
    run,
    exclusive: (body) => lock.exclusive(() => body(run)),
    shared: (body) => lock.shared(() => body(run)),
    docker: api,
  };
}

/** `ip -j -d link show` output for links given by name, kind and parent. */
export function linksJson(
  links: { name: string; kind?: string; parent?: string; mtu?: number; data?: Record<string, unknown>; up?: boolean }[],
): string {
  return JSON.stringify(
    links.map((l, i) => ({
      ifindex: i + 1,
      ifname: l.name,
      link: l.parent,
      flags: l.up === false ? ["BROADCAST"] : ["BROADCAST", "UP"],
      mtu: l.mtu ?? 1500,
      address: `02:00:00:00:00:${String(i + 1).padStart(2, "0")}`,
      linkinfo: l.kind ? { info_kind: l.kind, info_data: l.data ?? {} } : undefined,
    })),
  );
}

/** `docker network inspect` output for networks given in the spec's vocabulary. */
export function inspectJson(
  networks: {
    id: string;
    name: string;
    driver: string;
    parent?: string;
    subnets?: string[];
    options?: Record<string, string>;
    containers?: Record<string, { Name: string }>;
  }[],
): string {
  return JSON.stringify(
    networks.map((n) => ({
      Id: n.id,
      Name: n.name,
      Driver: n.driver,
      IPAM: { Config: (n.subnets ?? []).map((s) => ({ Subnet: s })) },
      Options: { ...(n.parent ? { parent: n.parent } : {}), ...n.options },
      Labels: {},
      Containers: n.containers ?? {},
    })),
  );
}
