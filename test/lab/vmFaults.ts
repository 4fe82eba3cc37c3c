// Fault injection on a VM lab host: the same ForceCommand wrapper as the netns lab
// (fault-command.sh), installed into the running guest as an sshd drop-in the first time a
// rule is added, so the image stays as built. The lab's own helpers keep working: they share one
// OpenSSH master connection made before the drop-in, which keeps the settings it started with.
// The guest has no Node, so the api-* rules are the netns lab's only; the guest's sshd cannot be
// stopped either, since the helpers reach the guest through it.

import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { Exec, FaultAction, LabFaults } from "./types";

// Not under /run: the guest mounts it noexec.
const DIR = "/var/lib/ulab-faults";

function wrapperText(): string {
  const candidates = [
    path.join(__dirname, "fault-command.sh"),
    path.resolve(__dirname, "..", "..", "..", "test", "lab", "fault-command.sh"),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`fault-command.sh not found (looked in: ${candidates.join(", ")})`);
  return readFileSync(found, "utf8");
}

// $1 = DIR, $2 = the wrapper, base64. Same layout as netns-lab.sh's write_fault_files.
const INSTALL = [
  'set -e; mkdir -p "$1/faults" "$1/fault-bin"',
  'printf %s "$2" | base64 -d >"$1/fault-command"; chmod 0755 "$1/fault-command"',
  'printf "#!/bin/sh\\necho \\$\\$ >>%s/faults.hung\\nexec sleep 86400\\n" "$1" >"$1/fault-bin/hang"; chmod 0755 "$1/fault-bin/hang"',
  'ln -sf hang "$1/fault-bin/ip"; ln -sf hang "$1/fault-bin/docker"',
  'printf "ForceCommand %s/fault-command %s none\\n" "$1" "$1" >/etc/ssh/sshd_config.d/zz-ulab-faults.conf',
  "sshd -t; systemctl reload ssh",
].join("\n");

function unsupported(what: string): () => Promise<void> {
  return () => Promise.reject(new Error(`${what} is not available on the VM lab: its helpers reach the guest through that sshd`));
}

export function vmFaults(exec: Exec): LabFaults {
  let installed: Promise<unknown> | undefined;
  let seq = 0;
  const install = () => {
    installed ??= exec(["sh", "-c", INSTALL, "-", DIR, Buffer.from(wrapperText()).toString("base64")]);
    return installed;
  };
  const killListed =
    'for f in "$1/faults.stopped" "$1/faults.hung"; do [ -f "$f" ] && kill -KILL $(cat "$f") 2>/dev/null; rm -f "$f"; done; true';
  return {
    async inject(action: FaultAction, pattern: string): Promise<void> {
      if (action.startsWith("api-")) throw new Error(`${action}: the VM guest has no Node for the Docker API stand-in`);
      await install();
      seq += 1;
      const file = `${DIR}/faults/${String(seq).padStart(4, "0")}.${action}`;
      await exec(["sh", "-c", 'printf %s "$3" >"$1/rule.tmp" && mv "$1/rule.tmp" "$2"', "-", DIR, file, pattern]);
    },
    async pending(): Promise<string[]> {
      const listing = await exec([
        "sh",
        "-c",
        'for f in "$1"/faults/*.*; do [ -f "$f" ] && printf "%s %s\\n" "${f##*.}" "$(cat "$f")"; done; true',
        "-",
        DIR,
      ]);
      return listing.stdout.split("\n").filter(Boolean);
    },
    async hung(): Promise<number[]> {
      const out = await exec([
        "sh",
        "-c",
        'for p in $(cat "$1/faults.hung" 2>/dev/null); do kill -0 "$p" 2>/dev/null && echo "$p"; done; true',
        "-",
        DIR,
      ]);
      return out.stdout.split("\n").filter(Boolean).map(Number);
    },
    async clear(): Promise<void> {
      await exec(["sh", "-c", `rm -f "$1"/faults/*; ${killListed}`, "-", DIR]);
    },
    stopSshd: unsupported("stopping sshd"),
    startSshd: async () => undefined,
    pauseListener: unsupported("pausing sshd"),
    resumeListener: async () => undefined,
    stopDockerd: () => exec(["systemctl", "stop", "docker.socket", "docker.service"]).then(() => undefined),
    startDockerd: () => exec(["systemctl", "start", "docker.service"]).then(() => undefined),
    sshdLog: () => exec(["journalctl", "-u", "ssh", "--no-pager", "-o", "cat"]).then((r) => r.stdout),
  };
}
