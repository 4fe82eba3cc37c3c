// HostShim: a macvlan interface on the Docker host itself, with an address and routes. The
// kernel never delivers traffic between a macvlan parent and its own macvlan children, so a
// host cannot reach its macvlan containers through the parent; a sibling macvlan port (the
// shim) on the same parent can, in bridge mode.

import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { engineSafe, type FieldRules, type InputsOf, serializableProvider } from "../../dynamic";
import { buildAddressAdd, buildAddressDelete, buildRouteAdd, buildRouteDelete } from "../../host/iproute";
import { hostInventory, kernelParentConflicts } from "../../ops/inventory";
import type { HostStep } from "../../ops/steps";
import { ConnectionSchema } from "../../ssh/connection";
import { interfaceAddress, interfaceName, macvlanMode, parentInterfaceName, routeDestination } from "../../validate";
import { ownerField } from "../owner";
import { type OutputsOf, UnderlayResource } from "../resource";
import { type LinkMapping, type LinkOutputs, LinkProvider, linkOutputs, type Observed } from "./provider";

// ---------------------------------------------------------------------------------------------
// Args

export const HostShimArgsSchema = z
  .object({
    /** How to reach the Docker host over SSH (see Connection). Secret in state. */
    connection: ConnectionSchema,
    /** Interface name on the host; defaults to the resource name when that is a valid one. */
    name: interfaceName,
    /** The NIC the macvlan network uses as parent. */
    parent: parentInterfaceName,
    /** The shim's address with prefix, usually a /32 reserved in the network's auxAddresses. */
    address: interfaceAddress,
    /** Destinations the host reaches through the shim, usually the network's ipRange. */
    routes: z.array(routeDestination).default([]),
    /** bridge reaches containers on a bridge-mode network; the others exist for symmetry with Docker. */
    mode: macvlanMode.default("bridge"),
    /**
     * Bring the shim, its address and routes back after a reboot (systemd-networkd files, or a
     * systemd unit). Off by default: it needs systemd on the host.
     */
    persist: z.boolean().default(false),
    /** Set by the resource class, not the program: which resource this is (see resources/owner.ts). */
    owner: ownerField,
  })
  .strict()
  .superRefine((args, ctx) => {
    if (args.name === args.parent) {
      ctx.addIssue({ code: "custom", path: ["name"], message: `must differ from parent "${args.parent}"` });
    }
    const seen = new Set<string>();
    args.routes.forEach((route, i) => {
      if (seen.has(route)) ctx.addIssue({ code: "custom", path: ["routes", i], message: `repeats route ${route}` });
      seen.add(route);
    });
  });

type Args = z.output<typeof HostShimArgsSchema>;

export type HostShimArgs = InputsOf<Omit<z.input<typeof HostShimArgsSchema>, "name" | "owner">> & {
  name?: pulumi.Input<string>;
};

// ---------------------------------------------------------------------------------------------
// State: the args as the host reports them, how the shim is persisted, its MAC, whether it is up.

export type HostShimState = Args & LinkOutputs;

// ---------------------------------------------------------------------------------------------
// Diff rules: the link's identity needs a new link; its address and routes change in place.

const FIELD_RULES: FieldRules<Exclude<keyof Args, "owner">> = {
  connection: "update",
  name: "replace",
  parent: "replace",
  mode: "replace",
  address: "update",
  routes: "update",
  persist: "update",
};

// ---------------------------------------------------------------------------------------------
// Mapping between the args and what iproute2 reports.

export interface ShimAddressing {
  addresses: string[];
  routes: string[];
}

/**
 * A missing address or route shows up as a changed `address`/`routes`, which the diff turns
 * into an in-place update that puts it back.
 */
function shimFromObserved({ link, more }: Observed<ShimAddressing>, prior: Args): Args {
  return {
    connection: prior.connection,
    persist: prior.persist,
    name: link.name,
    parent: link.parent ?? "",
    mode: (link.kind === "macvlan" ? (link.data.mode ?? "bridge") : `not macvlan (${link.kind ?? "plain"})`) as Args["mode"],
    address: more.addresses.includes(prior.address) ? prior.address : (more.addresses[0] ?? ""),
    // Keep the program's order for routes it has, so a reordering is not drift.
    routes: [...prior.routes.filter((r) => more.routes.includes(r)), ...more.routes.filter((r) => !prior.routes.includes(r))],
  };
}

/** Address first (so routes have a source), then routes added and removed, then the old address. */
export function shimUpdateSteps(current: { address: string; routes: string[] }, args: Args): HostStep[] {
  const steps: HostStep[] = [];
  const addressChanged = current.address !== args.address;
  if (addressChanged) {
    steps.push({ argv: buildAddressAdd(args.address, args.name), undo: buildAddressDelete(args.address, args.name) });
  }
  for (const route of args.routes.filter((r) => !current.routes.includes(r))) {
    steps.push({ argv: buildRouteAdd(route, args.name), undo: buildRouteDelete(route, args.name) });
  }
  for (const route of current.routes.filter((r) => !args.routes.includes(r))) {
    steps.push({ argv: buildRouteDelete(route, args.name), undo: buildRouteAdd(route, args.name) });
  }
  if (addressChanged && current.address) {
    steps.push({ argv: buildAddressDelete(current.address, args.name), undo: buildAddressAdd(current.address, args.name) });
  }
  return steps;
}

export const shimMapping: LinkMapping<Args, ShimAddressing> = {
  resource: "HostShim",
  kind: "macvlan",
  schema: HostShimArgsSchema,
  rules: FIELD_RULES,
  withDefaults: (news) => news,
  persistentLink: (args) => ({
    kind: "macvlan",
    name: args.name,
    parent: args.parent,
    mode: args.mode,
    address: args.address,
    routes: args.routes,
  }),
  observeMore: (dump, name) => ({ addresses: dump.addresses.get(name) ?? [], routes: dump.routes.get(name) ?? [] }),
  fromObserved: shimFromObserved,
  // Docker's ipvlan network may have no port on the parent yet; the kernel's refusal would
  // then come at its next container attach instead of here.
  precheck: async (run, host, args) => kernelParentConflicts(args.parent, "macvlan", await hostInventory(run, host)),
  addressing: (args) => ({ link: args.name, addresses: [args.address], routes: args.routes }),
  updateSteps: (before, olds, args) => shimUpdateSteps(shimFromObserved(before, { ...args, address: olds.address }), args),
};

export const hostShimProvider = engineSafe(new LinkProvider(shimMapping));

// ---------------------------------------------------------------------------------------------
// Resource

/** The resource name when Linux accepts it as an interface name, else "shim-" and a short hash of it. */
export function defaultShimName(resourceName: string): string {
  if (interfaceName.safeParse(resourceName).success) return resourceName;
  return `shim-${createHash("sha256").update(resourceName).digest("hex").slice(0, 8)}`;
}

/** A host-side macvlan interface so the Docker host can reach its own macvlan containers. */
export interface HostShim extends OutputsOf<Omit<HostShimState, "connection">> {}
export class HostShim extends UnderlayResource {
  constructor(name: string, args: HostShimArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      serializableProvider(__filename, "hostShimProvider"),
      shimMapping.resource,
      name,
      HostShimArgsSchema,
      { ...args, name: args.name ?? defaultShimName(name) },
      linkOutputs,
      opts,
    );
  }
}
