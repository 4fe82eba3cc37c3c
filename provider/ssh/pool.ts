// The one SSH transport every resource uses: one ssh2 client per distinct connection, opened
// lazily and reused by every resource in the process, and one lock per host (host name and
// port, behind its bastions). Sequences that change links, addresses and routes hold it exclusively, so two
// resources' sequences on one host never interleave even when their connection settings
// (user, sudo, timeouts) differ; reads and Docker network changes hold it shared and run side
// by side. An exclusive sequence also holds the host-side lock (host/hostLock.ts), so a second
// Pulumi process never interleaves its link changes either. Commands run on several channels
// at once, and the Docker Engine API is reached over the same connection (dockerApi.ts), all
// within sshd's MaxSessions.
//
// This module must be loaded with `require` at run time (see dynamic.ts), never captured by
// Pulumi's closure serializer: a captured copy would give each resource its own pool.

import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import type { Client, ClientChannel } from "ssh2";
import { RemoteCommandError, TransportError } from "../errors";
import { type Argv, type CommandResult, hostDeadlineMs, toRemoteCommand } from "../host/command";
import { execChannel, openExec } from "./channel";
import { type ConnectionConfig, describeTarget } from "./connection";
import { dial } from "./dial";
import { type DialStream, type DockerApi, DockerApiClient, Slots } from "./dockerApi";
import { keepalivePolicy } from "./keepalive";
import { type HeldLock, holdRemoteLock } from "./remoteLock";

/**
 * Channels one connection may have open at once: command channels plus Docker API streams,
 * plus the host lock's channel during an exclusive sequence (one per host at a time). OpenSSH's
 * default MaxSessions is 10; this stays under it with room for a second client. Two
 * streams are enough: network changes (with the listings that read them back and the container
 * checks that guard them) go to Docker one at a time and reads share one listing, so the second
 * stream only carries a read or a version check beside a change, and each stream costs a
 * `docker` process start on the host.
 */
const MAX_COMMAND_CHANNELS = 4;
const MAX_DOCKER_STREAMS = 2;
/** The least time the host lock's holder waits for a heartbeat, for a slow host's sake. */
const LOCK_SILENCE_MIN_MS = 10_000;
/** How many request deadlines (commandTimeoutMs) a dial-stdio stream lives on the host. */
const DIAL_STREAM_LIFE = 2;

export interface RunOptions {
  /**
   * Resolve with the result on a non-zero exit instead of throwing RemoteCommandError: always
   * (true), or only for the failures the predicate expects ("no such network").
   */
  allowFailure?: boolean | ((result: CommandResult) => boolean);
  /** Sent to the command's standard input (a file's content for `tee`); stdin is closed either way. */
  stdin?: string;
  /**
   * Run as the login user even with `sudo: true`: for reads that need no root, so a user whose
   * sudo rights cover exactly docker, ip and test is not refused them (`sudo -n sh` would be).
   */
  asLoginUser?: boolean;
}

export type RunCommand = (argv: Argv, options?: RunOptions) => Promise<CommandResult>;

/** What ops and resources see of a host: its name for messages, commands, and its Docker API. */
export interface HostRunner {
  readonly target: string;
  /** The host as locks and caches know it (name and port, behind its bastions), whatever the user or settings. */
  readonly hostId: string;
  /** One command, alone on the host within this process (a single command needs no host lock). */
  run(argv: Argv, options?: RunOptions): Promise<CommandResult>;
  /**
   * Holds the host's lock alone for a whole sequence (create a link, address it, route through
   * it), so no other resource's command runs on that host in between, and the host-side lock
   * too, so no other process's sequence does either.
   */
  exclusive<T>(body: (run: RunCommand) => Promise<T>): Promise<T>;
  /** Holds the host's lock beside other shared holders (reads, Docker network changes). */
  shared<T>(body: (run: RunCommand) => Promise<T>): Promise<T>;
  /** The host's Docker Engine API over the same connection. */
  readonly docker: DockerApi;
}

/**
 * A host's lock: shared holders run together, an exclusive holder runs alone. Granted strictly
 * in the order asked, so a waiting exclusive sequence is never starved by later shared ones; a
 * failure releases the lock like a success.
 */
