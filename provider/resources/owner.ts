// Which resource a host object belongs to. A create that crashed, lost its connection or whose
// result Pulumi never saved leaves objects on the host; the next create of the same resource
// must recognise them as its own (and only its own) to complete or adopt them instead of
// refusing the name it took itself. So every object is marked with its resource's owner string.

import * as pulumi from "@pulumi/pulumi";
import { labelValue } from "../validate";

/**
 * The `owner` input: set by the resource class, never by the program (it is left out of the
 * args types). It is not diffed: a stack or project renamed keeps its objects (their marks
 * still carry the old owner, which the state keeps). Absent in state from before owners.
 */
export const ownerField = labelValue.optional();

/**
 * This resource's owner: project, stack, type and name. Two stacks (or projects) declaring a
 * resource of the same name get different owners, so neither adopts the other's object.
 */
export function ownerOf(type: string, name: string): string {
  return `${pulumi.getProject()}/${pulumi.getStack()}/${type}/${name}`;
}
