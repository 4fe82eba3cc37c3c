// What MacvlanNetwork and IpvlanNetwork share: the IPAM inputs, the mapping between them and
// Docker's vocabulary, and the provider behaviour. Each resource file adds only its driver's
// own settings (mode, flag) and rules.

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConnectionSchema, hostSession, parseConnection } from "../../ssh/connection";
import {
  checkInputs,
  diffByRules,
  FieldRules,
  parseInputs,
  registeredProps,
  withSecretConnection,
} from "../../dynamic";
import { InspectedNetwork, ipamOfFamily, NetworkSpec } from "../../host/docker";
import { parsePrefix, prefixesOverlap } from "../../ipnet";
import { createNetwork, deleteNetwork, HostInventory, inspectNetwork } from "../../ops/network";
import {
  auxAddressName,
  checkIpamMembership,
  dockerNetworkName,
  interfaceName,
  ipAddress,
  labelKey,
  labelValue,
  subnet,
} from "../../validate";

/** One IPAM entry of a family: a subnet with its own gateway, ip-range and reserved addresses. */
function ipamConfigSchema(family: 4 | 6) {
  return z
    .object({
      subnet: subnet(family),
      gateway: ipAddress(family).optional(),
      ipRange: subnet(family).optional(),
      auxAddresses: z.record(auxAddressName, ipAddress(family)).default({}),
    })
    .strict();
}

/** A further IPv4 subnet on the same network (a LAN with a secondary range; ipvlan l3 routing several). */
export const SubnetConfigSchema = ipamConfigSchema(4);

/** Dual stack: the LAN's IPv6 subnet. */
export const Ipv6ConfigSchema = ipamConfigSchema(6);

/** The inputs every Docker network resource has, besides its driver's own. */
export const networkFields = {
  /** How to reach the Docker host. */
  connection: ConnectionSchema,
  /** Docker network name; defaults to the resource name. */
  name: dockerNetworkName,
  /** The host NIC (or VLAN subinterface) the containers' ports hang off. */
  parent: interfaceName,
  /** The LAN's IPv4 subnet, as the rest of the LAN knows it. */
  subnet: subnet(4),
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
  /** No route out of the network (containers reach only each other). */
  internal: z.boolean().default(false),
  labels: z.record(labelKey, labelValue).default({}),
  /** Take over an existing network of this name whose settings match, instead of failing. */
  adopt: z.boolean().default(false),
};

const BaseSchema = z.object(networkFields);
export type NetworkArgs = z.output<typeof BaseSchema>;
export type Ipv6Config = z.output<typeof Ipv6ConfigSchema>;

