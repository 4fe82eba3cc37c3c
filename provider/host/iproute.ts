// How a Linux host spells links, addresses and routes: argv builders for iproute2 and parsers
// for its JSON output (`ip -j`), never its text output.

import { z } from "zod";
import { canonicalPrefix, parsePrefix } from "../ipnet";
import type { Argv } from "./command";

// Some iproute2 versions print nothing at all (not "[]") when a listing is empty.
function parseJsonOrEmpty(stdout: string): unknown {
  return stdout.trim() === "" ? [] : JSON.parse(stdout);
}

export interface LinkInfo {
  name: string;
  /** The kernel's index for the link; a link deleted and made again gets a new one. */
  index?: number;
  /** Parent link name for stacked links (macvlan, vlan), when in the same namespace. */
  parent?: string;
  kind?: string;
  /** Driver data: macvlan mode, vlan id, ... as iproute2 names them. */
  data: Record<string, unknown>;
  mtu: number;
  mac?: string;
  /** Administratively up (IFF_UP), which is what `ip link set X up` controls. */
  up: boolean;
  /** The link's alias (IFLA_IFALIAS), where the provider marks the links it makes. */
  alias?: string;
}

/** Exits 0 when the link is a Wi-Fi interface (the kernel gives those a `wireless` folder in sysfs). */
export function buildIsWireless(name: string): Argv {
  return ["test", "-d", `/sys/class/net/${name}/wireless`];
}

/**
 * Exits 0 when any of the links is Wi-Fi, 1 when none is: one `test` for a whole host instead
 * of one per link (`-o` chains the same check; link names never hold a "/").
 */
export function buildAnyWireless(names: readonly string[]): Argv {
  return ["test", ...names.flatMap((name, i) => [...(i > 0 ? ["-o"] : []), "-d", `/sys/class/net/${name}/wireless`])];
}

export function buildLinkShow(name?: string): Argv {
  return name ? ["ip", "-j", "-d", "link", "show", "dev", name] : ["ip", "-j", "-d", "link", "show"];
}

const LinkJson = z.array(
  z.object({
    ifindex: z.number().optional(),
    ifname: z.string(),
    link: z.string().nullish(),
    flags: z.array(z.string()).default([]),
    mtu: z.number().default(0),
    address: z.string().optional(),
    ifalias: z.string().optional(),
    linkinfo: z.object({ info_kind: z.string().optional(), info_data: z.record(z.string(), z.unknown()).optional() }).optional(),
  }),
);

export function parseLinks(stdout: string): LinkInfo[] {
  return LinkJson.parse(parseJsonOrEmpty(stdout)).map((l) => ({
    name: l.ifname,
    index: l.ifindex,
    parent: l.link ?? undefined,
    kind: l.linkinfo?.info_kind,
    data: l.linkinfo?.info_data ?? {},
    mtu: l.mtu,
    mac: l.address,
    up: l.flags.includes("UP"),
    alias: l.ifalias || undefined,
  }));
}

// iproute2 prints `Device "x" does not exist.` for `show dev x` and "Cannot find device" elsewhere.
export function isNoSuchDevice(stderr: string): boolean {
  return /does not exist|cannot find device/i.test(stderr);
}

export function buildMacvlanAdd(name: string, parent: string, mode: string): Argv {
  return ["ip", "link", "add", "link", parent, "name", name, "type", "macvlan", "mode", mode];
}

export function buildVlanAdd(name: string, parent: string, vlanId: number, mtu?: number): Argv {
  const argv = ["ip", "link", "add", "link", parent, "name", name];
  if (mtu !== undefined) argv.push("mtu", String(mtu));
  return [...argv, "type", "vlan", "id", String(vlanId)];
}

export function buildLinkSetMtu(name: string, mtu: number): Argv {
  return ["ip", "link", "set", "dev", name, "mtu", String(mtu)];
}

/**
 * Sets the link's alias. The kernel ignores IFLA_IFALIAS on RTM_NEWLINK (measured on 6.18:
 * `ip link add ... alias X` makes the link with no alias), so the alias is a second request.
 */
export function buildLinkSetAlias(name: string, alias: string): Argv {
  return ["ip", "link", "set", "dev", name, "alias", alias];
}

