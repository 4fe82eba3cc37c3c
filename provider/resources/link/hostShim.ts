// HostShim: a macvlan interface on the Docker host itself, with an address and routes. The
// kernel never delivers traffic between a macvlan parent and its own macvlan children, so a
// host cannot reach its macvlan containers through the parent; a sibling macvlan port (the
// shim) on the same parent can, in bridge mode.

import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConnectionSchema, hostSession, parseConnection, RunCommand } from "../../ssh/connection";
import {
  checkInputs,
  diffByRules,
  FieldRules,
  InputsOf,
  parseInputs,
  registeredProps,
  serializableProvider,
  withSecretConnection,
} from "../../dynamic";
import {
  buildAddressAdd,
  buildAddressDelete,
  buildAddressShow,
  buildLinkDelete,
  buildLinkUp,
  buildMacvlanAdd,
  buildRouteAdd,
  buildRouteDelete,
  buildRouteShow,
  LinkInfo,
  parseAddresses,
  parseRoutes,
} from "../../host/iproute";
import { PersistentLink } from "../../host/persistentLinks";
import { applySteps, HostStep } from "../../ops/steps";
import { deleteOwnLink, requireNewLink, showLink } from "../../ops/links";
import { hostInventory, kernelParentConflicts } from "../../ops/network";
import {
  detectPersistMethod,
  isPersisted,
  persistSteps,
  PersistRecord,
  unpersistSteps,
  updatePersistenceSteps,
} from "../../ops/persistence";
import { interfaceAddress, interfaceName, macvlanMode, routeDestination } from "../../validate";

// ---------------------------------------------------------------------------------------------
// Args

