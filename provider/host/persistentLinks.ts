// How a host spells "bring this link back after a reboot": systemd-networkd .netdev/.network
// files (when networkd manages the parent), or a systemd oneshot unit that replays the `ip`
// commands (any other systemd host). Pure text builders and parsers; no I/O here.

import { z } from "zod";
import type { Argv } from "./command";
import { buildAddressAdd, buildLinkSetAlias, buildLinkUp, buildMacvlanAdd, buildRouteAdd, buildVlanAdd } from "./iproute";

/**
 * A link to recreate at boot, with what it carries. `alias` is the mark by which the provider
 * knows the link as its own: replayed at boot too, or a rebooted host's link would look like
 * someone else's to the next create.
 */
export type PersistentLink = (
  | { kind: "vlan"; name: string; parent: string; vlanId: number; mtu?: number }
  | { kind: "macvlan"; name: string; parent: string; mode: string; address: string; routes: string[] }
) & { alias?: string };

export interface HostFile {
  path: string;
  content: string;
}

export type PersistMethod = "networkd" | "systemd-unit";

const HEADER = "# Managed by pulumi-underlay; changes here are overwritten or removed by `pulumi up`.\n";
const NETWORKD_DIR = "/etc/systemd/network";
const SYSTEMD_DIR = "/etc/systemd/system";

// ---------------------------------------------------------------------------------------------
// systemd-networkd

/**
 * The files networkd needs: the link itself (.netdev), its own settings (.network), and a
 * drop-in for the parent's .network that attaches it (networkd creates stacked links only
 * when the parent's network names them).
 */
export function networkdFiles(link: PersistentLink, parentNetworkFile: string): HostFile[] {
  const base = `${NETWORKD_DIR}/60-underlay-${link.name}`;
  const parentBase = parentNetworkFile.split("/").pop() ?? parentNetworkFile;
  const netdev =
    link.kind === "vlan"
      ? `[NetDev]\nName=${link.name}\nKind=vlan\n${link.mtu ? `MTUBytes=${link.mtu}\n` : ""}\n[VLAN]\nId=${link.vlanId}\n`
      : `[NetDev]\nName=${link.name}\nKind=macvlan\n\n[MACVLAN]\nMode=${link.mode}\n`;
  const network =
    link.kind === "vlan"
      ? // A bare 802.1q parent for Docker networks: up, no addresses of its own.
        `[Match]\nName=${link.name}\n\n[Link]\nRequiredForOnline=no\n\n[Network]\nLinkLocalAddressing=no\nConfigureWithoutCarrier=yes\n`
      : `[Match]\nName=${link.name}\n\n[Link]\nRequiredForOnline=no\n\n[Network]\nLinkLocalAddressing=no\nConfigureWithoutCarrier=yes\nAddress=${link.address}\n` +
        link.routes.map((r) => `\n[Route]\nDestination=${r}\n`).join("");
  const attach = link.kind === "vlan" ? `VLAN=${link.name}` : `MACVLAN=${link.name}`;
  return [
    { path: `${base}.netdev`, content: HEADER + netdev },
    { path: `${base}.network`, content: HEADER + network },
    { path: `${NETWORKD_DIR}/${parentBase}.d/60-underlay-${link.name}.conf`, content: `${HEADER}[Network]\n${attach}\n` },
    ...(link.alias === undefined ? [] : [{ path: `${base}.link`, content: HEADER + linkFileContent(link.name, link.alias) }]),
  ];
}

/**
 * A .link file (applied by udev when networkd makes the link) that sets the alias; networkd's
 * own files cannot. Only the first .link file matching a device applies, so this one repeats
 * what Debian's 99-default.link would have set on a virtual link (its persistent MAC).
 */
function linkFileContent(name: string, alias: string): string {
  return `[Match]\nOriginalName=${name}\n\n[Link]\nAlias=${alias}\nMACAddressPolicy=persistent\n`;
}

const NetworkctlList = z.object({
  Interfaces: z.array(z.object({ Name: z.string(), NetworkFile: z.string().optional() })).default([]),
});

/** The .network file networkd applies to a link, from `networkctl --json=short list`. */
export function parseNetworkFileOf(stdout: string, link: string): string | undefined {
  const parsed = NetworkctlList.parse(JSON.parse(stdout));
  return parsed.Interfaces.find((i) => i.Name === link)?.NetworkFile;
}

export function buildNetworkdActive(): Argv {
  return ["systemctl", "is-active", "--quiet", "systemd-networkd"];
}

export function buildNetworkctlList(): Argv {
  return ["networkctl", "--json=short", "list"];
}

