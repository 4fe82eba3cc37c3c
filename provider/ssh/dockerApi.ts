// The Docker Engine API of a host, spoken over the pooled SSH connection: each HTTP/1.1 stream
// is an exec channel running `docker system dial-stdio` (what the Docker CLI's own ssh://
// helper runs; it works under `sudo -n` and honours the host's DOCKER_HOST), so no `docker`
// process starts per operation, only one per stream.
//
// Node's own HTTP client does the HTTP (keep-alive, chunked bodies); an Agent hands it SSH
// channels instead of TCP sockets. Concurrency comes from several streams, not pipelining:
// dockerd (Go net/http) answers the requests of one connection strictly one after another, so
// a pipelined slow `DELETE /networks` would hold up every inspect queued behind it.

import * as http from "node:http";
import type { Duplex } from "node:stream";
import { DockerApiError, TransportError } from "../errors";

export interface DockerResponse {
  status: number;
  /** The body parsed as JSON, or undefined when it was empty or not JSON. */
  json: unknown;
  text: string;
}

/** What ops see of a host's Docker daemon. */
export interface DockerApi {
  /**
   * One request; resolves with any HTTP status (callers decide what 404 means). The path is
   * relative to the negotiated API version, unless it names its own ("/v1.48/networks/create").
   */
  request(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<DockerResponse>;
}

/** An exec channel running dial-stdio, with how it ended (for "docker is not installed"). */
export interface DialStream extends Duplex {
  /** Set once the remote command exited; `stderr` is what it printed. */
  ended?: { code: number | undefined; stderr: string };
  /** Resolves when the channel has closed. */
  whenClosed: Promise<void>;
  /** When the host ends the stream's dial-stdio by itself (its host-side deadline), epoch ms. */
  hostEndsAt: number;
  /** Marks the stream's connection in use for one request; call the result when it is done. */
  holdConnection?: () => () => void;
  /** False once the stream's connection takes no new work (it is being replaced). */
  reusable?: () => boolean;
}

/**
 * How long a destroyed stream waits for the host to confirm the close (with the exit status
 * that says why dial-stdio ended) before it counts as closed anyway.
 */
const CLOSE_GRACE_MS = 1000;

/**
 * How long before the host's end of a stream the last request on it must reach its deadline: a
 * quarter of a deadline, at most a second. Both ends are timers (the host's `timeout`, the
 * client's setTimeout) that a busy host, a VM under emulation or a loaded event loop can run
 * late; without room between them, a request sent at the limit could see the stream hang up at
 * about its deadline (seen on a TCG VM).
 */
function streamEndMarginMs(requestTimeoutMs: number): number {
  return Math.min(1000, Math.floor(requestTimeoutMs / 4));
}

const API_VERSIONED = /^\/v\d+\.\d+\//;

/** The API version asked for, clipped into what the daemon supports (Docker 20.10 speaks 1.41). */
const WANTED_API = "1.41";

function compareVersions(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am - bm || an - bn;
}

export function chooseApiVersion(server: { ApiVersion?: string; MinAPIVersion?: string }): string {
  let version = WANTED_API;
  if (server.ApiVersion && compareVersions(server.ApiVersion, version) < 0) version = server.ApiVersion;
  if (server.MinAPIVersion && compareVersions(server.MinAPIVersion, version) > 0) version = server.MinAPIVersion;
  return version;
}

/**
 * An http.Agent whose connections are dial-stdio channels. An SSH channel is not a TCP socket:
 * the socket calls the agent makes on a kept-alive connection (setKeepAlive, ref, unref,
 * setTimeout) mean nothing for it and are made no-ops; the SSH connection's own socket is
 * ref'd by the session while requests run.
 */
class ChannelAgent extends http.Agent {
  private readonly retirements = new WeakMap<Duplex, NodeJS.Timeout>();

  constructor(
    private readonly open: () => Promise<DialStream>,
    maxStreams: number,
    private readonly requestTimeoutMs: number,
  ) {
    super({ keepAlive: true, maxSockets: maxStreams, maxFreeSockets: maxStreams, scheduling: "lifo" });
  }

