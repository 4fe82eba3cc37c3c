// The full-kernel VM lab (kind "vm"): Debian trixie guests under qemu TCG, for what the
// machine's own kernel cannot do (ipvlan, 802.1q VLANs). The image is built once and cached
// by test/lab/vm/build-image.sh; each VM boots from a throwaway qcow2 overlay via
// test/lab/vm/boot.sh. Hosts are reached with the OpenSSH client only (never the library's
// own transport), through a loopback port forward into the guest's slirp NIC.
//
// LAN: VM 1's eth1 and eth2 sit on one in-qemu hub; eth2 is moved by the guest into netns
// "ext" with 198.51.100.1/24 (the external device). VM n's eth1 (198.51.100.1n/24) joins the
// same hub through a unix stream socket.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { shellCommand } from "../../provider/host/command";
import { run } from "./run";
import type { Exec, ExecOptions, ExecResult, Lab, LabHost } from "./types";
import { vmFaults } from "./vmFaults";

const IMAGE_TAG = "ulab/busybox:latest";
const LAN_SUBNET = "198.51.100.0/24";
const EXTERNAL_ADDRESS = "198.51.100.1";
const DEFAULT_EXEC_TIMEOUT_MS = 300_000;
const BUILD_TIMEOUT_MS = 30 * 60_000;
const BOOT_TIMEOUT_MS = Number(process.env.ULAB_VM_BOOT_TIMEOUT_S ?? "600") * 1000;

function log(msg: string): void {
  process.stderr.write(`[vmlab] ${msg}\n`);
}

function remoteCommand(argv: string[]): string {
  if (argv.length === 0) throw new Error("vmLab exec: empty argv");
  return shellCommand(argv);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function findVmDir(): string {
  const fromEnv = process.env.ULAB_VM_DIR;
  if (fromEnv) return fromEnv;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, "vm"), path.join(dir, "test", "lab", "vm")]) {
      if (fs.existsSync(path.join(candidate, "build-image.sh"))) return candidate;
    }
    if (path.dirname(dir) === dir) break;
  }
  const fromCwd = path.join(process.cwd(), "test", "lab", "vm");
  if (fs.existsSync(path.join(fromCwd, "build-image.sh"))) return fromCwd;
  throw new Error("vmLab: cannot find test/lab/vm/build-image.sh (set ULAB_VM_DIR)");
}

/** Build the image if the cache lacks it; returns the cache dir. */
async function ensureImage(vmDir: string): Promise<string> {
  const t0 = Date.now();
  let res: ExecResult;
  try {
    res = await run(["bash", path.join(vmDir, "build-image.sh")], { timeoutMs: BUILD_TIMEOUT_MS, inheritStderr: true });
  } catch (err) {
    throw new Error(`vmLab: building the VM image failed (see the [build-image] lines above): ${(err as Error).message}`);
  }
  const dir = res.stdout.trim().split("\n").pop() ?? "";
  for (const f of ["vmlinuz", "initrd.img", "rootfs.img", "lab_key", "host_key.pub", "READY"]) {
    if (!fs.existsSync(path.join(dir, f))) throw new Error(`vmLab: image dir "${dir}" lacks ${f}`);
  }
  const secs = (Date.now() - t0) / 1000;
  if (secs > 5) log(`image ready in ${secs.toFixed(1)}s: ${dir}`);
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

function tailFile(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return `(no ${file})`;
  }
}

interface Vm {
  index: number;
  name: string;
  port: number;
  pid: number;
  serialLog: string;
  exited: boolean;
  exitInfo: string;
  qemuStderr: string;
  exitPromise: Promise<void>;
  sshBase: string[];
  exec: Exec;
}

interface Ctx {
  vmDir: string;
  imageDir: string;
  work: string;
  hosts: number;
  keyFile: string;
  knownHosts: string;
}

