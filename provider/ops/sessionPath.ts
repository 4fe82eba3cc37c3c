// Never cut the branch we sit on: before a link gets an address or a route, find the path the
// SSH session itself uses and refuse a change that would take it over. A shim route covering the
// operator's address moves the replies onto the shim, the session hangs, and the host is left
// with the change and no way in.

import { RefusalError } from "../errors";
import { buildRouteGet, buildSessionPeerShow, parseRouteGet, parseSessionPeer, type RouteToPeer } from "../host/session";
import { containsAddress, parseAddress, parsePrefix } from "../ipnet";
import type { RunCommand } from "../ssh/pool";

/** The session's peer as the host sees it, and how the host reaches it now. */
export interface SessionPath {
  peer: string;
  route: RouteToPeer;
}

/** The path, or why the host could not say it (the peer read failed, sshd did not know the peer, no route). */
export type SessionTrace = { path: SessionPath } | { unknown: string };

export async function traceSessionPath(run: RunCommand): Promise<SessionTrace> {
  // The login user's own environment holds $SSH_CONNECTION; under sudo the script would need a
  // rule for `sh`, and without one the guard went blind (found by the VM least-privilege test).
  const shown = await run(buildSessionPeerShow(), { allowFailure: true, asLoginUser: true });
  if (shown.exitCode !== 0) {
    return { unknown: `reading $SSH_CONNECTION exited with ${shown.exitCode}: ${shown.stderr.trim() || "(no output)"}` };
  }
  const peer = parseSessionPeer(shown.stdout);
  if (!peer) return { unknown: "sshd reported no client address in $SSH_CONNECTION" };
  const got = await run(buildRouteGet(peer), { allowFailure: true });
  const route = got.exitCode === 0 ? parseRouteGet(got.stdout) : undefined;
  if (!route) return { unknown: `\`ip route get ${peer}\` found no route: ${got.stderr.trim() || "(no output)"}` };
  return { path: { peer, route } };
}

/** The path, or undefined when the host cannot say. */
export async function findSessionPath(run: RunCommand): Promise<SessionPath | undefined> {
  const traced = await traceSessionPath(run);
  return "path" in traced ? traced.path : undefined;
}

/** What a change would put on a link: its addresses (with prefix) and routes. */
export interface LinkAddressing {
  link: string;
  addresses: readonly string[];
  routes: readonly string[];
}

/**
 * The first address or route of `change` that would take the session's traffic onto the link,
 * or undefined. A route or an address's subnet that contains the peer would (conservatively:
 * even one less specific than the route in use); an address equal to the peer would make it
 * local. Nothing is captured when the session already runs over that link, or comes from the
 * host's own address.
 */
export function sessionCapture(path: SessionPath, change: LinkAddressing): { what: "route" | "address"; value: string } | undefined {
  if (path.route.dev === change.link) return undefined;
  // The host's own address (a session through a local forward): the local table answers before
  // any route a link could add.
  if (path.route.type === "local") return undefined;
  const peer = parseAddress(path.peer);
  if (!peer) return undefined;
  for (const route of change.routes) {
    const prefix = parsePrefix(route);
    if (prefix && prefix.family === peer.family && containsAddress(prefix, peer)) return { what: "route", value: route };
  }
  for (const address of change.addresses) {
    const prefix = parsePrefix(address);
    if (prefix && prefix.family === peer.family && containsAddress(prefix, peer)) return { what: "address", value: address };
  }
  return undefined;
}

/**
 * Refuses, naming the route and the way out, a change that would move the session onto the
 * link; and a change that adds addresses or routes when the session's path cannot be found
 * (under a sudoers that refuses the peer read, say): a guard that cannot look must not pass.
 */
export async function refuseCuttingSession(run: RunCommand, target: string, change: LinkAddressing): Promise<void> {
  if (change.addresses.length === 0 && change.routes.length === 0) return;
  const traced = await traceSessionPath(run);
  if ("unknown" in traced) {
    throw new RefusalError(target, { kind: "sessionUnknown", link: change.link, why: traced.unknown });
  }
  const path = traced.path;
  const captured = sessionCapture(path, change);
  if (!captured) return;
  throw new RefusalError(target, {
    kind: "cutsSession",
    link: change.link,
    what: captured.what,
    value: captured.value,
    peer: path.peer,
    via: path.route.gateway ? `${path.route.gateway} dev ${path.route.dev}` : `dev ${path.route.dev}`,
  });
}
