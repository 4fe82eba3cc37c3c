// An sshd inside a netns lab host listening on its LAN address, reachable only from inside the
// lab (the LAN bridge): what a bastion's private network looks like. Uses the host's own
// sshd_config, host key and authorized keys. The lab's `down` ends it with the namespace's
// other processes; stop() ends it sooner.

import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import type { NetnsLab } from "./netnsLab";

export interface LanSshd {
  /** The host's LAN address (no prefix length). */
  address: string;
  port: number;
  stop(): void;
}

export async function startLanSshd(lab: NetnsLab, index: number, port = 22): Promise<LanSshd> {
  const host = lab.hosts[index];
  const address = host.lanAddress.split("/")[0];
  const hd = path.join(lab.dir, `h${index + 1}`);
  const child: ChildProcess = spawn(
    "nsenter",
    [
      `--net=/var/run/netns/${lab.prefix}-h${index + 1}`,
      // As the lab's own sshd (netns-lab.sh): the host's /run/lock, not this machine's, for the
      // host lock and the dead-man switch's tokens. Each step execs the next, so the pid is sshd's.
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount --bind "$1/lock" /run/lock && exec /usr/sbin/sshd -D -e -f "$1/sshd_config" -o "ListenAddress=$2"',
      "sh",
      hd,
      `${address}:${port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const probe = await host.exec(["bash", "-c", `exec 3<>/dev/tcp/${address}/${port}`], { allowFail: true });
    if (probe.code === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd on ${address}:${port} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address, port, stop: () => child.pid !== undefined && child.exitCode === null && process.kill(child.pid) };
}
