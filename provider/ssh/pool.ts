// The one SSH transport every resource uses: one ssh2 client per distinct connection, opened
// lazily and reused by every resource in the process, and one command queue per host (host
// name and port), so two resources on one host never interleave their commands even when
// their connection settings (user, sudo, timeouts) differ.
//
// This module must be loaded with `require` at run time (see dynamic.ts), never captured by
// Pulumi's closure serializer: a captured copy would give each resource its own pool.

import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import type { Client } from "ssh2";
import { RemoteCommandError, TransportError } from "../errors";
import { Argv, CommandResult, toRemoteCommand } from "../host/command";
import { execChannel } from "./channel";
import { ConnectionConfig, describeTarget } from "./connection";
import { dial } from "./dial";

export interface RunOptions {
  /**
   * Resolve with the result on a non-zero exit instead of throwing RemoteCommandError: always
   * (true), or only for the failures the predicate expects ("no such network").
   */
  allowFailure?: boolean | ((result: CommandResult) => boolean);
  /** Sent to the command's standard input (a file's content for `tee`); stdin is closed either way. */
  stdin?: string;
}

export type RunCommand = (argv: Argv, options?: RunOptions) => Promise<CommandResult>;

/** What ops and resources see of a host: its name for messages, one command, or a sequence. */
export interface HostRunner {
  readonly target: string;
  run(argv: Argv, options?: RunOptions): Promise<CommandResult>;
  /**
   * Holds the host's queue for a whole sequence (create a link, address it, route through it),
   * so no other resource's command runs on that host in between.
   */
  exclusive<T>(body: (run: RunCommand) => Promise<T>): Promise<T>;
}

/** Runs bodies one after another, in the order they were queued; a failure does not stop the queue. */
export class HostQueue {
  private tail: Promise<unknown> = Promise.resolve();

  enqueue<T>(body: () => Promise<T>): Promise<T> {
    const result = this.tail.then(body);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** One connection's pooled client, behind its host's queue. */
class Session implements HostRunner {
  private client?: Promise<Client>;
  private socket?: Socket;
  private inFlight = 0;
  readonly target: string;

  constructor(
    private readonly connection: ConnectionConfig,
    private readonly queue: HostQueue,
  ) {
    this.target = describeTarget(connection);
  }

  run(argv: Argv, options: RunOptions = {}): Promise<CommandResult> {
    return this.exclusive((run) => run(argv, options));
  }

  exclusive<T>(body: (run: RunCommand) => Promise<T>): Promise<T> {
    return this.queue.enqueue(() => this.withActivity(() => body((argv, options) => this.runCommand(argv, options ?? {}))));
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

  private async runCommand(argv: Argv, options: RunOptions): Promise<CommandResult> {
    const request = {
      target: this.target,
      argv,
      command: toRemoteCommand(argv, { sudo: this.connection.sudo }),
      stdin: options.stdin,
      timeoutMs: this.connection.commandTimeoutMs,
    };
    let result: CommandResult;
    try {
      result = await execChannel(await this.connect(), request);
    } catch (err) {
      // A pooled connection the server dropped while idle fails at channel open, before the
      // command ran: reconnecting once is safe then, and only then.
      if (!(err instanceof TransportError) || err.commandMayHaveRun) throw err;
      this.close();
      result = await execChannel(await this.connect(), request);
    }
    const allowed =
      typeof options.allowFailure === "function" ? options.allowFailure(result) : options.allowFailure === true;
    if (result.exitCode !== 0 && !allowed) {
      throw new RemoteCommandError(this.target, argv, result);
    }
    return result;
  }

  private connect(): Promise<Client> {
    if (!this.client) {
      const pending = dial(this.connection, (gone) => this.dropIfCurrent(gone)).then(({ client, socket }) => {
        this.socket = socket;
        if (this.inFlight === 0) socket.unref();
        return client;
      });
      this.client = pending;
      pending.catch(() => {
        if (this.client === pending) this.client = undefined;
      });
    }
    return this.client;
  }

  private dropIfCurrent(client: Client): void {
    void this.client?.then(
      (current) => {
        if (current === client) this.client = undefined;
      },
      () => undefined,
    );
  }
}

const sessions = new Map<string, Session>();
const queues = new Map<string, HostQueue>();

/** Connections that differ in anything (a rotated key, a new port) get their own client. */
function sessionKey(c: ConnectionConfig): string {
  return createHash("sha256").update(JSON.stringify(c)).digest("hex");
}

/** One queue per host: the name as written (lower case) and the port. */
function hostKey(c: ConnectionConfig): string {
  return `${c.host.toLowerCase()}:${c.port}`;
}

/** The pooled session for a validated connection. */
export function hostSession(connection: ConnectionConfig): HostRunner {
  const key = sessionKey(connection);
  let session = sessions.get(key);
  if (!session) {
    const queueKey = hostKey(connection);
    let queue = queues.get(queueKey);
    if (!queue) {
      queue = new HostQueue();
      queues.set(queueKey, queue);
    }
    session = new Session(connection, queue);
    sessions.set(key, session);
  }
  return session;
}

/** Closes every pooled connection (tests; a long-lived process that wants to let go). */
export function closeAllSessions(): void {
  for (const session of sessions.values()) session.close();
  sessions.clear();
}