/** Gateway, ip-range and aux addresses inside their subnets, for both families. */
export function refineIpam(args: NetworkArgs, ctx: z.RefinementCtx): void {
  checkIpamMembership(ctx, [], args);
  args.additionalSubnets.forEach((config, i) => checkIpamMembership(ctx, ["additionalSubnets", i], config));
  if (args.ipv6) checkIpamMembership(ctx, ["ipv6"], args.ipv6);
  const seen: { subnet: string; at: (string | number)[] }[] = [{ subnet: args.subnet, at: ["subnet"] }];
  args.additionalSubnets.forEach((config, i) => {
    const clash = seen.find((s) => overlaps(s.subnet, config.subnet));
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

function overlaps(a: string, b: string): boolean {
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  return pa !== undefined && pb !== undefined && prefixesOverlap(pa, pb);
}

/**
 * Docker has no way to change a network in place, so every setting it holds forces a
 * replacement; `connection` and `adopt` only say how we reach and treat it.
 */
export const NETWORK_FIELD_RULES: FieldRules<keyof NetworkArgs> = {
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

export interface NetworkState {
  networkId: string;
}

/** How one driver spells its own settings, both ways. */
export interface DriverMapping<A extends NetworkArgs> {
  resource: string;
  driver: NetworkSpec["driver"];
  schema: z.ZodObject<z.core.$ZodLooseShape>;
  rules: FieldRules<string>;
  /** Driver options (-o) besides parent. */
  options(args: A): Record<string, string>;
  /** The driver's own inputs as the host reports them. */
  readOptions(options: Record<string, string>): Partial<A>;
  /** Refusals that need the host's other networks and links (parent conflicts). */
  precheck?(args: A, host: HostInventory): void;
}

export function toNetworkSpec<A extends NetworkArgs>(mapping: DriverMapping<A>, args: A): NetworkSpec {
  return {
    name: args.name,
    driver: mapping.driver,
    options: { parent: args.parent, ...mapping.options(args) },
    ipam: [
      { subnet: args.subnet, gateway: args.gateway, ipRange: args.ipRange, auxAddresses: args.auxAddresses },
      ...args.additionalSubnets,
      ...(args.ipv6 ? [args.ipv6] : []),
    ],
    enableIPv6: args.ipv6 !== undefined,
    internal: args.internal,
    labels: args.labels,
  };
}

/**
 * The state for what the host has, mapped exactly as the args were written. A gateway the
 * program left out is Docker's choice, not drift, so it stays out unless the program set one.
 */
export function fromInspected<A extends NetworkArgs>(
  mapping: DriverMapping<A>,
  network: InspectedNetwork,
  prior: A,
): A & NetworkState {
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
  return {
    ...prior,
    networkId: network.id,
    name: network.name,
    parent: network.options.parent ?? "",
    subnet: v4?.subnet ?? "",
    gateway: prior.gateway === undefined ? undefined : v4?.gateway,
    ipRange: v4?.ipRange,
    auxAddresses: v4?.auxAddresses ?? {},
    additionalSubnets: additional,
    ipv6,
    internal: network.internal,
    labels: network.labels,
    ...mapping.readOptions(network.options),
  };
}

/** The provider of a Docker network resource, given its driver mapping. */
export class DockerNetworkProvider<A extends NetworkArgs> implements pulumi.dynamic.ResourceProvider {
  constructor(private readonly mapping: DriverMapping<A>) {}

  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    return checkInputs(this.mapping.schema, news);
  }

  async diff(_id: string, olds: object, news: object): Promise<pulumi.dynamic.DiffResult> {
    return diffByRules(olds, news, this.mapping.rules);
  }

  async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult<A & NetworkState>> {
    const args = parseInputs(this.mapping.schema, inputs, this.mapping.resource) as A;
    const precheck = this.mapping.precheck;
    const network = await createNetwork(hostSession(args.connection), toNetworkSpec(this.mapping, args), {
      adopt: args.adopt,
      precheck: precheck && ((host) => precheck(args, host)),
    });
    return { id: network.id, outs: fromInspected(this.mapping, network, args) };
  }

  async read(id: string, props: A & NetworkState): Promise<pulumi.dynamic.ReadResult<A & NetworkState>> {
    const connection = parseConnection(props.connection, this.mapping.resource);
    const network = await hostSession(connection).exclusive((run) => inspectNetwork(run, id));
    // Only "no such network" means gone; any other failure has already thrown.
    if (!network) return {};
    return { id, props: fromInspected(this.mapping, network, { ...props, connection }) };
  }

  async update(id: string, _olds: A & NetworkState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult<A & NetworkState>> {
    // Only connection/adopt change in place: prove the new connection reaches the network.
    const args = parseInputs(this.mapping.schema, news, this.mapping.resource) as A;
    const host = hostSession(args.connection);
    const network = await host.exclusive((run) => inspectNetwork(run, id));
    if (!network) {
      throw new Error(`${host.target}: Docker network "${args.name}" (${id}) no longer exists; run \`pulumi refresh\``);
    }
    return { outs: fromInspected(this.mapping, network, args) };
  }

  async delete(id: string, props: A & NetworkState): Promise<void> {
    await deleteNetwork(hostSession(parseConnection(props.connection, this.mapping.resource)), id, props.name);
  }
}

/** The outputs every Docker network resource has; subclasses add their driver's own. */
export abstract class DockerNetworkResource extends pulumi.dynamic.Resource {
  declare readonly networkId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly parent: pulumi.Output<string>;
  declare readonly subnet: pulumi.Output<string>;
  declare readonly gateway: pulumi.Output<string | undefined>;
  declare readonly ipRange: pulumi.Output<string | undefined>;
  declare readonly auxAddresses: pulumi.Output<Record<string, string>>;
  declare readonly additionalSubnets: pulumi.Output<z.output<typeof SubnetConfigSchema>[]>;
  declare readonly ipv6: pulumi.Output<Ipv6Config | undefined>;
  declare readonly internal: pulumi.Output<boolean>;
  declare readonly labels: pulumi.Output<Record<string, string>>;
  declare readonly adopt: pulumi.Output<boolean>;

  /** `name` (the Docker network's) defaults to the resource name. */
  protected constructor(
    provider: pulumi.dynamic.ResourceProvider,
    schema: z.ZodObject<z.core.$ZodLooseShape>,
    resource: string,
    name: string,
    args: { name?: pulumi.Input<string> },
    opts: pulumi.CustomResourceOptions | undefined,
  ) {
    super(
      provider,
      name,
      registeredProps(schema, { ...args, name: args.name ?? name }, ["networkId"]),
      withSecretConnection(opts),
      "pulumi-underlay",
      resource,
    );
  }
}
