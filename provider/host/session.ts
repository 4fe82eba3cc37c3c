// How a host spells the path its SSH session takes: the peer address sshd saw ($SSH_CONNECTION)
// and the route the kernel picks to reach it (`ip -j route get`).

import { z } from "zod";
import { canonicalAddress, parseAddress } from "../ipnet";
import type { Argv } from "./command";

// A fixed script, no input in it. Under `sudo` the environment is reset, so $SSH_CONNECTION is
// also read from the parent process's environment (sudo's own, or the login shell's), which
// still holds what sshd set.
const SESSION_PEER_SCRIPT =
  'printf "%s\\n" "SSH_CONNECTION=$SSH_CONNECTION"; tr "\\000" "\\n" < "/proc/$PPID/environ" 2>/dev/null | grep "^SSH_CONNECTION=" || true';

export function buildSessionPeerShow(): Argv {
  return ["sh", "-c", SESSION_PEER_SCRIPT];
}

/**
 * The client address of this SSH session as the host sees it, canonical; undefined when sshd
 * did not know it (an `sshd -i` whose stdin is not a TCP socket reports "UNKNOWN").
 */
export function parseSessionPeer(stdout: string): string | undefined {
  for (const line of stdout.split("\n")) {
    const match = /^SSH_CONNECTION=(\S+) \d+ \S+ \d+\s*$/.exec(line);
    if (!match) continue;
    const peer = match[1].replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
    if (parseAddress(peer)) return canonicalAddress(peer);
  }
  return undefined;
}

export function buildRouteGet(address: string): Argv {
  return ["ip", "-j", "route", "get", address];
}

/** The route the kernel uses to an address: the device and any next hop. */
export interface RouteToPeer {
  dev: string;
  gateway?: string;
  /** "local" when the address is the host's own. */
  type?: string;
}

const RouteGetJson = z.array(z.object({ dev: z.string(), gateway: z.string().optional(), type: z.string().optional() }).passthrough());

export function parseRouteGet(stdout: string): RouteToPeer | undefined {
  const [route] = RouteGetJson.parse(stdout.trim() === "" ? [] : JSON.parse(stdout));
  return route && { dev: route.dev, gateway: route.gateway, type: route.type };
}
