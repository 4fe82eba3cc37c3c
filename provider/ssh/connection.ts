// The Connection input every resource has: its schema (the single source of its type), the
// secret paths that are never shown, and how a target is named in messages.

import { utils as sshUtils } from "ssh2";
import { z } from "zod";
import { InputValidationError } from "../errors";
import { describeIssues, hostName } from "../validate";
import { OPENSSH_KEY_LINE, SHA256_FINGERPRINT } from "./hostKeys";
import { entriesFor, knownHostsName } from "./knownHosts";

/** What reaching one SSH server takes: the target host's and each bastion hop's own fields. */
const endpointFields = {
  /** Host name or IP address of the Docker host. */
  host: hostName,
  /** SSH port. Default 22. */
  port: z.number().int().min(1).max(65535).default(22),
  /** Login user. Default "root"; a non-root user needs `sudo: true`, or for networks alone membership of the docker group. */
  user: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, "must be a POSIX user name")
    .default("root"),
  /** OpenSSH or PEM private key text. Secret. */
  privateKey: z.string().min(1).optional(),
  /** Passphrase of an encrypted privateKey. Secret. */
  privateKeyPassphrase: z.string().min(1).optional(),
  /** Password authentication. Secret. */
  password: z.string().min(1).optional(),
  /** Path of an ssh-agent socket (SSH_AUTH_SOCK) on the machine running Pulumi. */
  agentSocket: z.string().min(1).optional(),
  /** The host's public key as an OpenSSH line ("ssh-ed25519 AAAA...") or a "SHA256:..." fingerprint. */
  hostKey: z
    .string()
    .trim()
    .refine((v) => OPENSSH_KEY_LINE.test(v) || SHA256_FINGERPRINT.test(v), {
      message: 'must be an OpenSSH public key line ("ssh-ed25519 AAAA...") or a "SHA256:..." fingerprint',
    })
    .optional(),
  /**
   * The text of a known_hosts file (`ssh-keyscan HOST`, or lines of ~/.ssh/known_hosts), instead
   * of hostKey: hashed names, `[host]:port`, several key types and `@revoked` lines as ssh reads them.
   */
  knownHosts: z.string().min(1).optional(),
  /** Accept any host key. An explicit opt-out; without it an unpinned host is refused. */
  insecureIgnoreHostKey: z.boolean().default(false),
};

function refineEndpoint(c: z.output<z.ZodObject<typeof endpointFields>>, ctx: z.RefinementCtx): void {
  if (!c.privateKey && !c.password && !c.agentSocket) {
    ctx.addIssue({
      code: "custom",
      path: ["privateKey"],
      message: "no credentials: set privateKey, password or agentSocket",
    });
  }
  if (c.privateKey) {
    const parsed = sshUtils.parseKey(c.privateKey, c.privateKeyPassphrase);
    if (parsed instanceof Error) {
      // ssh2's message describes the format problem and never echoes key material.
      ctx.addIssue({ code: "custom", path: ["privateKey"], message: `cannot be parsed: ${parsed.message}` });
    }
  }
  if (c.knownHosts !== undefined && entriesFor(c.knownHosts, c.host, c.port) === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["knownHosts"],
      message: `has no entry for ${knownHostsName(c.host, c.port)}: add the line \`ssh-keyscan -p ${c.port} ${c.host}\` prints`,
    });
  }
  if (!c.hostKey && !c.knownHosts && !c.insecureIgnoreHostKey) {
    ctx.addIssue({
      code: "custom",
      path: ["hostKey"],
      message:
        "is required: pin the host's key (`ssh-keyscan HOST` prints it), give knownHosts, or set insecureIgnoreHostKey: true to accept any key",
    });
  }
}

/** One bastion hop of proxyJump: its own host, port, user, credentials and host key. */
export const ProxyHopSchema = z.object(endpointFields).strict().superRefine(refineEndpoint);
export type ProxyHop = z.output<typeof ProxyHopSchema>;

export const ConnectionSchema = z
  .object({
    ...endpointFields,
    /**
     * Bastions to go through, in order (OpenSSH's `ProxyJump a,b`): the first is dialled
     * directly, each next one and finally the host through the one before. Each hop's host key
     * is verified, and the target's too.
     */
    proxyJump: z.array(ProxyHopSchema).max(8).optional(),
    /** Run every command through `sudo -n` (the user needs passwordless sudo for docker and ip). */
    sudo: z.boolean().default(false),
    /**
     * TCP connect plus SSH handshake, per attempt and per hop; also how long the host may take
     * to answer a request to start a command. An open connection is probed every quarter of
     * this (at least 1 s) and dropped after 3 probes go unanswered, so a host that goes silent
     * is noticed within about this long (4 s at least) and the next operation dials anew.
     */
    connectTimeoutMs: z.number().int().min(1000).max(600_000).default(20_000),
    /**
     * One remote command, and the wait for the host-side lock of a link change. The host ends
     * the command itself (coreutils `timeout`, TERM then KILL) up to 1 s before this, so it
     * never runs on after the operation has failed; the operation fails at this deadline
     * either way, and a multi-step change undoes the step that timed out as well.
     */
    commandTimeoutMs: z.number().int().min(1000).max(3_600_000).default(300_000),
    /**
     * How many times to try a connection that fails before a session exists (refused, reset,
     * timed out, closed during the handshake), waiting longer each time. Authentication and
     * host-key failures are never retried. Like @pulumi/command's dialErrorLimit.
     */
    dialErrorLimit: z.number().int().min(1).max(100).default(5),
  })
  .strict()
  .superRefine(refineEndpoint);

/** The connection as a program writes it (defaults optional). */
export type ConnectionArgs = z.input<typeof ConnectionSchema>;
/** The connection after validation, defaults filled in. */
export type ConnectionConfig = z.output<typeof ConnectionSchema>;

/** Paths (from a resource's inputs) whose values are never shown in an error, a log line or a diff. */
export const CONNECTION_SECRET_PATHS = [
  "connection.privateKey",
  "connection.privateKeyPassphrase",
  "connection.password",
  // Every hop proxyJump may have (at most 8).
  ...Array.from({ length: 8 }, (_, i) =>
    ["privateKey", "privateKeyPassphrase", "password"].map((f) => `connection.proxyJump.${i}.${f}`),
  ).flat(),
];

export function describeTarget(c: ConnectionConfig): string {
  const host = c.host.includes(":") ? `[${c.host}]` : c.host;
  return `ssh://${c.user}@${host}:${c.port}`;
}

/** The connection saved in a resource's state, validated again before use (read, delete). */
export function parseConnection(value: unknown, resource: string): ConnectionConfig {
  const parsed = ConnectionSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ ...i, path: ["connection", ...i.path] }));
  throw new InputValidationError(resource, describeIssues(issues, { connection: value }, CONNECTION_SECRET_PATHS));
}
