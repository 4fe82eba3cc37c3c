// Inputs check() must refuse, each with the field it must name. Shared by the unit test (the
// message) and the integration test (create() refuses too, and the host is left untouched).

export type ResourceKind = "MacvlanNetwork" | "HostShim" | "IpvlanNetwork" | "VlanSubinterface";

export interface InvalidCase {
  title: string;
  resource: ResourceKind;
  /** Applied over a valid base input; `undefined` values delete the key. */
  patch: Record<string, unknown>;
  /** The property the failure must name (dotted). */
  field: string;
  /** Text the reason must contain (usually the offending value). */
  shows?: string;
}

const SHELL = "$(touch /tmp/ulab-pwned)";

export const INVALID_CASES: InvalidCase[] = [
  // Addresses and subnets
  { title: "subnet is not CIDR", resource: "MacvlanNetwork", patch: { subnet: "198.51.100.0" }, field: "subnet", shows: "198.51.100.0" },
  {
    title: "subnet has host bits",
    resource: "MacvlanNetwork",
    patch: { subnet: "198.51.100.7/24" },
    field: "subnet",
    shows: "198.51.100.0/24",
  },
  { title: "subnet prefix too long", resource: "MacvlanNetwork", patch: { subnet: "198.51.100.0/33" }, field: "subnet", shows: "/33" },
  {
    title: "subnet octet out of range",
    resource: "MacvlanNetwork",
    patch: { subnet: "198.51.300.0/24" },
    field: "subnet",
    shows: "198.51.300.0/24",
  },
  {
    title: "IPv6 subnet where IPv4 is expected",
    resource: "MacvlanNetwork",
    patch: { subnet: "fd18::/64" },
    field: "subnet",
    shows: "fd18::/64",
  },
  {
    title: "gateway outside subnet",
    resource: "MacvlanNetwork",
    patch: { gateway: "203.0.113.1" },
    field: "gateway",
    shows: "203.0.113.1",
  },
  {
    title: "gateway is the network address",
    resource: "MacvlanNetwork",
    patch: { gateway: "198.51.100.0" },
    field: "gateway",
    shows: "network or broadcast",
  },
  {
    title: "gateway is the broadcast address",
    resource: "MacvlanNetwork",
    patch: { gateway: "198.51.100.255" },
    field: "gateway",
    shows: "198.51.100.255",
  },
  { title: "gateway not an address", resource: "MacvlanNetwork", patch: { gateway: "router.lan" }, field: "gateway", shows: "router.lan" },
  {
    title: "ip-range outside subnet",
    resource: "MacvlanNetwork",
    patch: { ipRange: "203.0.113.0/26" },
    field: "ipRange",
    shows: "203.0.113.0/26",
  },
  {
    title: "ip-range wider than subnet",
    resource: "MacvlanNetwork",
    patch: { ipRange: "198.51.100.0/23" },
    field: "ipRange",
    shows: "198.51.100.0/23",
  },
  {
    title: "ip-range with host bits",
    resource: "MacvlanNetwork",
    patch: { ipRange: "198.51.100.130/26" },
    field: "ipRange",
    shows: "198.51.100.128/26",
  },
  {
    title: "aux address outside subnet",
    resource: "MacvlanNetwork",
    patch: { auxAddresses: { shim: "203.0.113.9" } },
    field: "auxAddresses.shim",
    shows: "203.0.113.9",
  },
  {
    title: "aux address equals gateway",
    resource: "MacvlanNetwork",
    patch: { auxAddresses: { gw: "198.51.100.1" } },
    field: "auxAddresses.gw",
    shows: "gateway",
  },
  {
    title: "aux address name with a space",
    resource: "MacvlanNetwork",
    patch: { auxAddresses: { "my shim": "198.51.100.250" } },
    field: "auxAddresses",
    shows: "my shim",
  },
  {
    title: "IPv6 gateway outside IPv6 subnet",
    resource: "MacvlanNetwork",
    patch: { ipv6: { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:2::1" } },
    field: "ipv6.gateway",
    shows: "fd18:0:0:2::1",
  },
  {
    title: "IPv6 subnet that is IPv4",
    resource: "MacvlanNetwork",
    patch: { ipv6: { subnet: "198.51.100.0/24" } },
    field: "ipv6.subnet",
    shows: "198.51.100.0/24",
  },
  {
    title: "IPv6 ip-range outside subnet",
    resource: "MacvlanNetwork",
    patch: { ipv6: { subnet: "fd18:0:0:1::/64", ipRange: "fd18:0:0:9::/80" } },
    field: "ipv6.ipRange",
    shows: "fd18:0:0:9::/80",
  },
  // Names
  {
    title: "parent longer than 15 bytes",
    resource: "MacvlanNetwork",
    patch: { parent: "enp0s31f6averylong" },
    field: "parent",
    shows: "15 bytes",
  },
  { title: "parent with a slash", resource: "MacvlanNetwork", patch: { parent: "eth/1" }, field: "parent", shows: "eth/1" },
  { title: "parent with whitespace", resource: "MacvlanNetwork", patch: { parent: "eth 1" }, field: "parent", shows: "eth 1" },
  { title: "parent is '..'", resource: "MacvlanNetwork", patch: { parent: ".." }, field: "parent", shows: ".." },
  {
    title: "parent smuggling shell syntax",
    resource: "MacvlanNetwork",
    patch: { parent: "eth1;reboot" },
    field: "parent",
    shows: "eth1;reboot",
  },
  { title: "network name with shell syntax", resource: "MacvlanNetwork", patch: { name: SHELL }, field: "name", shows: "touch" },
  { title: "network name starting with a dash", resource: "MacvlanNetwork", patch: { name: "-lan" }, field: "name", shows: "-lan" },
  { title: "network name Docker reserves", resource: "MacvlanNetwork", patch: { name: "host" }, field: "name", shows: "predefined" },
  { title: "unknown macvlan mode", resource: "MacvlanNetwork", patch: { mode: "l2" }, field: "mode", shows: "l2" },
  { title: "label key with '='", resource: "MacvlanNetwork", patch: { labels: { "a=b": "c" } }, field: "labels", shows: "a=b" },
  {
    title: "label value with a newline",
    resource: "MacvlanNetwork",
    patch: { labels: { team: "a\nb" } },
    field: "labels.team",
    shows: "control characters",
  },
  { title: "unknown input field (typo)", resource: "MacvlanNetwork", patch: { iprange: "198.51.100.128/26" }, field: "", shows: "iprange" },
  {
    title: "no subnet of either family",
    resource: "MacvlanNetwork",
    patch: { subnet: undefined, gateway: undefined, ipRange: undefined, auxAddresses: undefined },
    field: "subnet",
    shows: "IPv6-only",
  },
  {
    title: "IPv4 gateway on an IPv6-only network",
    resource: "MacvlanNetwork",
    patch: { subnet: undefined, ipRange: undefined, auxAddresses: undefined, ipv6: { subnet: "fd18:0:0:3::/64" } },
    field: "gateway",
    shows: "ipv6.gateway",
  },
  { title: "internal not a boolean", resource: "MacvlanNetwork", patch: { internal: "yes" }, field: "internal", shows: "yes" },
  // Connection
  {
    title: "host with shell syntax",
    resource: "MacvlanNetwork",
    patch: { connection: { host: `h;${SHELL}` } },
    field: "connection.host",
    shows: "touch",
  },
  {
    title: "host starting with a dash (ssh option)",
    resource: "MacvlanNetwork",
    patch: { connection: { host: "-oProxyCommand=x" } },
    field: "connection.host",
    shows: "-oProxyCommand",
  },
  {
    title: "port out of range",
    resource: "MacvlanNetwork",
    patch: { connection: { port: 70000 } },
    field: "connection.port",
    shows: "70000",
  },
  {
    title: "user with shell syntax",
    resource: "MacvlanNetwork",
    patch: { connection: { user: "root;id" } },
    field: "connection.user",
    shows: "root;id",
  },
  {
    title: "no credentials",
    resource: "MacvlanNetwork",
    patch: { connection: { privateKey: undefined, password: undefined } },
    field: "connection.privateKey",
    shows: "no credentials",
  },
  {
    title: "empty password (its value stays hidden)",
    resource: "MacvlanNetwork",
    patch: { connection: { password: "" } },
    field: "connection.password",
    shows: "hidden",
  },
  {
    title: "empty key passphrase (its value stays hidden)",
    resource: "MacvlanNetwork",
    patch: { connection: { privateKeyPassphrase: "" } },
    field: "connection.privateKeyPassphrase",
    shows: "hidden",
  },
  {
    title: "private key that is not a key",
    resource: "MacvlanNetwork",
    patch: { connection: { privateKey: "-----BEGIN NOTHING-----" } },
    field: "connection.privateKey",
    shows: "hidden",
  },
  {
    title: "host key that is neither a key line nor a fingerprint",
    resource: "MacvlanNetwork",
    patch: { connection: { hostKey: "MD5:aa:bb" } },
    field: "connection.hostKey",
    shows: "MD5:aa:bb",
  },
  {
    title: "no host key and no explicit opt-out",
    resource: "MacvlanNetwork",
    patch: { connection: { hostKey: undefined } },
    field: "connection.hostKey",
    shows: "insecureIgnoreHostKey",
  },
  // HostShim
  {
    title: "shim name longer than 15 bytes",
    resource: "HostShim",
    patch: { name: "shim-for-the-lan-0" },
    field: "name",
    shows: "15 bytes",
  },
  { title: "shim name equal to parent", resource: "HostShim", patch: { name: "eth1" }, field: "name", shows: "parent" },
  {
    title: "shim address without prefix",
    resource: "HostShim",
    patch: { address: "198.51.100.250" },
    field: "address",
    shows: "198.51.100.250",
  },
  {
    title: "shim route with host bits",
    resource: "HostShim",
    patch: { routes: ["198.51.100.129/26"] },
    field: "routes.0",
    shows: "198.51.100.128/26",
  },
  { title: "shim route not CIDR", resource: "HostShim", patch: { routes: ["default"] }, field: "routes.0", shows: "default" },
  {
    title: "shim route repeated",
    resource: "HostShim",
    patch: { routes: ["198.51.100.128/26", "198.51.100.128/26"] },
    field: "routes.1",
    shows: "repeats",
  },
  { title: "shim mode unknown", resource: "HostShim", patch: { mode: "l3" }, field: "mode", shows: "l3" },
  { title: "shim parent with shell syntax", resource: "HostShim", patch: { parent: "`reboot`" }, field: "parent", shows: "reboot" },
  // IpvlanNetwork
  {
    title: "ipvlan gateway in l3 mode",
    resource: "IpvlanNetwork",
    patch: { mode: "l3" },
    field: "gateway",
    shows: "no meaning in ipvlan l3 mode",
  },
  {
    title: "ipvlan IPv6 gateway in l3s mode",
    resource: "IpvlanNetwork",
    patch: { mode: "l3s", gateway: undefined, ipv6: { subnet: "fd18:0:0:1::/64", gateway: "fd18:0:0:1::1" } },
    field: "ipv6.gateway",
    shows: "l3s",
  },
  { title: "ipvlan unknown mode", resource: "IpvlanNetwork", patch: { mode: "bridge" }, field: "mode", shows: "bridge" },
  { title: "ipvlan unknown flag", resource: "IpvlanNetwork", patch: { flag: "passthru" }, field: "flag", shows: "passthru" },
  {
    title: "additional subnet overlapping the first",
    resource: "IpvlanNetwork",
    patch: { additionalSubnets: [{ subnet: "198.51.100.128/25" }] },
    field: "additionalSubnets.0.subnet",
    shows: "overlaps 198.51.100.0/24",
  },
  // VlanSubinterface
  { title: "VLAN id 0", resource: "VlanSubinterface", patch: { vlanId: 0 }, field: "vlanId", shows: "0" },
  { title: "VLAN id 4095", resource: "VlanSubinterface", patch: { vlanId: 4095 }, field: "vlanId", shows: "4095" },
  { title: "VLAN id not an integer", resource: "VlanSubinterface", patch: { vlanId: 50.5 }, field: "vlanId", shows: "50.5" },
  {
    title: "default VLAN name longer than 15 bytes",
    resource: "VlanSubinterface",
    patch: { parent: "enp0s31f6np0x", vlanId: 4000, name: undefined },
    field: "name",
    shows: "enp0s31f6np0x.4000",
  },
  { title: "VLAN mtu below IPv4's minimum", resource: "VlanSubinterface", patch: { mtu: 60 }, field: "mtu", shows: "60" },
  // Nonsense for a host though well-formed (issue 10): refused in check(), naming the field
  {
    title: "subnet 0.0.0.0/0",
    resource: "MacvlanNetwork",
    patch: { subnet: "0.0.0.0/0", gateway: undefined, ipRange: undefined, auxAddresses: {} },
    field: "subnet",
    shows: "whole address space",
  },
  {
    title: "ip-range 0.0.0.0/0",
    resource: "MacvlanNetwork",
    patch: { ipRange: "0.0.0.0/0" },
    field: "ipRange",
    shows: "whole address space",
  },
  {
    title: "IPv6 subnet ::/0",
    resource: "MacvlanNetwork",
    patch: { ipv6: { subnet: "::/0" } },
    field: "ipv6.subnet",
    shows: "whole address space",
  },
  { title: "parent is the loopback device", resource: "MacvlanNetwork", patch: { parent: "lo" }, field: "parent", shows: "loopback" },
  { title: "ipvlan parent is the loopback device", resource: "IpvlanNetwork", patch: { parent: "lo" }, field: "parent", shows: "loopback" },
  {
    title: "label key of 10,000 characters",
    resource: "MacvlanNetwork",
    patch: { labels: { ["k".repeat(10_000)]: "v" } },
    field: "labels",
    shows: "255 bytes",
  },
  {
    title: "aux address name of 200,000 characters",
    resource: "MacvlanNetwork",
    patch: { auxAddresses: { [`eth1${"d".repeat(200_000)}`]: "198.51.100.9" } },
    field: "auxAddresses",
    shows: "255 characters",
  },
  {
    title: "label value of 200,000 characters",
    resource: "MacvlanNetwork",
    patch: { labels: { team: "v".repeat(200_000) } },
    field: "labels.team",
    shows: "4096 bytes",
  },
  {
    title: "labels past the size bound for all of them",
    resource: "MacvlanNetwork",
    patch: { labels: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, '"'.repeat(2000)])) },
    field: "labels",
    shows: "every listing of the host's networks",
  },
  {
    title: "label value with a C1 control",
    resource: "MacvlanNetwork",
    patch: { labels: { team: "a\u009bb" } },
    field: "labels.team",
    shows: "control characters",
  },
  {
    title: "label value with a lone surrogate",
    resource: "MacvlanNetwork",
    patch: { labels: { team: "a\ud800" } },
    field: "labels.team",
    shows: "surrogate",
  },
  { title: "shim name 'all'", resource: "HostShim", patch: { name: "all" }, field: "name", shows: "reserves" },
  { title: "shim name 'default'", resource: "HostShim", patch: { name: "default" }, field: "name", shows: "reserves" },
  { title: "shim parent is the loopback device", resource: "HostShim", patch: { parent: "lo" }, field: "parent", shows: "loopback" },
  { title: "shim address 0.0.0.0/0", resource: "HostShim", patch: { address: "0.0.0.0/0" }, field: "address", shows: "unspecified" },
  { title: "shim address ::/0", resource: "HostShim", patch: { address: "::/0" }, field: "address", shows: "unspecified" },
  {
    title: "shim address with prefix 0",
    resource: "HostShim",
    patch: { address: "198.51.100.250/0" },
    field: "address",
    shows: "prefix length 0",
  },
  {
    title: "shim address a network address",
    resource: "HostShim",
    patch: { address: "198.51.100.0/24" },
    field: "address",
    shows: "network address of 198.51.100.0/24",
  },
  {
    title: "shim address a broadcast address",
    resource: "HostShim",
    patch: { address: "198.51.100.255/24" },
    field: "address",
    shows: "broadcast",
  },
  {
    title: "shim address IPv6 link-local",
    resource: "HostShim",
    patch: { address: "fe80::250/64" },
    field: "address",
    shows: "link-local",
  },
  { title: "shim address loopback", resource: "HostShim", patch: { address: "127.0.0.2/32" }, field: "address", shows: "loopback" },
  { title: "shim route 0.0.0.0/0", resource: "HostShim", patch: { routes: ["0.0.0.0/0"] }, field: "routes.0", shows: "default route" },
  { title: "shim route ::/0", resource: "HostShim", patch: { routes: ["::/0"] }, field: "routes.0", shows: "default route" },
  {
    title: "VLAN on the loopback device",
    resource: "VlanSubinterface",
    patch: { parent: "lo", name: "lo.50" },
    field: "parent",
    shows: "loopback",
  },
  { title: "VLAN name 'all'", resource: "VlanSubinterface", patch: { name: "all" }, field: "name", shows: "reserves" },
];

function merge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) {
      delete out[key];
    } else if (value && typeof value === "object" && !Array.isArray(value) && key === "connection") {
      out[key] = merge(base[key] as Record<string, unknown>, value as Record<string, unknown>);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The invalid input: the case's patch over a valid base for its resource. */
export function invalidInput(c: InvalidCase, valid: Record<ResourceKind, Record<string, unknown>>): Record<string, unknown> {
  return merge(valid[c.resource], c.patch);
}
