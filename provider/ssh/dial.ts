// Opening one SSH session: TCP connect, handshake with host-key pinning, authentication, and
// the classification of every way that can fail into a TransportError reason.

import { connect as tcpConnect, Socket } from "node:net";
import { Client } from "ssh2";
import { TransportError } from "../errors";
import { ConnectionConfig, describeTarget } from "./connection";
import { HostKeyVerdict, judgeHostKey, preferredHostKeyAlgorithms } from "./hostKeys";

export interface Dialled {
  client: Client;
  socket: Socket;
}

function authMethods(c: ConnectionConfig): string[] {
  return [c.privateKey && "publickey", c.agentSocket && "agent", c.password && "password"].filter(
    (m): m is string => typeof m === "string",
  );
}

/**
 * Resolves once the session is ready. `onGone` runs when that client later errors or closes,
 * so a pool can stop handing it out.
 */
export function dial(c: ConnectionConfig, onGone: (client: Client) => void): Promise<Dialled> {
  const target = describeTarget(c);
  return new Promise((resolve, reject) => {
    let verdict: HostKeyVerdict | undefined;
    const client = new Client();
    let settled = false;
    const fail = (error: TransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(TransportError.noSession(target, c.connectTimeoutMs)), c.connectTimeoutMs);
    const socket = tcpConnect({ host: c.host, port: c.port });
    socket.once("error", (err: Error) => fail(TransportError.cannotConnect(target, err.message)));
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
        hostVerifier: (key: Buffer) => {
          verdict = judgeHostKey(c, key);
          return verdict.accepted;
        },
      });
    });
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ client, socket });
    });
    client.on("error", (err: Error & { level?: string }) => {
      if (verdict && !verdict.accepted) {
        fail(TransportError.hostKeyRefused(target, verdict.presented, c.hostKey !== undefined));
      } else if (err.level === "client-authentication") {
        fail(TransportError.authFailed(target, c.user, authMethods(c)));
      } else {
        fail(TransportError.handshakeFailed(target, err.message));
      }
      onGone(client);
    });
    client.on("close", () => {
      fail(TransportError.closedBeforeReady(target));
      onGone(client);
    });
  });
}
