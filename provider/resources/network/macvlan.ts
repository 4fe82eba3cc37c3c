// MacvlanNetwork: `docker network create -d macvlan` on a remote host. Containers on it get
// their own MAC and an address straight on the parent NIC's LAN, with no NAT.

import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { FieldRules, InputsOf, serializableProvider } from "../../dynamic";
import {
  DockerNetworkProvider,
  DockerNetworkResource,
  DriverMapping,
  NETWORK_FIELD_RULES,
  networkFields,
  NetworkState,
  refineIpam,
} from "./provider";
import { parentConflicts } from "../../ops/network";
import { macvlanMode } from "../../validate";

// ---------------------------------------------------------------------------------------------
// Args

export const MacvlanNetworkArgsSchema = z
  .object({
    ...networkFields,
    /** bridge: containers on the network talk to each other directly; vepa/private/passthru as the kernel defines them. */
    mode: macvlanMode.default("bridge"),
  })
  .strict()
  .superRefine(refineIpam);

type Args = z.output<typeof MacvlanNetworkArgsSchema>;

/** What a program passes; `name` defaults to the resource name. */
export type MacvlanNetworkArgs = InputsOf<Omit<z.input<typeof MacvlanNetworkArgsSchema>, "name">> & {
  name?: pulumi.Input<string>;
};

// ---------------------------------------------------------------------------------------------
// State: the args as the host reports them, plus the Docker network id.

export type MacvlanNetworkState = Args & NetworkState;

// ---------------------------------------------------------------------------------------------
// Diff rules: Docker cannot change a network in place.

const FIELD_RULES: FieldRules<keyof Args> = { ...NETWORK_FIELD_RULES, mode: "replace" };

// ---------------------------------------------------------------------------------------------
// Provider

const RESOURCE = "MacvlanNetwork";

const MAPPING: DriverMapping<Args> = {
  resource: RESOURCE,
  driver: "macvlan",
  schema: MacvlanNetworkArgsSchema,
  rules: FIELD_RULES,
  options: (args) => ({ macvlan_mode: args.mode }),
  // Docker omits macvlan_mode when the driver default (bridge) was used.
  readOptions: (options) => ({ mode: (options.macvlan_mode ?? "bridge") as Args["mode"] }),
  precheck: (args, host) => parentConflicts(args.parent, "macvlan", host),
};

/** The implementation the serialized provider loads at run time (see dynamic.ts). */
export const macvlanNetworkProvider = new DockerNetworkProvider(MAPPING);

// ---------------------------------------------------------------------------------------------
// Resource

/**
 * A Docker macvlan network on a remote host. Containers attached to it (for example with
 * @pulumi/docker's Container `networksAdvanced`) sit directly on the parent NIC's LAN.
 */
export class MacvlanNetwork extends DockerNetworkResource {
  declare readonly mode: pulumi.Output<Args["mode"]>;

  constructor(name: string, args: MacvlanNetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(serializableProvider(__filename, "macvlanNetworkProvider"), MacvlanNetworkArgsSchema, RESOURCE, name, args, opts);
  }
}