function sshBaseArgs(ctx: Ctx, name: string, port: number): string[] {
  return [
    "-i",
    ctx.keyFile,
    "-p",
    String(port),
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "HostKeyAlias=ulab-vm",
    "-o",
    "StrictHostKeyChecking=yes",
    `-o`,
    `UserKnownHostsFile=${ctx.knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=15",
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=4",
    "-o",
    `ControlPath=${path.join(ctx.work, `cm-${name}`)}`,
    "-T",
  ];
}

function makeExec(vm: { name: string; sshBase: string[] }): Exec {
  return (argv: string[], opts?: ExecOptions) =>
    run(
      // The first call starts a persistent multiplexing master; later ones reuse it
      // (a fresh connection costs 1-2 s under TCG). If it is gone, ssh connects directly.
      ["ssh", ...vm.sshBase, "-o", "ControlMaster=auto", "-o", "ControlPersist=600", "root@127.0.0.1", remoteCommand(argv)],
      {
        timeoutMs: opts?.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
        allowFail: opts?.allowFail,
        describe: `[vm ${vm.name}] ${JSON.stringify(argv)}`,
      },
    );
}

async function startQemu(ctx: Ctx, index: number): Promise<Vm> {
  const name = `h${index}`;
  let lastErr = "";
  for (let attempt = 1; attempt <= 4; attempt++) {
    const port = await freePort();
    const args = [
      path.join(ctx.vmDir, "boot.sh"),
      "--image",
      ctx.imageDir,
      "--work",
      ctx.work,
      "--index",
      String(index),
      "--hosts",
      String(ctx.hosts),
      "--port",
      String(port),
      "--watch-pid",
      String(process.pid),
    ];
    const child = spawn("bash", args, { stdio: ["ignore", "ignore", "pipe"] });
    if (child.pid === undefined) throw new Error("vmLab: could not spawn bash boot.sh");
    const sshBase = sshBaseArgs(ctx, name, port);
    const vm: Vm = {
      index,
      name,
      port,
      pid: child.pid,
      serialLog: path.join(ctx.work, `vm${index}.serial.log`),
      exited: false,
      exitInfo: "",
      qemuStderr: "",
      exitPromise: Promise.resolve(),
      sshBase,
      exec: makeExec({ name, sshBase }),
    };
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (vm.qemuStderr += d));
    vm.exitPromise = new Promise<void>((resolve) => {
      child.on("close", (code, signal) => {
        vm.exited = true;
        vm.exitInfo = signal ? `signal ${signal}` : `exit ${code}`;
        resolve();
      });
      child.on("error", (err) => {
        vm.exited = true;
        vm.exitInfo = err.message;
        resolve();
      });
    });
    // qemu fails fast on a bad option or a taken forward port.
    await Promise.race([vm.exitPromise, sleep(1500)]);
    if (!vm.exited) return vm;
    lastErr = vm.qemuStderr;
    if (!/host forwarding|Address already in use/i.test(lastErr)) break;
  }
  throw new Error(`vmLab: qemu for ${name} did not start:\n${lastErr}`);
}

function bootFailure(vm: Vm, what: string): Error {
  const why = vm.exited ? `qemu ended (${vm.exitInfo}): ${vm.qemuStderr.trim()}` : "";
  return new Error(`vmLab: ${vm.name} ${what}. ${why}\n--- last lines of ${vm.serialLog} ---\n${tailFile(vm.serialLog, 40)}`);
}

async function waitReady(vm: Vm, t0: number): Promise<void> {
  const deadline = t0 + BOOT_TIMEOUT_MS;
  // A real SSH handshake with the pinned host key (slirp accepts TCP before sshd runs).
  for (;;) {
    if (vm.exited) throw bootFailure(vm, "died while booting");
    if (Date.now() > deadline) throw bootFailure(vm, `gave no SSH login within ${BOOT_TIMEOUT_MS / 1000}s`);
    const probe = await run(["ssh", ...vm.sshBase, "-o", "ControlMaster=no", "root@127.0.0.1", "true"], {
      timeoutMs: 30_000,
      allowFail: true,
    }).catch((): ExecResult => ({ code: -1, stdout: "", stderr: "timeout" }));
    if (probe.code === 0) break;
    await sleep(2000);
  }
  const tSsh = Date.now();
  let last: ExecResult = { code: -1, stdout: "", stderr: "" };
  for (;;) {
    if (vm.exited) throw bootFailure(vm, "died while starting Docker");
    if (Date.now() > deadline) {
      throw bootFailure(vm, `had no working Docker within ${BOOT_TIMEOUT_MS / 1000}s (last: ${last.stdout}${last.stderr})`);
    }
    const checks = [
      "docker info --format '{{.ServerVersion}}' >/dev/null",
      `docker image inspect ${IMAGE_TAG} >/dev/null`,
      vm.index === 1 ? "ip -n ext -br addr show eth2 | grep -q 198.51.100.1/24" : "true",
      `ip -br addr show eth1 | grep -q 198.51.100.1${vm.index}/24`,
    ].join(" && ");
    last = await vm
      .exec(["sh", "-c", checks], { allowFail: true, timeoutMs: 60_000 })
      .catch((err: Error): ExecResult => ({ code: -1, stdout: "", stderr: err.message }));
    if (last.code === 0) break;
    await sleep(2000);
  }
  const tReady = Date.now();
  log(
    `${vm.name}: ssh after ${((tSsh - t0) / 1000).toFixed(1)}s, docker ready after ${((tReady - t0) / 1000).toFixed(1)}s` +
      ` (port ${vm.port}, serial ${vm.serialLog})`,
  );
}

async function stopVm(vm: Vm): Promise<void> {
  await run(["ssh", ...vm.sshBase, "-O", "exit", "root@127.0.0.1"], { allowFail: true, timeoutMs: 5000 }).catch(() => undefined);
  if (!vm.exited) {
    try {
      process.kill(vm.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    await Promise.race([vm.exitPromise, sleep(5000)]);
    if (!vm.exited) {
      try {
        process.kill(vm.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      await Promise.race([vm.exitPromise, sleep(5000)]);
    }
  }
}

/** Boot `hosts` VMs (1..9; default 1) and return them as a Lab. Throws (never skips) on failure. */
export async function startVmLab(opts?: { hosts?: number }): Promise<Lab> {
  const hosts = opts?.hosts ?? 1;
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > 9) throw new Error(`vmLab: hosts must be 1..9, got ${hosts}`);
  const vmDir = findVmDir();
  const imageDir = await ensureImage(vmDir);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ulab-vm-"));
  const keyFile = path.join(work, "lab_key");
  const privateKey = fs.readFileSync(path.join(imageDir, "lab_key"), "utf8");
  fs.writeFileSync(keyFile, privateKey, { mode: 0o600 });
  const hostPublicKey = fs.readFileSync(path.join(imageDir, "host_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  const knownHosts = path.join(work, "known_hosts");
  fs.writeFileSync(knownHosts, `ulab-vm ${hostPublicKey}\n`);
  const ctx: Ctx = { vmDir, imageDir, work, hosts, keyFile, knownHosts };

  const vms: Vm[] = [];
  // Last resort if the process exits without stop(): qemu also has a watchdog (boot.sh).
  const onExit = (): void => {
    for (const vm of vms) {
      try {
        if (!vm.exited) process.kill(vm.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    fs.rmSync(work, { recursive: true, force: true });
  };
  process.on("exit", onExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(vms.map(stopVm));
    process.removeListener("exit", onExit);
    fs.rmSync(work, { recursive: true, force: true });
  };

  try {
    const t0 = Date.now();
    vms.push(await startQemu(ctx, 1));
    if (hosts > 1) {
      // VM k's LAN NIC connects to VM 1's hub socket: wait for VM 1 to listen.
      const socks = Array.from({ length: hosts - 1 }, (_, i) => path.join(work, `lan-${i + 2}.sock`));
      const sockDeadline = Date.now() + 30_000;
      while (!socks.every((s) => fs.existsSync(s))) {
        if (vms[0].exited || Date.now() > sockDeadline) throw bootFailure(vms[0], "did not open its LAN sockets");
        await sleep(200);
      }
      for (let i = 2; i <= hosts; i++) vms.push(await startQemu(ctx, i));
    }
    log(`booting ${hosts} VM(s) from ${imageDir} in ${work}`);
    await Promise.all(vms.map((vm) => waitReady(vm, t0)));
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }

  const labHosts: LabHost[] = vms.map((vm) => ({
    name: vm.name,
    ssh: { host: "127.0.0.1", port: vm.port, user: "root", privateKey, hostPublicKey },
    lanParent: "eth1",
    lanAddress: `198.51.100.1${vm.index}/24`,
    exec: vm.exec,
    docker: (args: string[], o?: ExecOptions) => vm.exec(["docker", ...args], o),
    faults: vmFaults(vm.exec),
    consoleTail: (lines: number) => tailFile(vm.serialLog, lines),
  }));
  const h1 = vms[0];
  return {
    kind: "vm",
    hosts: labHosts,
    lan: {
      subnet: LAN_SUBNET,
      external: {
        address: EXTERNAL_ADDRESS,
        exec: (argv: string[], o?: ExecOptions) => h1.exec(["ip", "netns", "exec", "ext", ...argv], o),
      },
    },
    image: IMAGE_TAG,
    stop,
  };
}
