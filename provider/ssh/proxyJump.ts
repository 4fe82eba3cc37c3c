// The byte stream an SSH session runs over: a TCP connection to the host, or, with proxyJump, a
// forwarded channel through each bastion in turn (OpenSSH's `ProxyJump a,b`). Each hop is an
// SSH session of its own, dialled with its own credentials and host key.

import { type Socket, connect as tcpConnect } from "node:net";
import type { Duplex } from "node:stream";
import type { Client } from "ssh2";
import { TransportError } from "../errors";
import type { ConnectionConfig, ProxyHop } from "./connection";

export interface Transport {
  /** What the SSH client runs over. */
  stream: Duplex;
  /** The TCP socket underneath (the first hop's, through bastions), for ref/unref. */
  socket: Socket;
  /** Ends the bastion sessions (nothing to do for a direct connection). */
  close(): void;
}

/** Opens a session to one hop; dial.ts passes its own dial, which keeps this file free of a cycle. */
export type DialHop = (c: ConnectionConfig) => Promise<{ client: Client; socket: Socket }>;

/** The connection settings a hop is dialled with: its own fields, the target's timeouts, the hops before it. */
export function hopConnection(target: ConnectionConfig, hop: ProxyHop, before: ProxyHop[]): ConnectionConfig {
  return {
    ...hop,
    proxyJump: before.length > 0 ? before : undefined,
    sudo: false,
    connectTimeoutMs: target.connectTimeoutMs,
    commandTimeoutMs: target.commandTimeoutMs,
    // The target's dial is what is retried; a hop is tried once per attempt.
    dialErrorLimit: 1,
  };
}

function directTcp(c: ConnectionConfig, target: string): Promise<Transport> {
  return new Promise((resolve, reject) => {
    // No Nagle delay: every request is a few small SSH packets waiting for their answer, and
    // holding one back until the last is acknowledged (40 ms of delayed ACK) cost each warm round
    // trip ~50 ms on the lab instead of ~8. OpenSSH sets TCP_NODELAY on its sessions too.
    const socket = tcpConnect({ host: c.host, port: c.port, noDelay: true });
    socket.once("error", (err: Error) => reject(TransportError.cannotConnect(target, err.message)));
    socket.once("connect", () => resolve({ stream: socket, socket, close: () => undefined }));
  });
}

/** The stream to `c`'s host and port: direct, or through the last hop (itself reached through the ones before). */
export async function openTransport(c: ConnectionConfig, target: string, dialHop: DialHop): Promise<Transport> {
  const hops = c.proxyJump ?? [];
  if (hops.length === 0) return directTcp(c, target);
  const last = hops[hops.length - 1];
  const via = await dialHop(hopConnection(c, last, hops.slice(0, -1)));
  return new Promise((resolve, reject) => {
    via.client.forwardOut("127.0.0.1", 0, c.host, c.port, (err, channel) => {
      if (err) {
        via.client.end();
        reject(
          TransportError.cannotConnect(
            target,
            `bastion ${last.user}@${last.host}:${last.port} could not open a channel to ${c.host}:${c.port}: ${err.message}`,
          ),
        );
        return;
      }
      resolve({ stream: channel, socket: via.socket, close: () => via.client.end() });
    });
  });
}