export class HostLock {
  private sharedHolders = 0;
  private exclusiveHeld = false;
  private readonly waiting: { exclusive: boolean; grant: () => void }[] = [];

  shared<T>(body: () => Promise<T>): Promise<T> {
    return this.hold(false, body);
  }

  exclusive<T>(body: () => Promise<T>): Promise<T> {
    return this.hold(true, body);
  }

  private async hold<T>(exclusive: boolean, body: () => Promise<T>): Promise<T> {
    await new Promise<void>((grant) => {
      this.waiting.push({ exclusive, grant });
      this.pump();
    });
    try {
      return await body();
    } finally {
      if (exclusive) this.exclusiveHeld = false;
      else this.sharedHolders--;
      this.pump();
    }
  }

  private pump(): void {
    while (this.waiting.length > 0 && !this.exclusiveHeld) {
      const next = this.waiting[0];
      if (next.exclusive && this.sharedHolders > 0) return;
      this.waiting.shift();
      if (next.exclusive) this.exclusiveHeld = true;
      else this.sharedHolders++;
      next.grant();
    }
  }
}

/** What one connection has cost so far (the bench's handshakes and round trips). */
export interface SessionStats {
  target: string;
  handshakes: number;
  commands: number;
  dockerRequests: number;
  dockerStreams: number;
}

/** One connection's pooled client, behind its host's lock. */
class Session implements HostRunner {
  private client?: Promise<Client>;
  /** What `client` resolved to, once it has. */
  private current?: Client;
  private socket?: Socket;
  private inFlight = 0;
  /** The connection holding the host-side lock, and the lock, while an exclusive sequence runs. */
  private lockHolder?: { client: Client; lock: HeldLock };
  private readonly commandChannels = new Slots(MAX_COMMAND_CHANNELS);
  /** Channels in use per connection (commands, the lock holder, Docker requests). */
  private readonly busy = new Map<Client, number>();
  /** Connections replaced while still in use: ended once the last channel on them is done. */
  private readonly retired = new Set<Client>();
  private dockerClient?: DockerApiClient;
  readonly target: string;
  readonly stats: SessionStats;

  constructor(
    private readonly connection: ConnectionConfig,
    private readonly lock: HostLock,
    readonly hostId: string,
  ) {
    this.target = describeTarget(connection);
    this.stats = { target: this.target, handshakes: 0, commands: 0, dockerRequests: 0, dockerStreams: 0 };
  }

  run(argv: Argv, options: RunOptions = {}): Promise<CommandResult> {
    return this.lock.exclusive(() => this.withActivity(() => this.runner(argv, options)));
  }

  exclusive<T>(body: (run: RunCommand) => Promise<T>): Promise<T> {
    return this.lock.exclusive(() => this.withActivity(() => this.withHostLock(() => body(this.runner))));
  }

  shared<T>(body: (run: RunCommand) => Promise<T>): Promise<T> {
    return this.lock.shared(() => this.withActivity(() => body(this.runner)));
  }

  get docker(): DockerApi {
    this.dockerClient ??= new DockerApiClient({
      target: this.target,
      openStream: () => this.openDialStream(),
      maxStreams: MAX_DOCKER_STREAMS,
      timeoutMs: this.connection.commandTimeoutMs,
      whileActive: (body) => this.withActivity(body),
    });
    const client = this.dockerClient;
    return {
      request: (method, path, body) => {
        this.stats.dockerRequests++;
        return client.request(method, path, body);
      },
    };
  }

  close(): void {
    const client = this.client;
    this.client = undefined;
    this.current = undefined;
    this.dockerClient?.destroy();
    void client?.then(
      (c) => c.end(),
      () => undefined,
    );
  }

  private readonly runner: RunCommand = (argv, options) => this.runCommand(argv, options ?? {});

  /** Marks a channel in use on `client` until the returned function is called. */
  private hold(client: Client): () => void {
    this.busy.set(client, (this.busy.get(client) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.busy.get(client) ?? 1) - 1;
      if (left > 0) {
        this.busy.set(client, left);
        return;
      }
      this.busy.delete(client);
      if (this.retired.delete(client)) client.end();
    };
  }

