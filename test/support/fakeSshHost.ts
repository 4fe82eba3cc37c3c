// An in-process SSH server (ssh2's Server) standing in for a host, so the transport and the
// providers run without root or a lab: every exec request is recorded and answered by a
// handler the test sets, from the argv the library quoted.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Connection, Server, type ServerChannel } from "ssh2";
import type { FakeDocker } from "./fakeDocker";
import { ed25519KeyPair } from "./keys";

export interface Reply {
  code?: number;
  stdout?: string;
  stderr?: string;
  /** Close the channel without sending an exit status. */
  noExitStatus?: boolean;
  /** Never answer (the client's command timeout must end it). */
  hang?: boolean;
  /** Answer after this long. */
  delayMs?: number;
}

export interface Exec {
  /** The argv as the host's shell would see it, with `env LC_ALL=C` and `sudo -n --` taken off. */
  argv: string[];
  /** The exec request exactly as received. */
  command: string;
  stdin: string;
  /** Which TCP connection (1, 2, ...) it came over. */
  connection: number;
}

export type Handler = (exec: Exec) => Reply | Promise<Reply>;

/** The words of a command line made only of plain and single-quoted words (what quoteWord writes). */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < command.length) {
    if (command[i] === " ") {
      i++;
      continue;
    }
    let word = "";
    while (i < command.length && command[i] !== " ") {
      if (command[i] === "'") {
        const end = command.indexOf("'", i + 1);
        word += command.slice(i + 1, end);
        i = end + 1;
      } else if (command[i] === "\\") {
        word += command[i + 1];
        i += 2;
      } else {
        word += command[i++];
      }
    }
    words.push(word);
  }
  return words;
}

function argvOf(command: string): string[] {
  let words = shellWords(command);
  if (words[0] === "env" && words[1] === "LC_ALL=C") words = words.slice(2);
  if (words[0] === "timeout" && words[1] === "-k") words = words.slice(4);
  if (words[0] === "sudo" && words[1] === "-n" && words[2] === "--") words = words.slice(3);
  return words;
}

/** The host-lock holder (host/hostLock.ts): `sh -c SCRIPT NAME PATH SECONDS`. */
function isLockHolder(argv: string[]): boolean {
  return argv[0] === "sh" && argv[3] === "pulumi-underlay-lock";
}

export class FakeSshHost {
  readonly hostKey = ed25519KeyPair();
  readonly password = "fake-host-password";
  readonly execs: Exec[] = [];
  /** "start <argv>" and "end <argv>" in the order the host saw them. */
  readonly events: string[] = [];
  connections = 0;
  handler: Handler = () => ({ code: 0 });
  /** "lock" and "unlock" of the host-side lock, in the order the host saw them. */
  readonly lockEvents: string[] = [];
  /** Heartbeat bytes the lock holders were sent. */
  lockHeartbeats = 0;
  private lockHolder?: unknown;
  /** Ends the current lock holder on the host's side, as one whose heartbeats stopped does. */
  endLockHolder: () => void = () => undefined;
  /** Connections (by number) on which every session channel is refused at open. */
  readonly refuseChannelsOn = new Set<number>();
  /**
   * Answer each command as its channel opens, without waiting for its input to end: the open,
   * the output, the exit status and the close reach the client together, as a fast command's
   * often do through a bastion.
   */
  answerAtOnce = false;
  /** Connections (by number) that answer nothing any more: no channel, no global request. */
  readonly silentOn = new Set<number>();
  private readonly sockets = new Map<number, { pause(): void; destroy(): void; cork(): void; uncork(): void }>();
  /** The Docker daemon `docker system dial-stdio` reaches; without one the handler answers it. */
  docker?: FakeDocker;
  private readonly dockerServer = createServer((req, res) => this.docker?.handleHttp(req, res));
  private readonly server: Server;
  private readonly live = new Set<Connection>();
  port = 0;

  private constructor() {
    this.server = new Server({ hostKeys: [this.hostKey.private] }, (client) => this.accept(client));
  }

  static async start(): Promise<FakeSshHost> {
    const host = new FakeSshHost();
    await new Promise<void>((resolve) => host.server.listen(0, "127.0.0.1", resolve));
    host.port = (host.server.address() as AddressInfo).port;
    return host;
  }

  /** The host's key as an OpenSSH line ("ssh-ed25519 AAAA..."). */
  get hostKeyLine(): string {
    return this.hostKey.public.trim().split(/\s+/).slice(0, 2).join(" ");
  }