  override createConnection(_options: unknown, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    this.open().then(
      (stream) => {
        const socket = asSocketLike(stream);
        socket.once("close", () => this.forgetFree(socket));
        callback?.(null, socket);
      },
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }

  /**
   * Takes a closed stream out of the free list. Node's agent does so only for a socket that is no
   * longer writable, and an ssh2 channel whose connection died (the host rebooted, keepalives
   * gave up on it) is closed but still writable: left there, it would be handed to the next
   * request, which would wait out its whole deadline (commandTimeoutMs, 5 minutes by default).
   * Its retirement timer goes too: retiring a stream the agent already counted as closed would
   * count it out a second time.
   */
  private forgetFree(socket: Duplex): void {
    clearTimeout(this.retirements.get(socket));
    const lists = this.freeSockets as Record<string, Duplex[] | undefined>;
    for (const [name, free] of Object.entries(lists)) {
      const at = free?.indexOf(socket) ?? -1;
      if (!free || at < 0) continue;
      free.splice(at, 1);
      if (free.length === 0) delete lists[name];
    }
  }

  /**
   * A stream is kept for the next request only while a whole request deadline, and
   * streamEndMarginMs after it, still fit before the host ends it, and is dropped once that is
   * no longer so, even while idle. The host never ends a stream before hostEndsAt (its timer
   * starts after the client's), so a request's own deadline comes first unless this process
   * runs more than the margin late.
   */
  override keepSocketAlive(socket: Duplex): boolean {
    if ((socket as DialStream).reusable?.() === false) return false;
    const left = this.lifeLeft(socket);
    // Node's own rule (it returns whether to keep the socket; the types say void).
    const kept = (super.keepSocketAlive as (s: Duplex) => boolean | undefined)(socket);
    if (left <= 0 || kept === false) return false;
    const timer = setTimeout(() => this.retire(socket), left);
    timer.unref();
    this.retirements.set(socket, timer);
    return true;
  }

  /**
   * Before a free stream is handed out, those no request may start on are retired here: past
   * their reuse time (the retirement timer can run late on a busy event loop, and the agent would
   * hand the stream out meanwhile); already ended (ssh2's destroy() is end() and a close request,
   * so a stream dropped with its connection stays in the free list, not `destroyed`, until the
   * host confirms, and a request handed it would fail with "socket hang up"); or on a
   * connection that takes no new work. (Node's own addRequest; @types/node does not declare it.)
   */
  addRequest(request: http.ClientRequest, options: unknown): void {
    for (const free of Object.values(this.freeSockets)) {
      for (const socket of [...(free ?? [])] as Duplex[]) {
        const ended = socket.writableEnded || (socket as DialStream).reusable?.() === false;
        if (ended || this.lifeLeft(socket) <= 0) this.retire(socket);
      }
    }
    const base = http.Agent.prototype as unknown as { addRequest(r: http.ClientRequest, o: unknown): void };
    base.addRequest.call(this, request, options);
  }

  /** How much longer a request may start on the stream, in ms. */
  private lifeLeft(socket: Duplex): number {
    return (socket as DialStream).hostEndsAt - Date.now() - this.requestTimeoutMs - streamEndMarginMs(this.requestTimeoutMs);
  }

  /**
   * Ends a free stream and takes it out of the agent's free list at once ('agentRemove', Node's
   * documented way): its 'close' waits for the host, and until then the agent could hand it out.
   */
  private retire(socket: Duplex): void {
    clearTimeout(this.retirements.get(socket));
    socket.destroy();
    socket.emit("agentRemove");
  }

  override reuseSocket(socket: Duplex, request: http.ClientRequest): void {
    clearTimeout(this.retirements.get(socket));
    super.reuseSocket(socket as never, request);
  }
}

/**
 * An SSH channel made to look enough like a socket for http.Agent. Its socket calls
 * (setKeepAlive, ref, unref, setTimeout) mean nothing for a channel and are no-ops. And ssh2's
 * destroy() only asks the host to close the channel: 'close' comes when the host answers, which
 * a silent host or a lost connection never does, and until then the agent counts the stream as
 * in use (a slot gone) or, when it was idle, hands it to the next request (which then waits for
 * an answer that never comes). So a destroyed stream that the host has not closed within
 * CLOSE_GRACE_MS is closed here: 'close' is emitted then, and only once. (A responsive host
 * closes it sooner, with the exit status that says why dial-stdio ended.)
 */
function asSocketLike(stream: DialStream): DialStream {
  const socketish = stream as DialStream & Record<string, unknown>;
  for (const method of ["setKeepAlive", "setNoDelay", "ref", "unref", "setTimeout"]) {
    if (typeof socketish[method] !== "function") socketish[method] = () => stream;
  }
  let closed = false;
  const emit = stream.emit.bind(stream) as (event: string | symbol, ...args: unknown[]) => boolean;
  stream.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === "close") {
      if (closed) return false;
      closed = true;
    }
    return emit(event, ...args);
  }) as typeof stream.emit;
  const askHostToClose = stream.destroy.bind(stream);
  stream.destroy = ((error?: Error) => {
    askHostToClose(error);
    if (!closed) setTimeout(() => stream.emit("close"), CLOSE_GRACE_MS).unref();
    return stream;
  }) as typeof stream.destroy;
  return stream;
}

export interface DockerApiOptions {
  target: string;
  /** Opens one dial-stdio channel on the pooled connection. */
  openStream: () => Promise<DialStream>;
  /** Streams (and so requests in flight) at most; each holds one of sshd's MaxSessions. */
  maxStreams: number;
  timeoutMs: number;
  /** Wraps each request so the session keeps its connection alive while it runs. */
  whileActive: <T>(body: () => Promise<T>) => Promise<T>;
}

