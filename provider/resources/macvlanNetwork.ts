// MacvlanNetwork: `docker network create -d macvlan` on a remote host. Containers on it get
// their own MAC and an address straight on the parent NIC's LAN, with no NAT.

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConnectionSchema, hostSession, parseConnection } from "../connection";
import {
  checkInputs,
  diffByRules,
  FieldRules,
  InputsOf,
  parseInputs,
  registeredProps,
  serializableProvider,
  withSecretConnection,
} from "../dynamic";
import { InspectedNetwork, ipamOfFamily, NetworkSpec } from "../host/docker";
import { createNetwork, deleteNetwork, inspectNetwork } from "../networkOps";
import {
  auxAddressName,
  checkIpamMembership,
  dockerNetworkName,
  interfaceName,
  ipAddress,
  labelKey,
  labelValue,
  macvlanMode,
  subnet,
} from "../validate";

// ---------------------------------------------------------------------------------------------
// Args

export const Ipv6ConfigSchema = z
  .object({
    subnet: subnet(6),
    gateway: ipAddress(6).optional(),
    ipRange: subnet(6).optional(),
    auxAddresses: z.record(auxAddressName, ipAddress(6)).default({}),
  })
  .strict();

export const MacvlanNetworkArgsSchema = z
  .object({
    /** How to reach the Docker host. */
    connection: ConnectionSchema,
    /** Docker network name; defaults to the resource name. */
    name: dockerNetworkName,
    /** The host NIC (or VLAN subinterface) the containers' macvlan ports hang off. */
    parent: interfaceName,
    /** The LAN's IPv4 subnet, as the rest of the LAN knows it. */
    subnet: subnet(4),
    /** The LAN's router. Docker picks the subnet's first address when it is left out. */
    gateway: ipAddress(4).optional(),
    /** The part of the subnet Docker may hand out; keep it outside the LAN's DHCP pool. */
    ipRange: subnet(4).optional(),
    /** Addresses Docker must never hand out (name -> address), e.g. the host shim's. */
    auxAddresses: z.record(auxAddressName, ipAddress(4)).default({}),
    /** Dual stack: the LAN's IPv6 subnet. */
    ipv6: Ipv6ConfigSchema.optional(),
    mode: macvlanMode.default("bridge"),
    /** No route out of the network (containers reach only each other). */
    internal: z.boolean().default(false),
    labels: z.record(labelKey, labelValue).default({}),
    /** Take over an existing network of this name whose settings match, instead of failing. */
    adopt: z.boolean().default(false),
  })
  .strict()
  .superRefine((args, ctx) => {
    checkIpamMembership(ctx, [], args);
    if (args.ipv6) checkIpamMembership(ctx, ["ipv6"], args.ipv6);
  });

type Args = z.output<typeof MacvlanNetworkArgsSchema>;

/** What a program passes; `name` defaults to the resource name. */
export type MacvlanNetworkArgs = InputsOf<Omit<z.input<typeof MacvlanNetworkArgsSchema>, "name">> & {
  name?: pulumi.Input<string>;
};

// ---------------------------------------------------------------------------------------------
// State: the args as the host reports them, plus what only the host knows.

export interface MacvlanNetworkState extends Args {
  networkId: string;
}

// ---------------------------------------------------------------------------------------------
// Diff rules. Docker has no way to change a network in place, so every setting it holds forces
// a replacement; `connection` and `adopt` only say how we reach and treat it.

const FIELD_RULES: FieldRules<keyof Args> = {
  connection: "update",
  adopt: "update",
  name: "replace",
  parent: "replace",
  subnet: "replace",
  gateway: "replace",
  ipRange: "replace",
  auxAddresses: "replace",
  ipv6: "replace",
  mode: "replace",
  internal: "replace",
  labels: "replace",
};

// ---------------------------------------------------------------------------------------------
// Mapping between the args and Docker's vocabulary, both ways, so what is read back compares
// exactly with what was written.

export function toNetworkSpec(args: Args): NetworkSpec {
  return {
    name: args.name,
    driver: "macvlan",
    options: { parent: args.parent, macvlan_mode: args.mode },
    ipam: [
      { subnet: args.subnet, gateway: args.gateway, ipRange: args.ipRange, auxAddresses: args.auxAddresses },
      ...(args.ipv6 ? [args.ipv6] : []),
    ],
    enableIPv6: args.ipv6 !== undefined,
    internal: args.internal,
    labels: args.labels,
  };
}

/**
 * The state for what the host has. A gateway the program left out is Docker's choice, not
 * drift, so it stays out of the state unless the program set one.
 */
