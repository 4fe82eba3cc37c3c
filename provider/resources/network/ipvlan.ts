// IpvlanNetwork: `docker network create -d ipvlan` on a remote host. Containers share the
// parent's MAC address (so switch port security and MAC limits do not bite); in l2 mode they
// sit on the parent's LAN, in l3/l3s mode the host routes for them with no gateway at all.

import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { engineSafe, type FieldRules, type InputsOf, serializableProvider } from "../../dynamic";
import type { OutputsOf } from "../resource";
import { NETWORK_FIELD_RULES, type NetworkOutputs, networkFields, refineIpam } from "./fields";
import type { DriverMapping } from "./mapping";
import { DockerNetworkProvider, DockerNetworkResource, type NetworkDefinition } from "./provider";

// ---------------------------------------------------------------------------------------------
// Args

export const IPVLAN_MODES = ["l2", "l3", "l3s"] as const;
export const IPVLAN_FLAGS = ["bridge", "private", "vepa"] as const;

export const IpvlanNetworkArgsSchema = z
  .object({
    ...networkFields,
    /** l2: containers on the parent's LAN; l3/l3s: routed by the host (l3s also through netfilter). */
    mode: z.enum(IPVLAN_MODES).default("l2"),
    /** bridge: ports talk to each other directly; private: they cannot; vepa: through the switch. */
    flag: z.enum(IPVLAN_FLAGS).default("bridge"),
  })
  .strict()
  .superRefine((args, ctx) => {
    refineIpam(args, ctx);
    // In l3 modes Docker installs a default route through the device with no next hop and
    // ignores any gateway; accepting one would promise a router that is never used.
    if (args.mode !== "l2") {
      const why = `has no meaning in ipvlan ${args.mode} mode: containers route through the parent with no next hop, and Docker ignores it; remove it (the LAN reaches the containers through a route via the host)`;
      if (args.gateway !== undefined) ctx.addIssue({ code: "custom", path: ["gateway"], message: why });
      args.additionalSubnets.forEach((config, i) => {
        if (config.gateway !== undefined) ctx.addIssue({ code: "custom", path: ["additionalSubnets", i, "gateway"], message: why });
      });
      if (args.ipv6?.gateway !== undefined) ctx.addIssue({ code: "custom", path: ["ipv6", "gateway"], message: why });
    }
  });

type Args = z.output<typeof IpvlanNetworkArgsSchema>;

/** What a program passes; `name` defaults to the resource name. */
export type IpvlanNetworkArgs = InputsOf<Omit<z.input<typeof IpvlanNetworkArgsSchema>, "name" | "owner">> & {
  name?: pulumi.Input<string>;
};

// ---------------------------------------------------------------------------------------------
// State

export type IpvlanNetworkState = Args & NetworkOutputs;

// ---------------------------------------------------------------------------------------------
// Diff rules: Docker cannot change a network in place.

const FIELD_RULES: FieldRules<Exclude<keyof Args, "owner">> = { ...NETWORK_FIELD_RULES, mode: "replace", flag: "replace" };

// ---------------------------------------------------------------------------------------------
// Mapping and provider

export const ipvlanMapping: DriverMapping<Args> = {
  driver: "ipvlan",
  options: (args) => ({ ipvlan_mode: args.mode, ipvlan_flag: args.flag }),
  // Docker omits options that were left at the driver's defaults (l2, bridge).
  readOptions: (options) => ({
    mode: (options.ipvlan_mode ?? "l2") as Args["mode"],
    flag: (options.ipvlan_flag ?? "bridge") as Args["flag"],
  }),
};

const DEFINITION: NetworkDefinition<Args> = {
  resource: "IpvlanNetwork",
  schema: IpvlanNetworkArgsSchema,
  rules: FIELD_RULES,
  mapping: ipvlanMapping,
};

export const ipvlanNetworkProvider = engineSafe(new DockerNetworkProvider(DEFINITION));

// ---------------------------------------------------------------------------------------------
// Resource

/** A Docker ipvlan network on a remote host. */
export interface IpvlanNetwork extends OutputsOf<Omit<IpvlanNetworkState, "connection">> {}
export class IpvlanNetwork extends DockerNetworkResource {
  constructor(name: string, args: IpvlanNetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(serializableProvider(__filename, "ipvlanNetworkProvider"), DEFINITION, name, args, opts);
  }
}
