// The inputs and outputs every Docker network resource has, besides its driver's own, and the
// diff rule for each.

import { z } from "zod";
import type { FieldRules } from "../../dynamic";
import { OWNER_LABEL } from "../../host/docker";
import { subnetsOverlap } from "../../ipnet";
import { ConnectionSchema } from "../../ssh/connection";
import { auxAddressName, checkIpamMembership, dockerNetworkName, ipAddress, labels, parentInterfaceName, subnet } from "../../validate";
import { ownerField } from "../owner";

/** One IPAM entry of a family: a subnet with its own gateway, ip-range and reserved addresses. */
function ipamConfigSchema(family: 4 | 6) {
  return z
    .object({
      /** The subnet, as the rest of the LAN knows it (host bits zero). */
      subnet: subnet(family),
      /** The LAN's router in this subnet; Docker picks the first address when it is left out. */
      gateway: ipAddress(family).optional(),
      /** The part of the subnet Docker may hand out. */
      ipRange: subnet(family).optional(),
      /** Addresses in this subnet Docker must never hand out (name -> address). */
      auxAddresses: z.record(auxAddressName, ipAddress(family)).default({}),
    })
    .strict();
}

/** A further IPv4 subnet on the same network (a LAN with a secondary range; ipvlan l3 routing several). */
export const SubnetConfigSchema = ipamConfigSchema(4);

/** Dual stack: the LAN's IPv6 subnet. */
export const Ipv6ConfigSchema = ipamConfigSchema(6);

export const networkFields = {
  /** How to reach the Docker host. */
  connection: ConnectionSchema,
  /** Docker network name; defaults to the resource name. */
  name: dockerNetworkName,
  /**
   * The host NIC (or VLAN subinterface) the containers' ports hang off. Leave it out for an
   * internal network: Docker then makes a dummy link of its own (`dm-<network id>`) as the
   * parent, and containers reach only each other.
   */
  parent: parentInterfaceName.optional(),
  /**
   * The LAN's IPv4 subnet, as the rest of the LAN knows it. Leave it out (and set `ipv6`) for an
   * IPv6-only network, which needs Docker 28 or later on the host (older daemons add an IPv4
   * subnet of their own; they are refused).
   */
  subnet: subnet(4).optional(),
  /** The LAN's router. Docker picks the subnet's first address when it is left out. */
  gateway: ipAddress(4).optional(),
  /** The part of the subnet Docker may hand out; keep it outside the LAN's DHCP pool. */
  ipRange: subnet(4).optional(),
  /** Addresses Docker must never hand out (name -> address), e.g. the host shim's. */
  auxAddresses: z.record(auxAddressName, ipAddress(4)).default({}),
  /** More IPv4 subnets on the same network, each with its own gateway, ip-range and aux addresses. */
  additionalSubnets: z.array(SubnetConfigSchema).default([]),
  /** Dual stack: the LAN's IPv6 subnet. */
  ipv6: Ipv6ConfigSchema.optional(),
  /**
   * Docker's internal flag (`--internal`). A network without a `parent` is internal on the host
   * whatever this says: Docker puts it on a dummy link of its own.
   */
  internal: z.boolean().default(false),
  /** Docker labels on the network. The provider's own owner label is reserved. */
  labels: labels
    .superRefine((map, ctx) => {
      if (Object.hasOwn(map, OWNER_LABEL)) {
        ctx.addIssue({ code: "custom", path: [OWNER_LABEL], message: "is reserved: the provider marks the networks it makes with it" });
      }
    })
    .default({}),
  /** Take over an existing network of this name whose settings match, instead of failing. */
  adopt: z.boolean().default(false),
  /** Set by the resource class, not the program: which resource this is (see resources/owner.ts). */
  owner: ownerField,
};

const BaseSchema = z.object(networkFields);
export type NetworkArgs = z.output<typeof BaseSchema>;
export type Ipv6Config = z.output<typeof Ipv6ConfigSchema>;

/** The state fields only the provider sets. */
export const networkOutputs = {
  /** The Docker network id (also the resource id). */
  networkId: z.string(),
};
export type NetworkOutputs = z.output<z.ZodObject<typeof networkOutputs>>;

/** Gateway, ip-range and aux addresses inside their subnets, for both families; no two IPv4 subnets overlap. */
export function refineIpam(args: NetworkArgs, ctx: z.RefinementCtx): void {
  refineFamilies(args, ctx);
  if (args.subnet !== undefined) checkIpamMembership(ctx, [], { ...args, subnet: args.subnet });
  for (const [i, config] of args.additionalSubnets.entries()) checkIpamMembership(ctx, ["additionalSubnets", i], config);
  if (args.ipv6) checkIpamMembership(ctx, ["ipv6"], args.ipv6);
  const seen: { subnet: string; at: (string | number)[] }[] = args.subnet === undefined ? [] : [{ subnet: args.subnet, at: ["subnet"] }];
  args.additionalSubnets.forEach((config, i) => {
    const clash = seen.find((s) => subnetsOverlap(s.subnet, config.subnet));
    if (clash) {
      ctx.addIssue({
        code: "custom",
        path: ["additionalSubnets", i, "subnet"],
        message: `subnet ${config.subnet} overlaps ${clash.subnet} (${clash.at.join(".")})`,
      });
    }
    seen.push({ subnet: config.subnet, at: ["additionalSubnets", i, "subnet"] });
  });
}

/**
 * A network needs a subnet of some family, and the IPv4 settings need the IPv4 subnet.
 */
function refineFamilies(args: NetworkArgs, ctx: z.RefinementCtx): void {
  if (args.subnet === undefined) {
    if (!args.ipv6) {
      ctx.addIssue({
        code: "custom",
        path: ["subnet"],
        message: "is required: set subnet (IPv4), or ipv6.subnet alone for an IPv6-only network",
      });
    }
    const v4Only = { gateway: args.gateway, ipRange: args.ipRange } as Record<string, unknown>;
    for (const [field, value] of Object.entries(v4Only)) {
      if (value !== undefined) {
        ctx.addIssue({ code: "custom", path: [field], message: `needs subnet (IPv4); for the IPv6 subnet use ipv6.${field}` });
      }
    }
    if (Object.keys(args.auxAddresses).length > 0) {
      ctx.addIssue({ code: "custom", path: ["auxAddresses"], message: "needs subnet (IPv4); for the IPv6 subnet use ipv6.auxAddresses" });
    }
    if (args.additionalSubnets.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["additionalSubnets"],
        message: "needs subnet (IPv4): further IPv4 subnets come after the first",
      });
    }
  }
}

/**
 * Docker has no way to change a network in place, so every setting it holds forces a
 * replacement; `connection` and `adopt` only say how we reach and treat it. `owner` is not
 * diffed at all (see ownerField).
 */
export const NETWORK_FIELD_RULES: FieldRules<Exclude<keyof NetworkArgs, "owner">> = {
  connection: "update",
  adopt: "update",
  name: "replace",
  parent: "replace",
  subnet: "replace",
  gateway: "replace",
  ipRange: "replace",
  auxAddresses: "replace",
  additionalSubnets: "replace",
  ipv6: "replace",
  internal: "replace",
  labels: "replace",
};