export const HostShimArgsSchema = z
  .object({
    connection: ConnectionSchema,
    /** Interface name on the host; defaults to the resource name when that is a valid one. */
    name: interfaceName,
    /** The NIC the macvlan network uses as parent. */
    parent: interfaceName,
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

export type HostShimArgs = InputsOf<Omit<z.input<typeof HostShimArgsSchema>, "name">> & {
  name?: pulumi.Input<string>;
};

// ---------------------------------------------------------------------------------------------
// State

export interface HostShimState extends Args {
  /** How the shim is kept across reboots, when `persist` is set. */
  persistence?: PersistRecord;
  /** The shim's MAC address, as the LAN's neighbours see it. */
  macAddress: string;
  /** Whether the link is administratively up. */
  up: boolean;
}

// ---------------------------------------------------------------------------------------------
// Diff rules: the link's identity needs a new link; its address and routes change in place.

const FIELD_RULES: FieldRules<keyof Args> = {
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

interface ObservedShim {
  link: LinkInfo;
  addresses: string[];
  routes: string[];
  /** The persistence files are all there with the content the args need. */
  persisted: boolean;
}

function persistentLink(args: Args): PersistentLink {
  return { kind: "macvlan", name: args.name, parent: args.parent, mode: args.mode, address: args.address, routes: args.routes };
}

async function observeShim(run: RunCommand, args: Args, persistence: PersistRecord | undefined): Promise<ObservedShim | undefined> {
  const name = args.name;
  const link = await showLink(run, name);
  if (!link) return undefined;
  const persisted = persistence !== undefined && (await isPersisted(run, persistentLink(args), persistence));
  const addresses = parseAddresses((await run(buildAddressShow(name))).stdout);
  const routes = [
    ...parseRoutes((await run(buildRouteShow(name, 4))).stdout),
    ...parseRoutes((await run(buildRouteShow(name, 6))).stdout),
  ];
  return { link, addresses, routes, persisted };
}

/**
 * The state for what the host has. A missing address or route shows up as a changed
 * `address`/`routes`, which the diff turns into an in-place update that puts it back.
 */
export function fromObserved(observed: ObservedShim, prior: Args, persistence?: PersistRecord): HostShimState {
  const addressKept = observed.addresses.includes(prior.address);
  return {
    connection: prior.connection,
    persist: observed.persisted,
    persistence,
    name: observed.link.name,
    parent: observed.link.parent ?? "",
    mode: (observed.link.kind === "macvlan" ? observed.link.data.mode ?? "bridge" : `not macvlan (${observed.link.kind ?? "plain"})`) as Args["mode"],
    address: addressKept ? prior.address : observed.addresses[0] ?? "",
    // Keep the program's order for routes it has, so a reordering is not drift.
    routes: [
      ...prior.routes.filter((r) => observed.routes.includes(r)),
      ...observed.routes.filter((r) => !prior.routes.includes(r)),
    ],
    macAddress: observed.link.mac ?? "",
    up: observed.link.up,
  };
}

function createSteps(args: Args): HostStep[] {
  return [
    { argv: buildMacvlanAdd(args.name, args.parent, args.mode), undo: buildLinkDelete(args.name) },
    { argv: buildAddressAdd(args.address, args.name) },
    { argv: buildLinkUp(args.name) },
    ...args.routes.map((route) => ({ argv: buildRouteAdd(route, args.name) })),
  ];
}

function updateSteps(current: { address: string; routes: string[] }, args: Args): HostStep[] {
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

// ---------------------------------------------------------------------------------------------
// Provider

const RESOURCE = "HostShim";

class HostShimProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    return checkInputs(HostShimArgsSchema, news);
  }

  async diff(_id: string, olds: object, news: object): Promise<pulumi.dynamic.DiffResult> {
    return diffByRules(olds, news, FIELD_RULES);
  }

  async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult<HostShimState>> {
    const args = parseInputs(HostShimArgsSchema, inputs, RESOURCE);
    const host = hostSession(args.connection);
    const observed = await host.exclusive(async (run) => {
      await requireNewLink(run, host.target, args.name, args.parent);
      // Docker's ipvlan network may have no port on the parent yet; the kernel's refusal would
      // then come at its next container attach instead of here.
      kernelParentConflicts(args.parent, "macvlan", await hostInventory(run, host.target));
      const persistence = args.persist ? await detectPersistMethod(run, args.parent, host.target) : undefined;
      // Deleting the link (the first step's undo) also removes its address and routes.
      await applySteps(run, [...createSteps(args), ...(persistence ? persistSteps(persistentLink(args), persistence) : [])]);
      const shim = await observeShim(run, args, persistence);
      return shim && fromObserved(shim, args, persistence);
    });
    if (!observed) throw new Error(`${host.target}: shim "${args.name}" vanished right after it was created`);
    return { id: args.name, outs: observed };
  }

  async read(id: string, props: HostShimState): Promise<pulumi.dynamic.ReadResult<HostShimState>> {
    const connection = parseConnection(props.connection, RESOURCE);
    const prior = { ...props, connection };
    const observed = await hostSession(connection).exclusive((run) => observeShim(run, prior, props.persistence));
    if (!observed) return {};
    return { id, props: fromObserved(observed, prior, props.persistence) };
  }

  async update(id: string, olds: HostShimState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult<HostShimState>> {
    const args = parseInputs(HostShimArgsSchema, news, RESOURCE);
    const host = hostSession(args.connection);
    const observed = await host.exclusive(async (run) => {
      const before = await observeShim(run, { ...olds, connection: args.connection }, olds.persistence);
      if (!before) throw new Error(`${host.target}: shim "${args.name}" no longer exists; run \`pulumi refresh\``);
      const current = fromObserved(before, { ...args, address: olds.address });
      const { steps: persistenceSteps, record: persistence } = await updatePersistenceSteps(
        run,
        host.target,
        { link: persistentLink({ ...args, address: olds.address, routes: olds.routes }), record: olds.persistence },
        { link: persistentLink(args), persist: args.persist },
      );
      await applySteps(run, [...updateSteps(current, args), ...persistenceSteps]);
      const shim = await observeShim(run, args, persistence);
      return shim && fromObserved(shim, args, persistence);
    });
    if (!observed) throw new Error(`${host.target}: shim "${args.name}" vanished during the update`);
    return { outs: observed };
  }

  async delete(_id: string, props: HostShimState): Promise<void> {
    const host = hostSession(parseConnection(props.connection, RESOURCE));
    await host.exclusive((run) =>
      deleteOwnLink(run, host.target, props.name, "macvlan", props.persistence ? unpersistSteps(persistentLink(props), props.persistence) : []),
    );
  }
}

export const hostShimProvider = new HostShimProvider();

// ---------------------------------------------------------------------------------------------
// Resource

/** The resource name when Linux accepts it as an interface name, else "shim-" and a short hash of it. */
export function defaultShimName(resourceName: string): string {
  if (interfaceName.safeParse(resourceName).success) return resourceName;
  return `shim-${createHash("sha256").update(resourceName).digest("hex").slice(0, 8)}`;
}

/** A host-side macvlan interface so the Docker host can reach its own macvlan containers. */
export class HostShim extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly parent: pulumi.Output<string>;
  declare readonly address: pulumi.Output<string>;
  declare readonly routes: pulumi.Output<string[]>;
  declare readonly mode: pulumi.Output<Args["mode"]>;
  declare readonly persist: pulumi.Output<boolean>;
  declare readonly persistence: pulumi.Output<PersistRecord | undefined>;
  declare readonly macAddress: pulumi.Output<string>;
  declare readonly up: pulumi.Output<boolean>;

  constructor(name: string, args: HostShimArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      serializableProvider(__filename, "hostShimProvider"),
      name,
      registeredProps(HostShimArgsSchema, { ...args, name: args.name ?? defaultShimName(name) }, ["persistence", "macAddress", "up"]),
      withSecretConnection(opts),
      "pulumi-underlay",
      RESOURCE,
    );
  }
}
