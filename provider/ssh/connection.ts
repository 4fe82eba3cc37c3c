// The one SSH transport. Every resource reaches its host through `hostSession(connection)`:
// one ssh2 client per distinct connection, opened lazily, reused by every resource in the
// process, with commands to one host queued so link changes never race each other.
//
// This module must be loaded with `require` at run time (see dynamic.ts), never captured by
// Pulumi's closure serializer: a captured copy would give each resource its own pool.

import { createHash } from "node:crypto";
import { connect as tcpConnect, Socket } from "node:net";
import { Client, ClientChannel, ConnectConfig, utils as sshUtils } from "ssh2";
import { z } from "zod";
import { Argv, CommandResult, RemoteCommandError, toRemoteCommand, TransportError } from "../host/command";
import { describeIssues, hostName, InputValidationError } from "../validate";

const OPENSSH_KEY_LINE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/;
const SHA256_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export const ConnectionSchema = z
  .object({
    /** Host name or IP address of the Docker host. */
    host: hostName,
    port: z.number().int().min(1).max(65535).default(22),
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
    /** Accept any host key. An explicit opt-out; without it an unpinned host is refused. */
    insecureIgnoreHostKey: z.boolean().default(false),
    /** Run every command through `sudo -n` (the user needs passwordless sudo for docker and ip). */
    sudo: z.boolean().default(false),
    connectTimeoutMs: z.number().int().min(1000).max(600_000).default(20_000),
    commandTimeoutMs: z.number().int().min(1000).max(3_600_000).default(300_000),
  })
  .strict()
  .superRefine((c, ctx) => {
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
    if (!c.hostKey && !c.insecureIgnoreHostKey) {
      ctx.addIssue({
        code: "custom",
        path: ["hostKey"],
        message:
          "is required: pin the host's key (`ssh-keyscan HOST` prints it) or set insecureIgnoreHostKey: true to accept any key",
      });
    }
  });

/** The connection as a program writes it (defaults optional). */
export type ConnectionArgs = z.input<typeof ConnectionSchema>;
/** The connection after validation, defaults filled in. */
export type ConnectionConfig = z.output<typeof ConnectionSchema>;

/** Paths (from a resource's inputs) whose values are never shown in an error, a log line or a diff. */
export const CONNECTION_SECRET_PATHS = [
  "connection.privateKey",
  "connection.privateKeyPassphrase",
  "connection.password",
];

export function describeTarget(c: ConnectionConfig): string {
  const host = c.host.includes(":") ? `[${c.host}]` : c.host;
  return `ssh://${c.user}@${host}:${c.port}`;
}

/** The host's key in OpenSSH's fingerprint form, for error messages and for pinning. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString("latin1");
}

/** Host key algorithms to offer first, so the server presents the key type the user pinned. */
function preferredHostKeyAlgorithms(hostKey: string | undefined): ConnectConfig["algorithms"] {
  const type = hostKey ? OPENSSH_KEY_LINE.exec(hostKey)?.[1] : undefined;
  if (!type) return undefined;
  const offered = type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
  return { serverHostKey: { prepend: offered } } as ConnectConfig["algorithms"];
}

interface HostKeyVerdict {
  accepted: boolean;
  presented?: string;
}

function verifyHostKey(c: ConnectionConfig, keyBlob: Buffer, verdict: HostKeyVerdict): boolean {
  verdict.presented = `${keyTypeOf(keyBlob)} ${fingerprintOf(keyBlob)}`;
  if (c.hostKey) {
    const line = OPENSSH_KEY_LINE.exec(c.hostKey);
    verdict.accepted = line
      ? Buffer.from(line[2], "base64").equals(keyBlob)
      : c.hostKey === fingerprintOf(keyBlob);
  } else {
    verdict.accepted = c.insecureIgnoreHostKey;
  }
  return verdict.accepted;
}

class ChannelOpenError extends TransportError {}

export type RunCommand = (argv: Argv, options?: RunOptions) => Promise<CommandResult>;

