// Opening one SSH session: TCP connect, handshake with host-key pinning, authentication, and
// the classification of every way that can fail into a TransportError reason.

import type { Socket } from "node:net";
import { Client } from "ssh2";
import { TransportError } from "../errors";
import { type ConnectionConfig, describeTarget } from "./connection";
import { type HostKeyVerdict, judgeHostKey, preferredHostKeyAlgorithms } from "./hostKeys";
import { keepalivePolicy, startKeepalive } from "./keepalive";
import { judgeKnownHosts, knownHostAlgorithms } from "./knownHosts";
import { openTransport, type Transport } from "./proxyJump";
import { DEFAULT_BACKOFF, withRetries } from "./retry";

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
 * Resolves once the session is ready, after up to `dialErrorLimit` attempts for failures that
 * may pass (see retry.ts). `onGone` runs when that client later errors or closes (also when
 * keepalives find the host silent, see keepalive.ts), so a pool can stop handing it out.
 */
export function dial(c: ConnectionConfig, onGone: (client: Client) => void): Promise<Dialled> {
  return withRetries({ attempts: c.dialErrorLimit, ...DEFAULT_BACKOFF }, () => dialOnce(c, onGone));
}

function dialOnce(c: ConnectionConfig, onGone: (client: Client) => void): Promise<Dialled> {
  const target = describeTarget(c);
  return new Promise((resolve, reject) => {
    let verdict: HostKeyVerdict | undefined;
    const client = new Client();
    let settled = false;
    let transport: Transport | undefined;
    const fail = (error: TransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      transport?.stream.destroy();
      transport?.close();
      reject(error);
    };
    const timer = setTimeout(() => fail(TransportError.noSession(target, c.connectTimeoutMs)), c.connectTimeoutMs);
    const dialHop = (hop: ConnectionConfig) => dialOnce(hop, () => undefined);
    openTransport(c, target, dialHop).then(
      (opened) => {
        if (settled) {
          opened.stream.destroy();
          opened.close();
          return;
        }
        transport = opened;
        opened.stream.once("error", (err: Error) => fail(TransportError.cannotConnect(target, err.message)));
        client.connect({
          sock: opened.stream,
          username: c.user,
          privateKey: c.privateKey,
          passphrase: c.privateKeyPassphrase,
          password: c.password,
          agent: c.agentSocket,
          readyTimeout: c.connectTimeoutMs,
          algorithms: c.knownHosts ? knownHostAlgorithms(c.knownHosts, c.host, c.port) : preferredHostKeyAlgorithms(c.hostKey),
          hostVerifier: (key: Buffer) => {
            // A pinned hostKey, when given, decides; otherwise the known_hosts text does.
            verdict = c.knownHosts && !c.hostKey ? judgeKnownHosts(c.knownHosts, c.host, c.port, key) : judgeHostKey(c, key);
            return verdict.accepted;
          },
        });
      },
      (err: unknown) => fail(err instanceof TransportError ? err : TransportError.cannotConnect(target, String(err))),
    );
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A host gone silent: destroying the client closes it, and onGone drops it from the pool.
      startKeepalive(client, keepalivePolicy(c.connectTimeoutMs), () => client.destroy());
      resolve({ client, socket: (transport as Transport).socket });
    });
    client.on("error", (err: Error & { level?: string }) => {
      if (verdict && !verdict.accepted) {
        fail(TransportError.hostKeyRefused(target, verdict.presented, c.hostKey !== undefined, verdict.why));
      } else if (err.level === "client-authentication") {
        fail(TransportError.authFailed(target, c.user, authMethods(c)));
      } else {
        fail(TransportError.handshakeFailed(target, err.message));
      }
      onGone(client);
    });
    client.on("close", () => {
      fail(TransportError.closedBeforeReady(target));
      transport?.close();
      onGone(client);
    });
  });
}