export function fromInspected(network: InspectedNetwork, prior: Args): MacvlanNetworkState {
  const v4 = ipamOfFamily(network.ipam, 4);
  const v6 = ipamOfFamily(network.ipam, 6);
  return {
    connection: prior.connection,
    adopt: prior.adopt,
    networkId: network.id,
    name: network.name,
    parent: network.options.parent ?? "",
    subnet: v4?.subnet ?? "",
    gateway: prior.gateway === undefined ? undefined : v4?.gateway,
    ipRange: v4?.ipRange,
    auxAddresses: v4?.auxAddresses ?? {},
    ipv6: v6
      ? {
          subnet: v6.subnet,
          gateway: prior.ipv6?.gateway === undefined ? undefined : v6.gateway,
          ipRange: v6.ipRange,
          auxAddresses: v6.auxAddresses,
        }
      : undefined,
    // Docker omits macvlan_mode when the driver default (bridge) was used.
    mode: (network.options.macvlan_mode ?? "bridge") as Args["mode"],
    internal: network.internal,
    labels: network.labels,
  };
}

// ---------------------------------------------------------------------------------------------
// Provider

const RESOURCE = "MacvlanNetwork";

class MacvlanNetworkProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    return checkInputs(MacvlanNetworkArgsSchema, news);
  }

  async diff(_id: string, olds: object, news: object): Promise<pulumi.dynamic.DiffResult> {
    return diffByRules(olds, news, FIELD_RULES);
  }

  async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult<MacvlanNetworkState>> {
    const args = parseInputs(MacvlanNetworkArgsSchema, inputs, RESOURCE);
    const network = await createNetwork(hostSession(args.connection), toNetworkSpec(args), { adopt: args.adopt });
    return { id: network.id, outs: fromInspected(network, args) };
  }

  async read(id: string, props: MacvlanNetworkState): Promise<pulumi.dynamic.ReadResult<MacvlanNetworkState>> {
    const connection = parseConnection(props.connection, RESOURCE);
    const network = await hostSession(connection).exclusive((run) => inspectNetwork(run, id));
    // Only "no such network" means gone; any other failure has already thrown.
    if (!network) return {};
    return { id, props: fromInspected(network, { ...props, connection }) };
  }

  async update(
    id: string,
    _olds: MacvlanNetworkState,
    news: Record<string, unknown>,
  ): Promise<pulumi.dynamic.UpdateResult<MacvlanNetworkState>> {
    // Only connection/adopt can change in place: prove the new connection reaches the network.
    const args = parseInputs(MacvlanNetworkArgsSchema, news, RESOURCE);
    const host = hostSession(args.connection);
    const network = await host.exclusive((run) => inspectNetwork(run, id));
    if (!network) {
      throw new Error(`${host.target}: Docker network "${args.name}" (${id}) no longer exists; run \`pulumi refresh\``);
    }
    return { outs: fromInspected(network, args) };
  }

  async delete(id: string, props: MacvlanNetworkState): Promise<void> {
    await deleteNetwork(hostSession(parseConnection(props.connection, RESOURCE)), id, props.name);
  }
}

/** The implementation the serialized provider loads at run time (see dynamic.ts). */
export const macvlanNetworkProvider = new MacvlanNetworkProvider();

// ---------------------------------------------------------------------------------------------
// Resource

/**
 * A Docker macvlan network on a remote host. Containers attached to it (for example with
 * @pulumi/docker's Container `networksAdvanced`) sit directly on the parent NIC's LAN.
 */
export class MacvlanNetwork extends pulumi.dynamic.Resource {
  declare readonly networkId: pulumi.Output<string>;
  declare readonly name: pulumi.Output<string>;
  declare readonly parent: pulumi.Output<string>;
  declare readonly subnet: pulumi.Output<string>;
  declare readonly gateway: pulumi.Output<string | undefined>;
  declare readonly ipRange: pulumi.Output<string | undefined>;
  declare readonly auxAddresses: pulumi.Output<Record<string, string>>;
  declare readonly ipv6: pulumi.Output<z.output<typeof Ipv6ConfigSchema> | undefined>;
  declare readonly mode: pulumi.Output<Args["mode"]>;
  declare readonly internal: pulumi.Output<boolean>;
  declare readonly labels: pulumi.Output<Record<string, string>>;
  declare readonly adopt: pulumi.Output<boolean>;

  constructor(name: string, args: MacvlanNetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      serializableProvider(__filename, "macvlanNetworkProvider"),
      name,
      registeredProps(MacvlanNetworkArgsSchema, { ...args, name: args.name ?? name }, ["networkId"]),
      withSecretConnection(opts),
      "pulumi-underlay",
      RESOURCE,
    );
  }
}
