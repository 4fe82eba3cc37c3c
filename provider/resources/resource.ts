// What every resource class shares: registration as a pulumi-underlay dynamic resource with a
// secret connection, and outputs derived from its state type.

import * as pulumi from "@pulumi/pulumi";
import { type ObjectSchema, registeredProps, withSecretConnection } from "../dynamic";
import { ownerOf } from "./owner";

/**
 * A resource's output properties, one per state field. Resource classes get them by declaration
 * merging (`interface X extends OutputsOf<...> {}`), so they are never listed by hand.
 */
export type OutputsOf<S> = { readonly [K in keyof S]-?: pulumi.Output<S[K]> };

export abstract class UnderlayResource extends pulumi.dynamic.Resource {
  /**
   * `outputFields`: the state fields only the provider sets (not inputs), registered as outputs.
   * `owner` (see owner.ts) is added here for every resource, so the program never sets it.
   */
  protected constructor(
    provider: pulumi.dynamic.ResourceProvider,
    type: string,
    name: string,
    schema: ObjectSchema,
    args: Record<string, unknown>,
    outputFields: object,
    opts: pulumi.CustomResourceOptions | undefined,
  ) {
    super(
      provider,
      name,
      registeredProps(schema, { ...args, owner: ownerOf(type, name) }, Object.keys(outputFields)),
      withSecretConnection(opts),
      "pulumi-underlay",
      type,
    );
  }
}
