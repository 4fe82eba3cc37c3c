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
  /** Fault injection on this host (the netns lab; README.md beside this file, "Faults"). */
  faults?: LabFaults;
  /** The last lines of the host's serial console (VM lab only), for a test to show when the host does not come back. */
  consoleTail?: (lines: number) => string;
}

/**
 * What a fault rule does to the first command (or, for api-*, Docker API request line) its
 * pattern matches; each rule fires once.
 * - cut-before / cut-after: the SSH connection is killed before the command runs / after it ran,
 *   before its exit status goes out.
 * - hang: the command's `ip` and `docker` never end.
 * - silent: the connection's sshd and the command are SIGSTOPped: the host stops answering.
 * - api-cut-before / api-cut-after: the connection is killed before dockerd sees the request /
 *   once dockerd has answered it, before the answer goes back.
 */
export type FaultAction = "cut-before" | "cut-after" | "hang" | "silent" | "api-cut-before" | "api-cut-after";

export interface LabFaults {
  /** Adds a rule; `pattern` is an ERE (a regex both bash and JavaScript read alike). */
  inject(action: FaultAction, pattern: string): Promise<void>;
  /** The rules that have not fired yet, as "action pattern". */
  pending(): Promise<string[]>;
  /** Pids of commands a `hang` rule hung that are still running. */
  hung(): Promise<number[]>;
  /** Removes every rule and kills what faults left behind (silenced connections, hung commands). */
  clear(): Promise<void>;
  /** The listener and every connection it accepted go (sshd down), and come back. */
  stopSshd(): Promise<void>;
  startSshd(): Promise<void>;
  /** SIGSTOP / SIGCONT the listener: connections are accepted by the kernel and never answered. */
  pauseListener(): Promise<void>;
  resumeListener(): Promise<void>;
  /** dockerd stops (SIGTERM) / starts again with the same data, networks included. */
  stopDockerd(): Promise<void>;
  startDockerd(): Promise<void>;
  /** sshd's log of this host (one "Connection closed by authenticating user" per refused login). */
  sshdLog(): Promise<string>;
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
