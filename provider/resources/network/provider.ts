// The provider and resource class MacvlanNetwork and IpvlanNetwork share, given a definition:
// the schema, the diff rules and the driver mapping.

import type * as pulumi from "@pulumi/pulumi";
import { checkInputs, diffByRules, type FieldRules, type ObjectSchema, parseInputs } from "../../dynamic";
import { RefusalError } from "../../errors";
import { inspectNetwork, parentConflicts } from "../../ops/inventory";
import { createNetwork, deleteNetwork, readNetwork } from "../../ops/network";
import { parseConnection } from "../../ssh/connection";
import { hostSession } from "../../ssh/pool";
import { UnderlayResource } from "../resource";
import { type NetworkArgs, type NetworkOutputs, networkOutputs } from "./fields";
import { type DriverMapping, fromInspected, specDifferences, toNetworkSpec } from "./mapping";

export interface NetworkDefinition<A extends NetworkArgs> {
  resource: string;
  schema: ObjectSchema;
  rules: FieldRules<string>;
  mapping: DriverMapping<A>;
}

/** The provider of a Docker network resource, given its definition. */
export class DockerNetworkProvider<A extends NetworkArgs> implements pulumi.dynamic.ResourceProvider {
  constructor(private readonly definition: NetworkDefinition<A>) {}

  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    return checkInputs(this.definition.schema, news);
  }

  async diff(_id: string, olds: object, news: object): Promise<pulumi.dynamic.DiffResult> {
    return diffByRules(olds, news, this.definition.rules);
  }

  async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult<A & NetworkOutputs>> {
    const { mapping } = this.definition;
    const args = this.parse(inputs);
    const spec = toNetworkSpec(mapping, args);
    const network = await createNetwork(hostSession(args.connection), spec, {
      adopt: args.adopt,
      differences: (existing) => specDifferences(spec, existing),
      // Docker's one-network-per-driver-and-parent rule and the kernel's macvlan/ipvlan rule.
      // A network without a parent sits on a dummy link of its own: no parent rule applies.
      precheck: (host) => (args.parent === undefined ? undefined : parentConflicts(args.parent, mapping.driver, host)),
    });
    return { id: network.id, outs: fromInspected(mapping, network, args) };
  }

  async read(id: string, props: A & NetworkOutputs): Promise<pulumi.dynamic.ReadResult<A & NetworkOutputs>> {
    const connection = parseConnection(props.connection, this.definition.resource);
    const network = await readNetwork(hostSession(connection), id);
    // Only "no such network" means gone; any other failure has already thrown.
    if (!network) return {};
    return { id, props: fromInspected(this.definition.mapping, network, { ...props, connection }) };
  }

  async update(
    id: string,
    _olds: A & NetworkOutputs,
    news: Record<string, unknown>,
  ): Promise<pulumi.dynamic.UpdateResult<A & NetworkOutputs>> {
    // Only connection/adopt change in place: prove the new connection reaches the network.
    const args = this.parse(news);
    const host = hostSession(args.connection);
    const network = await host.shared(() => inspectNetwork(host, id));
    if (!network) throw new RefusalError(host.target, { kind: "gone", object: "Docker network", name: args.name, id });
    return { outs: fromInspected(this.definition.mapping, network, args) };
  }

  async delete(id: string, props: A & NetworkOutputs): Promise<void> {
    await deleteNetwork(hostSession(parseConnection(props.connection, this.definition.resource)), id, props.name);
  }

  private parse(inputs: Record<string, unknown>): A {
    return parseInputs(this.definition.schema, inputs, this.definition.resource) as A;
  }
}

/** A Docker network resource: `name` (the Docker network's) defaults to the resource name. */
export abstract class DockerNetworkResource extends UnderlayResource {
  protected constructor(
    provider: pulumi.dynamic.ResourceProvider,
    definition: { resource: string; schema: ObjectSchema },
    name: string,
    args: { name?: pulumi.Input<string> },
    opts: pulumi.CustomResourceOptions | undefined,
  ) {
    super(provider, definition.resource, name, definition.schema, { ...args, name: args.name ?? name }, networkOutputs, opts);
  }
}
