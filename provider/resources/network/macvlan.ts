// MacvlanNetwork: `docker network create -d macvlan` on a remote host. Containers on it get
// their own MAC and an address straight on the parent NIC's LAN, with no NAT.

import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { engineSafe, type FieldRules, type InputsOf, serializableProvider } from "../../dynamic";
import { macvlanMode } from "../../validate";
import type { OutputsOf } from "../resource";
import { NETWORK_FIELD_RULES, type NetworkOutputs, networkFields, refineIpam } from "./fields";
import type { DriverMapping } from "./mapping";
import { DockerNetworkProvider, DockerNetworkResource, type NetworkDefinition } from "./provider";

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
export type MacvlanNetworkArgs = InputsOf<Omit<z.input<typeof MacvlanNetworkArgsSchema>, "name" | "owner">> & {
  name?: pulumi.Input<string>;
};

// ---------------------------------------------------------------------------------------------
// State: the args as the host reports them, plus the Docker network id.

export type MacvlanNetworkState = Args & NetworkOutputs;

// ---------------------------------------------------------------------------------------------
// Diff rules: Docker cannot change a network in place.

const FIELD_RULES: FieldRules<Exclude<keyof Args, "owner">> = { ...NETWORK_FIELD_RULES, mode: "replace" };

// ---------------------------------------------------------------------------------------------
// Mapping and provider

export const macvlanMapping: DriverMapping<Args> = {
  driver: "macvlan",
  options: (args) => ({ macvlan_mode: args.mode }),
  // Docker omits macvlan_mode when the driver default (bridge) was used.
  readOptions: (options) => ({ mode: (options.macvlan_mode ?? "bridge") as Args["mode"] }),
};

const DEFINITION: NetworkDefinition<Args> = {
  resource: "MacvlanNetwork",
  schema: MacvlanNetworkArgsSchema,
  rules: FIELD_RULES,
  mapping: macvlanMapping,
};

/** The implementation the serialized provider loads at run time (see dynamic.ts). */
export const macvlanNetworkProvider = engineSafe(new DockerNetworkProvider(DEFINITION));

// ---------------------------------------------------------------------------------------------
// Resource

/**
 * A Docker macvlan network on a remote host. Containers attached to it (for example with
 * @pulumi/docker's Container `networksAdvanced`) sit directly on the parent NIC's LAN.
 *
 * The Docker host itself cannot reach these containers (the kernel never passes traffic between
 * a macvlan parent and its ports) until a {@link HostShim} sits on the same parent: see the
 * README, "Why" (the host-cannot-reach-macvlan rule), and examples/quickstart.
 */
export interface MacvlanNetwork extends OutputsOf<Omit<MacvlanNetworkState, "connection">> {}
export class MacvlanNetwork extends DockerNetworkResource {
  constructor(name: string, args: MacvlanNetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(serializableProvider(__filename, "macvlanNetworkProvider"), DEFINITION, name, args, opts);
  }
}