export class DockerApiClient implements DockerApi {
  private readonly agent: ChannelAgent;
  // The agent does not count streams still being opened against maxSockets, so requests in
  // flight are bounded here instead, which bounds the streams too.
  private readonly inFlight: Slots;
  private version?: Promise<string>;

  constructor(private readonly options: DockerApiOptions) {
    this.agent = new ChannelAgent(options.openStream, options.maxStreams, options.timeoutMs);
    this.inFlight = new Slots(options.maxStreams);
  }

  async request(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<DockerResponse> {
    // A path that names its own API version is sent as is: daemons drop the fields a request's
    // version does not know, so a request that needs a newer field must say that version.
    if (API_VERSIONED.test(path)) return this.send(method, path, body);
    const version = await this.apiVersion();
    return this.send(method, `/v${version}${path}`, body);
  }

  /** Drops every stream (the session closed or was lost). */
  destroy(): void {
    this.agent.destroy();
    this.version = undefined;
  }

  /** Drops the streams no request is using (their connection is being replaced). */
  dropIdle(): void {
    for (const streams of Object.values(this.agent.freeSockets)) for (const stream of streams ?? []) stream.destroy();
  }

  private apiVersion(): Promise<string> {
    if (!this.version) {
      const pending = this.send("GET", "/version").then((r) => {
        if (r.status !== 200) throw new DockerApiError(this.options.target, "GET", "/version", r.status, r.text);
        return chooseApiVersion((r.json ?? {}) as { ApiVersion?: string; MinAPIVersion?: string });
      });
      this.version = pending;
      pending.catch(() => {
        if (this.version === pending) this.version = undefined;
      });
    }
    return this.version;
  }

  private send(method: string, path: string, body?: unknown): Promise<DockerResponse> {
    const { target, timeoutMs } = this.options;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return this.inFlight.take(() =>
      this.options.whileActive(
        () =>
          new Promise<DockerResponse>((resolveOnce, rejectOnce) => {
            let settled = false;
            let releaseConnection: (() => void) | undefined;
            const resolve = (response: DockerResponse) => {
              settled = true;
              releaseConnection?.();
              resolveOnce(response);
            };
            const reject = (err: unknown) => {
              settled = true;
              releaseConnection?.();
              rejectOnce(err);
            };
            let stream: DialStream | undefined;
            const request = http.request({
              agent: this.agent,
              method,
              path,
              // dockerd ignores the host; HTTP/1.1 requires one.
              host: "docker",
              headers: payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : { "Content-Length": 0 },
            });
            // Fails at the deadline itself: an SSH channel's destroy only asks the host to close
            // it, and the request's own error would wait for an answer a silent host never sends.
            // The stream goes with the request, so a late answer never reaches another request.
            const timer = setTimeout(() => {
              if (settled) return;
              const error = new DockerApiError(target, method, path, undefined, `no answer within ${timeoutMs} ms`);
              reject(error);
              request.destroy(error);
            }, timeoutMs);
            timer.unref();
            request.on("socket", (s: DialStream) => {
              stream = s;
              if (!settled) releaseConnection = s.holdConnection?.();
            });
            request.on("response", (response) => {
              const chunks: Buffer[] = [];
              response.on("data", (chunk: Buffer) => chunks.push(chunk));
              response.on("error", (err) => reject(err));
              response.on("end", () => {
                clearTimeout(timer);
                const text = Buffer.concat(chunks).toString("utf8");
                let json: unknown;
                try {
                  json = text ? JSON.parse(text) : undefined;
                } catch {
                  json = undefined;
                }
                resolve({ status: response.statusCode ?? 0, json, text });
              });
            });
            request.on("error", (err: Error) => {
              clearTimeout(timer);
              if (settled) return;
              // No session or no channel (TransportError): that is what happened, not a Docker error.
              if (err instanceof DockerApiError || err instanceof TransportError) {
                reject(err);
                return;
              }
              // A stream that died at once is usually dial-stdio failing to start (no docker CLI,
              // no daemon): say what the host printed, once the channel has told us.
              void streamEnd(stream).then((ended) => {
                const detail = ended?.stderr.trim() || err.message;
                reject(new DockerApiError(target, method, path, undefined, detail, ended?.code, ended?.stderr));
              });
            });
            request.end(payload);
          }),
      ),
    );
  }
}

/** At most `limit` bodies at once; the rest wait in order. */
export class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async take<T>(body: () => Promise<T>): Promise<T> {
    if (this.used >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used++;
    try {
      return await body();
    } finally {
      // The next body starts a turn later, once the agent has taken the finished request's
      // stream back as free, so it reuses that stream instead of opening another.
      setImmediate(() => {
        const next = this.waiting.shift();
        if (next) next();
        else this.used--;
      });
    }
  }
}

async function streamEnd(stream: DialStream | undefined): Promise<DialStream["ended"]> {
  if (!stream) return undefined;
  if (!stream.ended) {
    await Promise.race([stream.whenClosed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
  return stream.ended;
}
