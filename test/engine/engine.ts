// Drives real stacks with the Pulumi CLI that tools/engine/build.sh builds (.engine/bin), through
// the Automation API's LocalWorkspace. Each stack gets its own PULUMI_HOME, a file:// backend and
// a throwaway copy of its program, so nothing outside a temp folder is written; and every run
// goes through a proxy that counts connections, so a test fails if the engine ever tries the
// network (a plugin download, an update check).

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { type ConfigMap, type EngineEvent, LocalWorkspace, type OpMap, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";

export const REPO = path.resolve(__dirname, "..", "..", "..");
export const ENGINE_ROOT = path.join(REPO, ".engine");

/** Counts every connection anything in the engine's process tree opens through HTTP(S)_PROXY. */
export class NetworkCanary {
  readonly attempts: string[] = [];
  private server?: http.Server;
  private sockets = new Set<net.Socket>();
  url = "";

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.attempts.push(`${req.method} ${req.url}`);
      res.writeHead(403).end("no network in the lab");
    });
    server.on("connect", (req: http.IncomingMessage, socket: net.Socket) => {
      this.attempts.push(`CONNECT ${req.url}`);
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
    });
    server.on("connection", (s: net.Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address() as net.AddressInfo;
    this.url = `http://127.0.0.1:${addr.port}`;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * A node_modules for programs copied out of the repo: every package the repo installed, plus
 * `pulumi-underlay` pointing at the repo itself (its package.json exports dist/).
 */
function shadowNodeModules(root: string): string {
  const dir = path.join(root, "node_modules");
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of fs.readdirSync(path.join(REPO, "node_modules"))) {
    if (entry.startsWith(".")) continue;
    fs.symlinkSync(path.join(REPO, "node_modules", entry), path.join(dir, entry));
  }
  fs.symlinkSync(REPO, path.join(dir, "pulumi-underlay"));
  return dir;
}

export interface StackOptions {
  /** The program's folder, relative to the repo (test/engine/programs/x, examples/x). */
  program: string;
  /** Where the program's node_modules comes from: the repo (default) or a folder given here. */
  nodeModules?: string;
  config: ConfigMap;
  canary: NetworkCanary;
}

export interface EngineStack {
  stack: Stack;
  workDir: string;
  home: string;
  /** Everything the engine printed in this stack's operations, for leak scans. */
  output: string[];
  /** Runs the built CLI itself on this stack (e.g. `stack export`, which the Automation API decrypts). */
  cli(args: string[]): string;
  /** Another folder with a fresh copy of the same program, same backend and stack. */
  reopenFrom(nodeModules: string): Promise<EngineStack>;
  remove(): Promise<void>;
}

function engineEnv(home: string, backend: string, canary: NetworkCanary): Record<string, string> {
  return {
    PATH: `${path.join(ENGINE_ROOT, "bin")}:${process.env.PATH ?? ""}`,
    PULUMI_HOME: home,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: "engine-suite-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    HTTP_PROXY: canary.url,
    HTTPS_PROXY: canary.url,
    http_proxy: canary.url,
    https_proxy: canary.url,
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
  };
}

function copyProgram(program: string, into: string, nodeModules: string): void {
  fs.mkdirSync(into, { recursive: true });
  const from = path.join(REPO, program);
  for (const f of fs.readdirSync(from)) {
    if (f.endsWith(".ts") || f === "Pulumi.yaml" || f === "package.json") fs.copyFileSync(path.join(from, f), path.join(into, f));
  }
  fs.symlinkSync(nodeModules, path.join(into, "node_modules"));
}

export async function pulumiCommand(): Promise<PulumiCommand> {
  if (!fs.existsSync(path.join(ENGINE_ROOT, "bin", "pulumi"))) {
    throw new Error(`no engine in ${ENGINE_ROOT}/bin: run tools/engine/build.sh first`);
  }
  return PulumiCommand.get({ root: ENGINE_ROOT });
}

export async function openStack(opts: StackOptions): Promise<EngineStack> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `underlay-engine-${path.basename(opts.program)}-`));
  const home = path.join(root, "pulumi-home");
  const backend = path.join(root, "state");
  fs.mkdirSync(home);
  fs.mkdirSync(backend);
  const nodeModules = opts.nodeModules ?? shadowNodeModules(path.join(root, "deps"));
  const cmd = await pulumiCommand();
  const output: string[] = [];

  async function open(workDir: string, modules: string): Promise<EngineStack> {
    copyProgram(opts.program, workDir, modules);
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName: "lab", workDir },
      { pulumiHome: home, pulumiCommand: cmd, envVars: engineEnv(home, backend, opts.canary) },
    );
    return {
      stack,
      workDir,
      home,
      output,
      cli: (args: string[]) =>
        execFileSync(path.join(ENGINE_ROOT, "bin", "pulumi"), [...args, "--stack", "lab", "--non-interactive"], {
          cwd: workDir,
          env: { ...process.env, ...engineEnv(home, backend, opts.canary) },
          encoding: "utf8",
          timeout: 120_000,
        }),
      reopenFrom: async (other: string) => {
        // Another checkout of the same project carries the same stack config file.
        const copy = path.join(root, `copy-${fs.readdirSync(root).length}`);
        fs.mkdirSync(copy);
        fs.copyFileSync(path.join(workDir, "Pulumi.lab.yaml"), path.join(copy, "Pulumi.lab.yaml"));
        return open(copy, other);
      },
      remove: async () => fs.rmSync(root, { recursive: true, force: true }),
    };
  }

  const first = await open(path.join(root, "program"), nodeModules);
  await first.stack.setAllConfig(opts.config);
  return first;
}

/** The step each resource (by logical name) took, from the engine's own events. */
export interface Steps {
  ops: Map<string, string[]>;
  /** Property names the engine said differ (its `diffs`, `detailedDiff` and replace `keys`), per resource. */
  diffs: Map<string, string[]>;
  events: EngineEvent[];
}

export function collector(output: string[]): { onEvent: (e: EngineEvent) => void; onOutput: (s: string) => void; steps: Steps } {
  const steps: Steps = { ops: new Map(), diffs: new Map(), events: [] };
  return {
    steps,
    onOutput: (s: string) => output.push(s),
    onEvent: (e: EngineEvent) => {
      steps.events.push(e);
      output.push(JSON.stringify(e));
      const meta = e.resourcePreEvent?.metadata;
      if (!meta || meta.type === "pulumi:pulumi:Stack") return;
      const name = meta.urn.split("::").pop() ?? meta.urn;
      steps.ops.set(name, [...(steps.ops.get(name) ?? []), meta.op]);
      const diffs = [...(meta.diffs ?? []), ...(meta.keys ?? []), ...Object.keys(meta.detailedDiff ?? {})];
      if (diffs.length) steps.diffs.set(name, [...new Set([...(steps.diffs.get(name) ?? []), ...diffs])].sort());
    },
  };
}

/** Operations other than "same" in a change summary. */
export function changesIn(summary: OpMap | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(summary ?? {})) if (op !== "same" && n) out[op] = n;
  return out;
}