  /**
   * A connection that failed to open a channel (a pooled connection the server dropped while
   * idle, or one that refuses new sessions) gets no new work; what still runs on it finishes,
   * and it is ended after (ending it at once would cut those commands off mid-way).
   */
  private retire(client: Client): void {
    if (this.current === client) {
      this.client = undefined;
      this.current = undefined;
      // Its idle Docker streams go now; those in use finish first, like commands.
      this.dockerClient?.dropIdle();
    }
    if (this.busy.has(client)) this.retired.add(client);
    else client.end();
  }

  /** Runs `body` with a channel marked in use on `client`. */
  private async using<T>(client: Client, body: () => Promise<T>): Promise<T> {
    const release = this.hold(client);
    try {
      return await body();
    } finally {
      release();
    }
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

  /**
   * The body runs while this connection holds the host-side lock; the wait for it counts
   * against commandTimeoutMs. Released when the body ends, however it ends. The body's
   * commands run on the connection that holds the lock and never on another: when it is lost,
   * the lock went with it. So did it when its holder ended without being released (its
   * heartbeats stopped reaching the host); either way the rest of the sequence fails instead
   * of running unlocked.
   */
  private async withHostLock<T>(body: () => Promise<T>): Promise<T> {
    // Heartbeats as often as the connection's keepalive probes; the host frees the lock after
    // twice connectTimeoutMs (10 s at least) without one, well after this side would have
    // dropped a silent connection, and a process that was stopped that long finds its lock
    // lost (remoteLock.ts) instead of going on unlocked.
    const lockRequest = {
      target: this.target,
      timeoutMs: this.connection.commandTimeoutMs,
      openTimeoutMs: this.connection.connectTimeoutMs,
      heartbeatMs: keepalivePolicy(this.connection.connectTimeoutMs).intervalMs,
      silenceMs: Math.max(LOCK_SILENCE_MIN_MS, 2 * this.connection.connectTimeoutMs),
    };
    let client = await this.connect();
    let lock: HeldLock;
    try {
      lock = await this.using(client, () => holdRemoteLock(client, lockRequest));
    } catch (err) {
      // As for commands: a channel that never opened ran nothing, so one reconnect is safe.
      if (!(err instanceof TransportError) || err.commandMayHaveRun) throw err;
      this.retire(client);
      const next = await this.connect();
      client = next;
      lock = await this.using(next, () => holdRemoteLock(next, lockRequest));
    }
    const holder = { client, lock };
    return this.using(client, async () => {
      this.lockHolder = holder;
      try {
        return await body();
      } finally {
        this.lockHolder = undefined;
        await lock.release();
      }
    });
  }

  private runCommand(argv: Argv, options: RunOptions): Promise<CommandResult> {
    return this.commandChannels.take(async () => {
      this.stats.commands++;
      const deadline = this.connection.commandTimeoutMs;
      const onHost = hostDeadlineMs(deadline);
      const request = {
        target: this.target,
        argv,
        command: toRemoteCommand(argv, { sudo: this.connection.sudo && !options.asLoginUser, hostDeadlineMs: onHost }),
        stdin: options.stdin,
        timeoutMs: deadline,
        openTimeoutMs: this.connection.connectTimeoutMs,
        hostDeadlineMs: onHost,
      };
      let result: CommandResult;
      const held = this.lockHolder;
      const lostWhy = held?.lock.lost();
      if (lostWhy) throw TransportError.lockLost(this.target, argv, lostWhy);
      const client = held?.client ?? (await this.connect());
      try {
        result = await this.using(client, () => execChannel(client, request));
      } catch (err) {
        // A pooled connection the server dropped while idle fails at channel open, before the
        // command ran: reconnecting once is safe then, and only then (and never in the middle
        // of a sequence that holds the host lock on that connection).
        if (!(err instanceof TransportError) || err.commandMayHaveRun || held) throw err;
        this.retire(client);
        const next = await this.connect();
        result = await this.using(next, () => execChannel(next, request));
      }
      const allowed = typeof options.allowFailure === "function" ? options.allowFailure(result) : options.allowFailure === true;
      if (result.exitCode !== 0 && !allowed) {
        throw new RemoteCommandError(this.target, argv, result);
      }
      return result;
    });
  }

  /** An exec channel running `docker system dial-stdio`, kept open by the API client. */
  private async openDialStream(): Promise<DialStream> {
    const argv = ["docker", "system", "dial-stdio"];
    // A stream serves many requests, each under its own deadline (dockerApi.ts), and the host
    // ends it by itself after DIAL_STREAM_LIFE request deadlines: one the client gave up on (a
    // hung daemon, a cut connection) does not run on for good. The agent never starts a request
    // on a stream with less than a whole request deadline (and a margin) left. No client
    // deadline waits on the stream's own exit, so the host's timeout is the life itself.
    const onHost = DIAL_STREAM_LIFE * this.connection.commandTimeoutMs;
    const sentAt = Date.now();
    const request = {
      target: this.target,
      argv,
      command: toRemoteCommand(argv, { sudo: this.connection.sudo, hostDeadlineMs: onHost }),
      openTimeoutMs: Math.min(this.connection.connectTimeoutMs, this.connection.commandTimeoutMs),
    };
    // As the channel opens (see openExec): dial-stdio that cannot start exits at once.
    const watch = (channel: ClientChannel) => {
      const stream = channel as ClientChannel & DialStream;
      const stderr: Buffer[] = [];
      let code: number | undefined;
      channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      channel.on("exit", (exitCode: number | null) => {
        if (exitCode !== null) code = exitCode;
      });
      stream.whenClosed = new Promise<void>((resolve) =>
        channel.once("close", () => {
          stream.ended = { code, stderr: Buffer.concat(stderr).toString("utf8") };
          resolve();
        }),
      );
    };
    let client = await this.connect();
    let channel: ClientChannel;
    try {
      channel = await this.using(client, () => openExec(client, request, watch));
    } catch (err) {
      // As for commands: a channel that never opened ran nothing, so one reconnect is safe.
      if (!(err instanceof TransportError) || err.commandMayHaveRun) throw err;
      this.retire(client);
      const next = await this.connect();
      client = next;
      channel = await this.using(next, () => openExec(next, request, watch));
    }
    this.stats.dockerStreams++;
    const stream = channel as ClientChannel & DialStream;
    const carrier = client;
    stream.holdConnection = () => this.hold(carrier);
    stream.reusable = () => this.current === carrier && !this.retired.has(carrier);
    // The host's timeout starts once the exec request reaches it, after sentAt.
    stream.hostEndsAt = sentAt + onHost;
    return stream;
  }

  private connect(): Promise<Client> {
    if (!this.client) {
      this.stats.handshakes++;
      const pending = dial(this.connection, (gone) => this.dropIfCurrent(gone)).then(({ client, socket }) => {
        if (this.client === pending) this.current = client;
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
        if (current === client) {
          this.client = undefined;
          this.current = undefined;
          this.dockerClient?.destroy();
        }
      },
      () => undefined,
    );
  }
}

const sessions = new Map<string, Session>();
const locks = new Map<string, HostLock>();

/** Connections that differ in anything (a rotated key, a new port) get their own client. */
function sessionKey(c: ConnectionConfig): string {
  return createHash("sha256").update(JSON.stringify(c)).digest("hex");
}

/**
 * One lock per host: the name as written (lower case) and the port, after the bastions that lead
 * to it. `10.0.0.10:22` behind one site's bastion and behind another's are two hosts.
 */
export function hostKey(c: { host: string; port: number; proxyJump?: readonly { host: string; port: number }[] }): string {
  const hops = (c.proxyJump ?? []).map((hop) => `${hop.host.toLowerCase()}:${hop.port} -> `).join("");
  return `${hops}${c.host.toLowerCase()}:${c.port}`;
}

/** The pooled session for a validated connection. */
export function hostSession(connection: ConnectionConfig): HostRunner {
  const key = sessionKey(connection);
  let session = sessions.get(key);
  if (!session) {
    const id = hostKey(connection);
    let lock = locks.get(id);
    if (!lock) {
      lock = new HostLock();
      locks.set(id, lock);
    }
    session = new Session(connection, lock, id);
    sessions.set(key, session);
  }
  return session;
}

/** What every pooled connection has cost so far. */
export function sessionStats(): SessionStats[] {
  return [...sessions.values()].map((s) => ({ ...s.stats }));
}

/** Closes every pooled connection (tests; a long-lived process that wants to let go). */
export function closeAllSessions(): void {
  for (const session of sessions.values()) session.close();
  sessions.clear();
}
