// Network-namespace lab (kind "netns"): lab hosts that are network namespaces on this
// machine, each with its own sshd and dockerd, on a LAN bridge with an "external device".
// The heavy lifting is in netns-lab.sh beside this file; this wrapper runs it, reads the
// lab.json it writes and exposes the Lab contract of ./types.

import { spawn } from "child_process";
import { existsSync, promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import type { Exec, ExecOptions, ExecResult, Lab, LabHost } from "./types";

const DEFAULT_TIMEOUT_MS = 60_000;
const DEPS_TIMEOUT_MS = 15 * 60_000; // apt-get on a fresh machine
const UP_TIMEOUT_MS = 5 * 60_000;
const DOWN_TIMEOUT_MS = 2 * 60_000;
const OUTPUT_LIMIT = 4_000; // characters of stdout/stderr quoted in an error message

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

function quoteArg(a: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(a) ? a : JSON.stringify(a);
}

function tail(text: string): string {
  const t = text.trimEnd();
  return t.length > OUTPUT_LIMIT ? `...${t.slice(-OUTPUT_LIMIT)}` : t;
}

/** Run argv (no shell); resolve with code/stdout/stderr, reject on non-zero unless allowFail. */
function run(argv: string[], opts: ExecOptions = {}, env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  if (argv.length === 0) {
    return Promise.reject(new Error("exec: empty argv"));
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const shown = argv.map(quoteArg).join(" ");
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: env ?? process.env,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`exec failed to start: ${shown}: ${e.message}`));
    });
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const result: ExecResult = {
        code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : -1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (timedOut) {
        reject(
          new Error(
            `exec timed out after ${timeoutMs} ms: ${shown}\n` +
              `stderr: ${tail(result.stderr)}\nstdout: ${tail(result.stdout)}`,
          ),
        );
        return;
      }
      if (result.code !== 0 && !opts.allowFail) {
        reject(
          new Error(
            `exec failed (exit ${result.code}${signal ? `, ${signal}` : ""}): ${shown}\n` +
              `stderr: ${tail(result.stderr)}\nstdout: ${tail(result.stdout)}`,
          ),
        );
        return;
      }
      resolve(result);
    });
  });
}

function execIn(prefix: string[], env?: NodeJS.ProcessEnv): Exec {
  return (argv: string[], opts?: ExecOptions) => {
    if (argv.length === 0) {
      return Promise.reject(new Error("exec: empty argv"));
    }
    return run([...prefix, ...argv], opts, env);
  };
}

// ---- lab.json (written by netns-lab.sh up) --------------------------------------------------

type Json = Record<string, unknown>;

function obj(v: unknown, where: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`lab.json: ${where} is not an object`);
  }
  return v as Json;
}
function str(o: Json, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== "string" || v === "") throw new Error(`lab.json: ${where}.${key} is not a string`);
  return v;
}
function num(o: Json, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v)) throw new Error(`lab.json: ${where}.${key} is not an integer`);
  return v;
}
function arr(o: Json, key: string, where: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Error(`lab.json: ${where}.${key} is not an array`);
  return v;
}

interface HostSpec {
  name: string;
  ns: string;
  sshPort: number;
  sshUser: string;
  privateKeyPath: string;
  hostPublicKeyPath: string;
  dockerSocket: string;
  lanParent: string;
  lanAddress: string;
}

interface LabSpec {
  prefix: string;
  dir: string;
  image: string;
  subnet: string;
  externalNs: string;
  externalAddress: string;
  hosts: HostSpec[];
}

function parseLabJson(text: string): LabSpec {
  const root = obj(JSON.parse(text) as unknown, "root");
  const lan = obj(root.lan, "lan");
  const external = obj(root.external, "external");
  const hosts = arr(root, "hosts", "root").map((h, i): HostSpec => {
    const where = `hosts[${i}]`;
    const ho = obj(h, where);
    const ssh = obj(ho.ssh, `${where}.ssh`);
    return {
      name: str(ho, "name", where),
      ns: str(ho, "ns", where),
      sshPort: num(ssh, "port", `${where}.ssh`),
      sshUser: str(ssh, "user", `${where}.ssh`),
      privateKeyPath: str(ssh, "privateKeyPath", `${where}.ssh`),
      hostPublicKeyPath: str(ssh, "hostPublicKeyPath", `${where}.ssh`),
      dockerSocket: str(ho, "dockerSocket", where),
      lanParent: str(ho, "lanParent", where),
      lanAddress: str(ho, "lanAddress", where),
    };
  });
  if (hosts.length === 0) throw new Error("lab.json: no hosts");
  return {
    prefix: str(root, "prefix", "root"),
    dir: str(root, "dir", "root"),
    image: str(root, "image", "root"),
    subnet: str(lan, "subnet", "lan"),
    externalNs: str(external, "ns", "external"),
    externalAddress: str(external, "address", "external"),
    hosts,
  };
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

async function buildHost(spec: HostSpec): Promise<LabHost> {
  const [privateKey, hostPub] = await Promise.all([
    fs.readFile(spec.privateKeyPath, "utf8"),
    fs.readFile(spec.hostPublicKeyPath, "utf8"),
  ]);
  // "ssh-ed25519 AAAA... comment" -> "ssh-ed25519 AAAA..."
  const hostPublicKey = hostPub.trim().split(/\s+/).slice(0, 2).join(" ");
  const nsenter = ["nsenter", `--net=${netnsPath(spec.ns)}`];
  return {
    name: spec.name,
    ssh: { host: "127.0.0.1", port: spec.sshPort, user: spec.sshUser, privateKey, hostPublicKey },
    lanParent: spec.lanParent,
    lanAddress: spec.lanAddress,
    exec: execIn(nsenter),
    docker: execIn([...nsenter, "docker", "-H", `unix://${spec.dockerSocket}`], dockerEnv()),
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
    hosts = await Promise.all(spec.hosts.map(buildHost));
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
      subnet: spec.subnet,
      external: {
        address: spec.externalAddress,
        exec: execIn(["nsenter", `--net=${netnsPath(spec.externalNs)}`]),
      },
    },
    image: spec.image,
    stop(): Promise<void> {
      stopping ??= down().then(() => undefined);
      return stopping;
    },
  };
}