export interface RunOptions {
  /**
   * Resolve with the result on a non-zero exit instead of throwing RemoteCommandError: always
   * (true), or only for the failures the predicate expects ("no such network").
   */
  allowFailure?: boolean | ((result: CommandResult) => boolean);
  /** Sent to the command's standard input (a file's content for `tee`); stdin is closed either way. */
  stdin?: string;
}

/** One host's SSH client and its command queue. */
class HostSession {
  private client?: Promise<Client>;
  private queue: Promise<unknown> = Promise.resolve();
  private socket?: Socket;
  private inFlight = 0;

  constructor(private readonly connection: ConnectionConfig) {}

  get target(): string {
    return describeTarget(this.connection);
  }

  /** Runs one command after every command queued before it on this host. */
  run(argv: Argv, options: RunOptions = {}): Promise<CommandResult> {
    return this.exclusive((run) => run(argv, options));
  }

  /**
   * Holds the host's queue for a whole sequence (create a link, address it, route through it),
   * so no other resource's command runs in between.
   */
  exclusive<T>(body: (run: RunCommand) => Promise<T>): Promise<T> {
    const result = this.queue.then(() => this.withActivity(() => body((argv, options) => this.execute(argv, options ?? {}))));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    const client = this.client;
    this.client = undefined;
    void client?.then((c) => c.end(), () => undefined);
  }

  // The socket is unref'd while idle so a pooled connection never keeps a process alive,
  // and ref'd while a command runs so the process does not exit under it.
  private async withActivity<T>(body: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.socket?.ref();
    try {
      return await body();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.socket?.unref();
    }
  }

  private async execute(argv: Argv, options: RunOptions): Promise<CommandResult> {
    const command = toRemoteCommand(argv, { sudo: this.connection.sudo });
    let result: CommandResult;
    try {
      result = await this.exec(await this.connect(), command, argv, options.stdin);
    } catch (err) {
      // A pooled connection the server dropped while idle fails at channel open, before the
      // command ran: reconnecting once is safe then, and only then.
      if (!(err instanceof ChannelOpenError)) throw err;
      result = await this.exec(await this.connect(), command, argv, options.stdin);
    }
    const allowed =
      typeof options.allowFailure === "function" ? options.allowFailure(result) : options.allowFailure === true;
    if (result.exitCode !== 0 && !allowed) {
      throw new RemoteCommandError(this.target, argv, result);
    }
    return result;
  }