// ---------------------------------------------------------------------------------------------
// systemd unit fallback

/** systemd's path escaping (systemd-escape --path) for a /sys device unit name. */
export function deviceUnitName(interfaceName: string): string {
  const escaped = `sys/subsystem/net/devices/${interfaceName}`
    .split("/")
    .map((part) =>
      [...part]
        .map((ch, i) => (/[A-Za-z0-9:_]/.test(ch) || (ch === "." && i > 0) ? ch : `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`))
        .join(""),
    )
    .join("-");
  return `${escaped}.device`;
}

export function unitName(link: PersistentLink): string {
  return `underlay-link-${link.name}.service`;
}

/**
 * The `ip` commands that make the link as it is meant to be, in order: the same argv a create
 * runs live and a systemd unit replays at boot.
 */
export function linkSetupCommands(link: PersistentLink): Argv[] {
  const alias = link.alias === undefined ? [] : [buildLinkSetAlias(link.name, link.alias)];
  if (link.kind === "vlan") {
    return [buildVlanAdd(link.name, link.parent, link.vlanId, link.mtu), ...alias, buildLinkUp(link.name)];
  }
  return [
    buildMacvlanAdd(link.name, link.parent, link.mode),
    ...alias,
    buildAddressAdd(link.address, link.name),
    buildLinkUp(link.name),
    ...link.routes.map((route) => buildRouteAdd(route, link.name)),
  ];
}

const SYSTEMD_PLAIN_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;

/**
 * One word of a systemd command line (ExecStart=): plain when it is safe, otherwise double-
 * quoted with C escapes, and with `%` (specifiers) and `$` (environment) doubled.
 */
export function quoteSystemdWord(word: string): string {
  if (SYSTEMD_PLAIN_WORD.test(word)) return word;
  const escaped = [...word]
    .map((ch) => {
      if (ch === "\\" || ch === '"') return `\\${ch}`;
      if (ch === "%") return "%%";
      if (ch === "$") return "$$";
      const code = ch.charCodeAt(0);
      return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : ch;
    })
    .join("");
  return `"${escaped}"`;
}

export function systemdCommand(argv: Argv): string {
  return argv.map(quoteSystemdWord).join(" ");
}

/**
 * A oneshot unit that replays the link's `ip` commands once its parent exists, before Docker
 * starts (so Docker networks find their parent).
 */
export function systemdUnitFiles(link: PersistentLink): HostFile[] {
  const device = deviceUnitName(link.parent);
  const unit =
    `[Unit]\nDescription=pulumi-underlay ${link.kind} link ${link.name} on ${link.parent}\n` +
    `BindsTo=${device}\nAfter=${device}\nBefore=docker.service network-online.target\n\n` +
    `[Service]\nType=oneshot\nRemainAfterExit=yes\n` +
    linkSetupCommands(link)
      .map((argv) => `ExecStart=${systemdCommand(argv)}\n`)
      .join("") +
    `\n[Install]\nWantedBy=multi-user.target\n`;
  return [{ path: `${SYSTEMD_DIR}/${unitName(link)}`, content: HEADER + unit }];
}

export function buildSystemdRunning(): Argv {
  return ["test", "-d", "/run/systemd/system"];
}

export function buildUnitEnable(link: PersistentLink): Argv[] {
  return [
    ["systemctl", "daemon-reload"],
    ["systemctl", "enable", unitName(link)],
  ];
}

export function buildUnitIsEnabled(link: PersistentLink): Argv {
  return ["systemctl", "is-enabled", "--quiet", unitName(link)];
}

/**
 * The link `systemctl enable` makes for the unit: its [Install] section names only
 * multi-user.target.
 */
export function unitWantsLink(link: PersistentLink): string {
  return `${SYSTEMD_DIR}/multi-user.target.wants/${unitName(link)}`;
}

export function buildUnitDisable(link: PersistentLink): Argv[] {
  return [
    ["systemctl", "disable", unitName(link)],
    ["systemctl", "daemon-reload"],
  ];
}

// ---------------------------------------------------------------------------------------------
// Files

export function buildReadFile(path: string): Argv {
  return ["cat", "--", path];
}

export function buildMakeDirectory(path: string): Argv {
  return ["mkdir", "-p", "--", path];
}

/** Writes stdin to the file (the content travels as stdin, never on a command line). */
export function buildWriteFile(path: string): Argv {
  return ["tee", "--", path];
}

export function buildRemoveFiles(paths: string[]): Argv {
  return ["rm", "-f", "--", ...paths];
}

export function buildRemoveEmptyDirectory(path: string): Argv {
  return ["rmdir", "--ignore-fail-on-non-empty", "--", path];
}