  /** A connection input that reaches this host with its key pinned. */
  connection(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return { host: "127.0.0.1", port: this.port, password: this.password, hostKey: this.hostKeyLine, ...overrides };
  }

  /** Connections the server still holds open. */
  get liveConnections(): number {
    return this.live.size;
  }

  /**
   * Stops reading connection `number` altogether, as a host that froze or lost its network:
   * not even the channels already open (a Docker stream) or a channel close get an answer.
   */
  freeze(number: number): void {
    this.silentOn.add(number);
    this.sockets.get(number)?.pause();
  }

  /** Drops every open connection from the server side (sshd restarted, host rebooted). */
  dropConnections(): void {
    for (const client of this.live) client.end();
  }

  async close(): Promise<void> {
    this.dropConnections();
    // A frozen connection reads nothing, not even the end of the connection.
    for (const number of this.silentOn) this.sockets.get(number)?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Connection): void {
    const number = ++this.connections;
    this.live.add(client);
    // ssh2 keeps the TCP socket private; freezing a host needs it.
    const socket = (client as unknown as { _sock?: { pause(): void; destroy(): void; cork(): void; uncork(): void } })._sock;
    if (socket) this.sockets.set(number, socket);
    client.on("close", () => this.live.delete(client));
    client.on("error", () => undefined);
    client.on("authentication", (ctx) => {
      if (ctx.method === "password" && ctx.password === this.password) ctx.accept();
      else ctx.reject(["password"]);
    });
    client.on("request", (_accept, reject) => {
      if (!this.silentOn.has(number)) reject?.();
    });
    client.on("session", (acceptSession, rejectSession) => {
      if (this.silentOn.has(number)) return;
      if (this.refuseChannelsOn.has(number)) {
        rejectSession();
        return;
      }
      const session = acceptSession();
      session.on("exec", (acceptExec, _reject, info) => {
        const socket = this.answerAtOnce ? this.sockets.get(number) : undefined;
        socket?.cork();
        const channel = acceptExec();
        const argv = argvOf(info.command);
        if (isLockHolder(argv)) {
          // One holder per host at a time in these tests: it holds the lock at once, until its
          // input ends or endLockHolder() ends it, as a real holder ends when heartbeats stop.
          this.lockEvents.push("lock");
          channel.write("locked\n");
          channel.on("data", (chunk: Buffer) => {
            this.lockHeartbeats += chunk
              .toString("utf8")
              .split("")
              .filter((c) => c === ".").length;
          });
          const unlock = (event: string) => {
            if (this.lockHolder !== channel) return;
            this.lockHolder = undefined;
            this.lockEvents.push(event);
            channel.exit(0);
            channel.end();
          };
          this.lockHolder = channel;
          this.endLockHolder = () => unlock("unlock by itself");
          channel.on("end", () => unlock("unlock"));
          return;
        }
        if (argv.join(" ") === "docker system dial-stdio") {
          // A stream, not a command: it never waits for the end of its input.
          const exec = { argv, command: info.command, stdin: "", connection: number };
          if (this.docker) {
            this.execs.push(exec);
            this.dockerServer.emit("connection", channel);
          } else {
            void this.answer(channel, exec);
          }
          return;
        }
        if (this.answerAtOnce) {
          // Synchronously, in the same turn as the accept, so it all leaves in one burst.
          const exec = { argv, command: info.command, stdin: "", connection: number };
          this.execs.push(exec);
          const reply = this.handler(exec) as Reply;
          if (reply.stdout) channel.write(reply.stdout);
          channel.exit(reply.code ?? 0);
          channel.end();
          setImmediate(() => socket?.uncork());
          return;
        }
        const chunks: Buffer[] = [];
        channel.on("data", (chunk: Buffer) => chunks.push(chunk));
        channel.on("end", () => {
          const exec = {
            argv: argvOf(info.command),
            command: info.command,
            stdin: Buffer.concat(chunks).toString("utf8"),
            connection: number,
          };
          void this.answer(channel, exec);
        });
      });
    });
  }

  private async answer(channel: ServerChannel, exec: Exec): Promise<void> {
    this.execs.push(exec);
    const shown = exec.argv.join(" ");
    this.events.push(`start ${shown}`);
    const reply = await this.handler(exec);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    this.events.push(`end ${shown}`);
    if (reply.hang) return;
    if (reply.stdout) channel.write(reply.stdout);
    if (reply.stderr) channel.stderr.write(reply.stderr);
    if (!reply.noExitStatus) channel.exit(reply.code ?? 0);
    channel.end();
  }
}
