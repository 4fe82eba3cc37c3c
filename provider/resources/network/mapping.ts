// The mapping between a network resource's inputs and Docker's vocabulary, both ways: inputs ->
// the spec `docker network create` is given, `docker network inspect` -> state, and the
// differences between a spec and what a host has. What is read back is mapped exactly as what
// was written, so a read right after a create diffs empty against the inputs.

import { stableJson } from "../../dynamic";
import { type InspectedNetwork, ipamOfFamily, type NetworkSpec } from "../../host/docker";
import { parsePrefix } from "../../ipnet";
import type { Ipv6Config, NetworkArgs, NetworkOutputs } from "./fields";

/** How one driver spells its own settings, both ways. */
export interface DriverMapping<A extends NetworkArgs> {
  driver: NetworkSpec["driver"];
  /** Driver options (-o) besides parent. */
  options(args: A): Record<string, string>;
  /** The driver's own inputs as the host reports them. */
  readOptions(options: Record<string, string>): Partial<A>;
}

export function toNetworkSpec<A extends NetworkArgs>(mapping: DriverMapping<A>, args: A): NetworkSpec {
  return {
    name: args.name,
    driver: mapping.driver,
    options: { ...(args.parent === undefined ? {} : { parent: args.parent }), ...mapping.options(args) },
    ipam: [
      ...(args.subnet === undefined
        ? []
        : [{ subnet: args.subnet, gateway: args.gateway, ipRange: args.ipRange, auxAddresses: args.auxAddresses }]),
      ...args.additionalSubnets,
      ...(args.ipv6 ? [args.ipv6] : []),
    ],
    enableIPv6: args.ipv6 !== undefined,
    // Without a parent Docker puts the network on a dummy link: internal whatever the flag says.
    // Saying so keeps `docker network inspect` on the host truthful.
    internal: args.internal || args.parent === undefined,
    labels: args.labels,
    ...(args.owner === undefined ? {} : { owner: args.owner }),
  };
}

/**
 * The state for what the host has, mapped exactly as the args were written. A gateway the
 * program left out is Docker's choice, not drift, so it stays out unless the program set one.
 */
export function fromInspected<A extends NetworkArgs>(mapping: DriverMapping<A>, network: InspectedNetwork, prior: A): A & NetworkOutputs {
  const v4s = network.ipam.filter((c) => parsePrefix(c.subnet)?.family === 4);
  const v4 = v4s.find((c) => c.subnet === prior.subnet) ?? v4s[0];
  const v6 = ipamOfFamily(network.ipam, 6);
  // The program's order for the subnets it has, then any the host has besides.
  const others = v4s.filter((c) => c !== v4);
  const additional = [
    ...prior.additionalSubnets.flatMap((p) => others.filter((c) => c.subnet === p.subnet).map((c) => ({ c, p }))),
    ...others.filter((c) => !prior.additionalSubnets.some((p) => p.subnet === c.subnet)).map((c) => ({ c, p: undefined })),
  ].map(({ c, p }) => ({
    subnet: c.subnet,
    gateway: p?.gateway === undefined ? undefined : c.gateway,
    ipRange: c.ipRange,
    auxAddresses: c.auxAddresses,
  }));
  const ipv6: Ipv6Config | undefined = v6
    ? {
        subnet: v6.subnet,
        gateway: prior.ipv6?.gateway === undefined ? undefined : v6.gateway,
        ipRange: v6.ipRange,
        auxAddresses: v6.auxAddresses,
      }
    : undefined;
  const parent = readParent(network.options.parent, prior.parent);
  return {
    ...prior,
    networkId: network.id,
    name: network.name,
    parent,
    subnet: v4?.subnet,
    gateway: prior.gateway === undefined ? undefined : v4?.gateway,
    ipRange: v4?.ipRange,
    auxAddresses: v4?.auxAddresses ?? {},
    additionalSubnets: additional,
    ipv6,
    // A network without a parent is internal on the host; whether the program also said so is its own business.
    internal: prior.parent === undefined && parent === undefined && network.internal ? prior.internal : network.internal,
    labels: network.labels,
    // The owner the host's mark carries (none on a network adopted by hand or made before
    // owners): what a later create compares, whatever the program's stack is called by then.
    owner: network.owner,
    ...mapping.readOptions(network.options),
  };
}

/** Docker names the dummy link of a network without a parent "dm-" and the network id's first 12 characters. */
export const DUMMY_PARENT = /^dm-[0-9a-f]{12}$/;

/**
 * The parent as the program wrote it: none for a network the host puts on Docker's own dummy
 * link (some daemons report it as the parent option), so an internal network never drifts.
 */
function readParent(reported: string | undefined, asked: string | undefined): string | undefined {
  if (reported === undefined) return undefined;
  return asked === undefined && DUMMY_PARENT.test(reported) ? undefined : reported;
}

/** Differences between what was asked and what a host has, as "field: asked X, host has Y". */
export function specDifferences(spec: NetworkSpec, actual: Omit<InspectedNetwork, "id" | "containers">): string[] {
  const differences: string[] = [];
  const show = (v: unknown) => (v === undefined ? "nothing" : stableJson(v));
  const compare = (field: string, asked: unknown, has: unknown) => {
    if (stableJson(asked) !== stableJson(has)) differences.push(`${field}: asked ${show(asked)}, host has ${show(has)}`);
  };
  compare("driver", spec.driver, actual.driver);
  for (const [key, value] of Object.entries(spec.options)) compare(`option ${key}`, value, actual.options[key]);
  compare("ipv6", spec.enableIPv6, actual.enableIPv6);
  compare("internal", spec.internal, actual.internal);
  compare("labels", spec.labels, actual.labels);
  compare("subnets", spec.ipam.map((c) => c.subnet).sort(), actual.ipam.map((c) => c.subnet).sort());
  for (const asked of spec.ipam) {
    const family = parsePrefix(asked.subnet)?.family;
    const has = actual.ipam.find((c) => c.subnet === asked.subnet);
    compare(`IPv${family} subnet`, asked.subnet, has?.subnet);
    if (asked.gateway) compare(`IPv${family} gateway`, asked.gateway, has?.gateway);
    compare(`IPv${family} ip range`, asked.ipRange, has?.ipRange);
    compare(`IPv${family} aux addresses`, asked.auxAddresses, has?.auxAddresses ?? {});
  }
  return differences;
}
