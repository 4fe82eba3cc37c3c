// Network-namespace lab (kind "netns"): lab hosts that are network namespaces on this
// machine, each with its own sshd and dockerd, on a LAN bridge with an "external device".
// The heavy lifting is in netns-lab.sh beside this file; this wrapper runs it, reads the
// lab.json it writes and exposes the Lab contract of ./types.

import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { z } from "zod";
import { netnsFaults } from "./netnsFaults";
import { run } from "./run";
import type { Exec, ExecOptions, ExecResult, Lab, LabHost } from "./types";

const DEPS_TIMEOUT_MS = 15 * 60_000; // apt-get on a fresh machine
const UP_TIMEOUT_MS = 5 * 60_000;
const DOWN_TIMEOUT_MS = 2 * 60_000;

/** What startNetnsLab returns: the Lab contract plus where the lab lives (for debugging). */
export interface NetnsLab extends Lab {
  kind: "netns";
  /** Directory holding lab.json, keys, daemon logs (DIR/hN/dockerd.log, sshd.log, ...). */
  dir: string;
  /** Name prefix of the lab's namespaces ("ulab-1a2b"). */
  prefix: string;
}

/** Locate netns-lab.sh both from test/lab (ts-node) and from dist/test/lab (compiled). */
function scriptPath(): string {
  const fromEnv = process.env.ULAB_NETNS_SCRIPT;
  const candidates = [
    ...(fromEnv ? [fromEnv] : []),
    path.join(__dirname, "netns-lab.sh"),
    path.resolve(__dirname, "..", "..", "..", "test", "lab", "netns-lab.sh"),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`netns-lab.sh not found (looked in: ${candidates.join(", ")})`);
  }
  return found;
}

function execIn(prefix: string[], env?: NodeJS.ProcessEnv): Exec {
  return (argv: string[], opts?: ExecOptions) => {
    if (argv.length === 0) {
      return Promise.reject(new Error("exec: empty argv"));
    }
    return run([...prefix, ...argv], { ...opts, env });
  };
}

// ---- lab.json (written by netns-lab.sh up) --------------------------------------------------

const nonEmpty = z.string().min(1);

/** The part of lab.json this wrapper reads; anything else in it is left alone. */
const LabJson = z.object({
  prefix: nonEmpty,
  dir: nonEmpty,
  image: nonEmpty,
  lan: z.object({ subnet: nonEmpty }),
  external: z.object({ ns: nonEmpty, address: nonEmpty }),
  hosts: z
    .array(
      z.object({
        name: nonEmpty,
        ns: nonEmpty,
        dir: nonEmpty,
        ssh: z.object({ port: z.number().int(), user: nonEmpty, privateKeyPath: nonEmpty, hostPublicKeyPath: nonEmpty }),
        dockerSocket: nonEmpty,
        lanParent: nonEmpty,
        lanAddress: nonEmpty,
      }),
    )
    .min(1),
});
type LabSpec = z.output<typeof LabJson>;
type HostSpec = LabSpec["hosts"][number];

function parseLabJson(text: string): LabSpec {
  const parsed = LabJson.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(`lab.json: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

// ---- the lab --------------------------------------------------------------------------------

function netnsPath(ns: string): string {
  return `/var/run/netns/${ns}`;
}

/** docker CLI environment: -H decides the daemon; drop anything that could override it. */
function dockerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DOCKER_HOST;
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  return env;
}

async function buildHost(spec: HostSpec, script: string, labDir: string): Promise<LabHost> {
  const [privateKey, hostPub] = await Promise.all([
    fs.readFile(spec.ssh.privateKeyPath, "utf8"),
    fs.readFile(spec.ssh.hostPublicKeyPath, "utf8"),
  ]);
  // "ssh-ed25519 AAAA... comment" -> "ssh-ed25519 AAAA..."
  const hostPublicKey = hostPub.trim().split(/\s+/).slice(0, 2).join(" ");
  const nsenter = ["nsenter", `--net=${netnsPath(spec.ns)}`];
  return {
    name: spec.name,
    ssh: { host: "127.0.0.1", port: spec.ssh.port, user: spec.ssh.user, privateKey, hostPublicKey },
    lanParent: spec.lanParent,
    lanAddress: spec.lanAddress,
    exec: execIn(nsenter),
    docker: execIn([...nsenter, "docker", "-H", `unix://${spec.dockerSocket}`], dockerEnv()),
    faults: netnsFaults(script, labDir, spec.name, spec.dir),
  };
}

/**
 * Start a network-namespace lab with `hosts` lab hosts (default 1): installs missing Debian
 * packages (netns-lab.sh deps), then brings the lab up in a fresh temp dir. Needs root.
 * Call stop() (e.g. in an after hook) to tear it down; stop() is idempotent.
 */
export async function startNetnsLab(opts?: { hosts?: number }): Promise<NetnsLab> {
  const count = opts?.hosts ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 40) {
    throw new Error(`startNetnsLab: hosts must be an integer 1..40, got ${count}`);
  }
  const script = scriptPath();
  await run(["bash", script, "deps"], { timeoutMs: DEPS_TIMEOUT_MS });

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ulab-"));
  const down = (): Promise<ExecResult> => run(["bash", script, "down", dir], { timeoutMs: DOWN_TIMEOUT_MS });

  let spec: LabSpec;
  let hosts: LabHost[];
  try {
    await run(["bash", script, "up", dir, String(count)], { timeoutMs: UP_TIMEOUT_MS });
    spec = parseLabJson(await fs.readFile(path.join(dir, "lab.json"), "utf8"));
    hosts = await Promise.all(spec.hosts.map((h) => buildHost(h, script, dir)));
  } catch (e) {
    // up cleans up after itself on failure; down is idempotent, so make sure anyway.
    await down().catch(() => undefined);
    throw e;
  }

  let stopping: Promise<void> | undefined;
  return {
    kind: "netns",
    dir,
    prefix: spec.prefix,
    hosts,
    lan: {
      subnet: spec.lan.subnet,
      external: {
        address: spec.external.address,
        exec: execIn(["nsenter", `--net=${netnsPath(spec.external.ns)}`]),
      },
    },
    image: spec.image,
    stop(): Promise<void> {
      stopping ??= down().then(() => undefined);
      return stopping;
    },
  };
}
