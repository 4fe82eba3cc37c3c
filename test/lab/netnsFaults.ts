// Fault injection on a netns lab host: rule files the host's ForceCommand (fault-command.sh)
// reads, and netns-lab.sh's sshd/dockerd stop and start. Every process touched is one the lab
// started, named by the pid it recorded.

import { promises as fs } from "node:fs";
import * as path from "node:path";
import { run } from "./run";
import type { FaultAction, LabFaults } from "./types";

const FAULT_CMD_TIMEOUT_MS = 90_000;

/** Whether a pid is running (a zombie or a stopped-then-killed one counts as gone). */
async function running(pid: number): Promise<boolean> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, "utf8");
    return !/^State:\s+[ZX]/m.test(status);
  } catch {
    return false;
  }
}

async function pidsIn(file: string): Promise<number[]> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  return text
    .split(/\s+/)
    .filter((p) => /^[0-9]+$/.test(p))
    .map(Number);
}

export function netnsFaults(script: string, labDir: string, host: string, hostDir: string): LabFaults {
  const rulesDir = path.join(hostDir, "faults");
  let seq = 0;
  const lab = (command: string) => run(["bash", script, command, labDir, host], { timeoutMs: FAULT_CMD_TIMEOUT_MS }).then(() => undefined);
  const listener = async (signal: NodeJS.Signals) => {
    const [pid] = await pidsIn(path.join(hostDir, "socat.pid"));
    if (pid === undefined) throw new Error(`${host}: no socat.pid`);
    process.kill(pid, signal);
  };
  return {
    async inject(action: FaultAction, pattern: string): Promise<void> {
      seq += 1;
      // Written aside and renamed: the host never reads half a rule.
      const file = path.join(rulesDir, `${String(seq).padStart(4, "0")}.${action}`);
      await fs.writeFile(`${hostDir}/rule.tmp`, pattern);
      await fs.rename(`${hostDir}/rule.tmp`, file);
    },
    async pending(): Promise<string[]> {
      const names = (await fs.readdir(rulesDir)).sort();
      return Promise.all(names.map(async (n) => `${n.slice(n.indexOf(".") + 1)} ${await fs.readFile(path.join(rulesDir, n), "utf8")}`));
    },
    async hung(): Promise<number[]> {
      const pids = await pidsIn(path.join(hostDir, "faults.hung"));
      const alive = await Promise.all(pids.map(running));
      return pids.filter((_, i) => alive[i]);
    },
    async clear(): Promise<void> {
      for (const n of await fs.readdir(rulesDir)) await fs.rm(path.join(rulesDir, n), { force: true });
      for (const file of ["faults.stopped", "faults.hung"]) {
        for (const pid of await pidsIn(path.join(hostDir, file))) {
          if (await running(pid)) process.kill(pid, "SIGKILL");
        }
        await fs.rm(path.join(hostDir, file), { force: true });
      }
      // A paused listener goes on; a stopped one (stopSshd) has nothing to resume.
      await listener("SIGCONT").catch(() => undefined);
    },
    stopSshd: () => lab("sshd-stop"),
    startSshd: () => lab("sshd-start"),
    pauseListener: () => listener("SIGSTOP"),
    resumeListener: () => listener("SIGCONT"),
    stopDockerd: () => lab("dockerd-stop"),
    startDockerd: () => lab("dockerd-start"),
    sshdLog: () => fs.readFile(path.join(hostDir, "sshd.log"), "utf8"),
  };
}