// What `ip -batch` splits a line on and treats specially (quotes, comments, escapes).
const BATCH_UNSAFE = /[\s"'#\\]/;

/**
 * Several `ip` commands as one process (`ip -batch -`, the lines on stdin), so no crash of the
 * provider or loss of the connection can fall between them: the lines travel in one SSH data
 * packet and reach ip in one pipe write (well under PIPE_BUF), so it reads all of them or none;
 * and once started it runs to the end even if sshd goes (an exec channel has no terminal, so
 * no SIGHUP, and ip prints nothing on success to be cut off). Throws on a word the batch
 * syntax would split or reinterpret (callers pass validated names).
 */
export function buildIpBatch(commands: Argv[]): { argv: Argv; stdin: string } {
  const lines = commands.map((argv) => {
    if (argv[0] !== "ip") throw new Error(`not an ip command: ${argv[0]}`);
    const words = argv.slice(1);
    const unsafe = words.find((w) => w === "" || BATCH_UNSAFE.test(w));
    if (unsafe !== undefined) throw new Error(`ip -batch cannot carry the word ${JSON.stringify(unsafe)}`);
    return words.join(" ");
  });
  return { argv: ["ip", "-batch", "-"], stdin: `${lines.join("\n")}\n` };
}

export function buildLinkDelete(name: string): Argv {
  return ["ip", "link", "delete", "dev", name];
}

export function buildLinkUp(name: string): Argv {
  return ["ip", "link", "set", "dev", name, "up"];
}

export function buildAddressAdd(cidr: string, dev: string): Argv {
  return ["ip", "address", "add", cidr, "dev", dev];
}

export function buildAddressDelete(cidr: string, dev: string): Argv {
  return ["ip", "address", "delete", cidr, "dev", dev];
}

const AddrJson = z.array(
  z.object({
    addr_info: z
      .array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number(), scope: z.string().optional() }))
      .default([]),
  }),
);

/** Addresses on a device as "addr/len", IPv6 link-local ones left out (the kernel adds those itself). */
export function parseAddresses(stdout: string): string[] {
  return AddrJson.parse(parseJsonOrEmpty(stdout))
    .flatMap((l) => l.addr_info)
    .filter((a) => a.scope !== "link")
    .map((a) => canonicalPrefix(`${a.local}/${a.prefixlen}`));
}

function familyFlag(destination: string): "-4" | "-6" {
  return parsePrefix(destination)?.family === 6 ? "-6" : "-4";
}

export function buildRouteAdd(destination: string, dev: string): Argv {
  return ["ip", familyFlag(destination), "route", "add", destination, "dev", dev];
}

export function buildRouteDelete(destination: string, dev: string): Argv {
  return ["ip", familyFlag(destination), "route", "delete", destination, "dev", dev];
}

const RouteJson = z.array(z.object({ dst: z.string(), protocol: z.string().optional() }));

/**
 * Routes through a device that someone added (not the kernel's own connected and link-local
 * routes), as canonical prefixes; a host route prints without a length, so it gets /32 or /128.
 */
export function parseRoutes(stdout: string): string[] {
  return RouteJson.parse(parseJsonOrEmpty(stdout))
    .filter((r) => r.protocol !== "kernel" && r.dst !== "default")
    .map((r) => canonicalPrefix(r.dst));
}

// ---------------------------------------------------------------------------------------------
// The whole host at once: one listing of links with their addresses, one of routes per family,
// shared by every link a batch of reads asks about.

/** Every link with its details and addresses (`ip -d address show` lists both). */
export function buildAddressDump(): Argv {
  return ["ip", "-j", "-d", "address", "show"];
}

export function buildRouteDump(family: 4 | 6): Argv {
  return ["ip", "-j", `-${family}`, "route", "show"];
}

export interface LinkDump {
  links: LinkInfo[];
  /** Device -> its addresses as parseAddresses gives them. */
  addresses: Map<string, string[]>;
  /** Device -> the routes through it as parseRoutes gives them, IPv4 then IPv6. */
  routes: Map<string, string[]>;
}

const DumpRouteJson = z.array(z.object({ dst: z.string(), dev: z.string().optional(), protocol: z.string().optional() }));

export function parseLinkDump(addressDump: string, ...routeDumps: string[]): LinkDump {
  const links = parseLinks(addressDump);
  const withAddresses = z.array(z.object({ ifname: z.string() }).passthrough()).parse(parseJsonOrEmpty(addressDump));
  const addresses = new Map(withAddresses.map((l) => [l.ifname, parseAddresses(JSON.stringify([l]))]));
  const routes = new Map<string, string[]>();
  for (const dump of routeDumps) {
    for (const route of DumpRouteJson.parse(parseJsonOrEmpty(dump))) {
      if (!route.dev) continue;
      const parsed = parseRoutes(JSON.stringify([route]));
      if (parsed.length) routes.set(route.dev, [...(routes.get(route.dev) ?? []), ...parsed]);
    }
  }
  return { links, addresses, routes };
}
