// The contract every lab kind (network namespaces, full-kernel VMs) fulfils, so one
// integration suite can run against either. Lab helpers observe hosts directly
// (nsenter, or the OpenSSH client for VMs), never through the library's own transport,
// so a test asserts on what the host really has.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Resolve even on a non-zero exit (default: reject with stdout/stderr in the message). */
  allowFail?: boolean;
  timeoutMs?: number;
}

/** Something that can run an argv (never a shell string) and report what happened. */
export type Exec = (argv: string[], opts?: ExecOptions) => Promise<ExecResult>;

export interface LabSsh {
  host: string; // always 127.0.0.1 (a loopback forward into the lab host)
  port: number;
  user: string; // "root"
  privateKey: string; // OpenSSH private key text, unencrypted
  hostPublicKey: string; // the host's key as an OpenSSH public key line: "ssh-ed25519 AAAA..."
}

export interface LabHost {
  name: string; // "h1", "h2", ...
  ssh: LabSsh;
  /** The NIC on the shared LAN that macvlan/ipvlan networks use as parent. */
  lanParent: string;
  /** The host's own address on lanParent, CIDR ("198.51.100.11/24"). */
  lanAddress: string;
  /** Run a command on the host itself (as root, in its network namespace). */
  exec: Exec;
  /** Run the docker CLI against this host's own daemon. */
  docker: Exec;
}

export interface Lab {
  kind: "netns" | "vm";
  hosts: LabHost[];
  lan: {
    subnet: string; // "198.51.100.0/24"
    /** A device outside every lab host on the same LAN, with an address, that containers can ping. */
    external: { address: string; exec: Exec };
  };
  /** A busybox image present on every host (tag). */
  image: string;
  stop(): Promise<void>;
}