  private exec(client: Client, command: string, argv: Argv, stdin: string | undefined): Promise<CommandResult> {
    const shown = `\`${argv.join(" ")}\``;
    return new Promise((resolve, reject) => {
      const cannotStart = (err: Error) => {
        this.close();
        reject(new ChannelOpenError(`${this.target}: cannot start ${shown}: ${err.message}`));
      };
      const onChannel = (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          cannotStart(err);
          return;
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let exitCode: number | undefined;
        let signal: string | undefined;
        const timer = setTimeout(() => {
          signal = "timeout";
          channel.close();
        }, this.connection.commandTimeoutMs);
        timer.unref();
        // EOF on stdin, so a command that reads it never waits for input nobody sends.
        channel.end(stdin);
        channel.on("data", (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        channel.on("exit", (code: number | null, sig?: string) => {
          if (code !== null) exitCode = code;
          if (sig) signal = sig;
        });
        channel.on("close", () => {
          clearTimeout(timer);
          const errText = Buffer.concat(stderr).toString("utf8");
          if (signal === "timeout") {
            reject(new TransportError(`${this.target}: ${shown} did not finish within ${this.connection.commandTimeoutMs} ms`));
          } else if (exitCode === undefined) {
            const why = `${signal ? ` (signal ${signal})` : ""}${errText ? `: ${errText.trim()}` : ""}`;
            reject(new TransportError(`${this.target}: ${shown} ended without an exit status${why}`));
          } else {
            resolve({ exitCode, stdout: Buffer.concat(stdout).toString("utf8"), stderr: errText });
          }
        });
      };
      // ssh2 throws ("Not connected") instead of calling back when the connection is gone.
      try {
        client.exec(command, onChannel);
      } catch (err) {
        cannotStart(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private connect(): Promise<Client> {
    if (!this.client) {
      const pending = this.open();
      this.client = pending;
      pending.catch(() => {
        if (this.client === pending) this.client = undefined;
      });
    }
    return this.client;
  }

  private open(): Promise<Client> {
    const c = this.connection;
    return new Promise((resolve, reject) => {
      const verdict: HostKeyVerdict = { accepted: false };
      const client = new Client();
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.end();
        socket.destroy();
        reject(new TransportError(`${this.target}: ${message}`));
      };
      const timer = setTimeout(() => fail(`no SSH session within ${c.connectTimeoutMs} ms`), c.connectTimeoutMs);
      const socket = tcpConnect({ host: c.host, port: c.port });
      this.socket = socket;
      socket.once("error", (err: Error) => fail(`cannot connect: ${err.message}`));
      socket.once("connect", () => {
        client.connect({
          sock: socket,
          username: c.user,
          privateKey: c.privateKey,
          passphrase: c.privateKeyPassphrase,
          password: c.password,
          agent: c.agentSocket,
          readyTimeout: c.connectTimeoutMs,
          algorithms: preferredHostKeyAlgorithms(c.hostKey),
          hostVerifier: (key: Buffer) => verifyHostKey(c, key, verdict),
        });
      });
      client.once("ready", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.inFlight === 0) socket.unref();
        resolve(client);
      });
      client.on("error", (err: Error & { level?: string }) => {
        if (verdict.presented && !verdict.accepted) {
          fail(
            c.hostKey
              ? `host key verification failed: the host presented ${verdict.presented}, which does not match connection.hostKey`
              : `host key verification failed: the host presented ${verdict.presented} and no connection.hostKey is set`,
          );
        } else if (err.level === "client-authentication") {
          fail(`authentication as ${c.user} failed (tried: ${this.authMethods().join(", ")})`);
        } else {
          fail(err.message);
        }
        this.dropIfCurrent(client);
      });
      client.on("close", () => {
        fail("connection closed before the SSH session was ready");
        this.dropIfCurrent(client);
      });
    });
  }

  private dropIfCurrent(client: Client): void {
    void this.client?.then(
      (current) => {
        if (current === client) this.client = undefined;
      },
      () => undefined,
    );
  }

  private authMethods(): string[] {
    const c = this.connection;
    return [c.privateKey && "publickey", c.agentSocket && "agent", c.password && "password"].filter(
      (m): m is string => typeof m === "string",
    );
  }
}

const sessions = new Map<string, HostSession>();

/** Connections that differ in anything (a rotated key, a new port) get their own session. */
function sessionKey(c: ConnectionConfig): string {
  return createHash("sha256").update(JSON.stringify(c)).digest("hex");
}

export interface HostRunner {
  readonly target: string;
  run(argv: Argv, options?: RunOptions): Promise<CommandResult>;
  exclusive<T>(body: (run: RunCommand) => Promise<T>): Promise<T>;
}

/** The pooled session for a validated connection. */
export function hostSession(connection: ConnectionConfig): HostRunner {
  const key = sessionKey(connection);
  let session = sessions.get(key);
  if (!session) {
    session = new HostSession(connection);
    sessions.set(key, session);
  }
  return session;
}

/** Closes every pooled connection (tests; a long-lived process that wants to let go). */
export function closeAllSessions(): void {
  for (const session of sessions.values()) session.close();
  sessions.clear();
}

/** The connection saved in a resource's state, validated again before use (read, delete). */
export function parseConnection(value: unknown, resource: string): ConnectionConfig {
  const parsed = ConnectionSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ ...i, path: ["connection", ...i.path] }));
  throw new InputValidationError(resource, describeIssues(issues, { connection: value }, CONNECTION_SECRET_PATHS));
}
