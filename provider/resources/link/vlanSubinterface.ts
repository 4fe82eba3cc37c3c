// VlanSubinterface: an 802.1q link such as eth0.50 on a remote host, up, and (by default) kept
// across reboots in whatever way the host manages its network. A network's `parent` can take
// this resource's `name` output, so Pulumi creates the link first and deletes it last.

import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { engineSafe, type FieldRules, type InputsOf, serializableProvider } from "../../dynamic";
import { RefusalError } from "../../errors";
import { buildLinkSetMtu } from "../../host/iproute";
import { listAllNetworks } from "../../ops/inventory";
import { ConnectionSchema } from "../../ssh/connection";
import { interfaceName, parentInterfaceName, UNKNOWN } from "../../validate";
import { ownerField } from "../owner";
import { type OutputsOf, UnderlayResource } from "../resource";
import { type LinkMapping, type LinkOutputs, LinkProvider, linkOutputs } from "./provider";

// ---------------------------------------------------------------------------------------------
// Args

export const VlanSubinterfaceArgsSchema = z
  .object({
    /** How to reach the Docker host over SSH (see Connection). Secret in state. */
    connection: ConnectionSchema,
    /** The trunk NIC carrying the tagged traffic. */
    parent: parentInterfaceName,
    /** The 802.1q VLAN id. */
    vlanId: z.number().int().min(1).max(4094),
    /** Interface name; defaults to "<parent>.<vlanId>" (which must then fit in 15 bytes). */
    name: interfaceName,
    /** MTU of the link; at most the parent's. Left out, the kernel uses the parent's. */
    mtu: z.number().int().min(68).max(65535).optional(),
    /** Bring the link back after a reboot (systemd-networkd files, or a systemd unit). */
    persist: z.boolean().default(true),
    /** Set by the resource class, not the program: which resource this is (see resources/owner.ts). */
    owner: ownerField,
  })
  .strict()
  .superRefine((args, ctx) => {
    if (args.name === args.parent) {
      ctx.addIssue({ code: "custom", path: ["name"], message: `must differ from parent "${args.parent}"` });
    }
  });

type Args = z.output<typeof VlanSubinterfaceArgsSchema>;

export type VlanSubinterfaceArgs = InputsOf<Omit<z.input<typeof VlanSubinterfaceArgsSchema>, "name" | "owner">> & {
  name?: pulumi.Input<string>;
};

/** "<parent>.<vlanId>" when no name was given; unknown while either part is (preview). */
function withDefaultName(news: Record<string, unknown>): Record<string, unknown> {
  if (news.name !== undefined) return news;
  const { parent, vlanId } = news;
  if (parent === UNKNOWN || vlanId === UNKNOWN) return { ...news, name: UNKNOWN };
  if (typeof parent === "string" && typeof vlanId === "number") return { ...news, name: `${parent}.${vlanId}` };
  return news;
}

// ---------------------------------------------------------------------------------------------
// State: the args as the host reports them, how the link is persisted, its MAC, whether it is up.

export type VlanSubinterfaceState = Args & LinkOutputs;

// ---------------------------------------------------------------------------------------------
// Diff rules: a VLAN link cannot be re-parented or re-tagged; its MTU and persistence change in place.

const FIELD_RULES: FieldRules<Exclude<keyof Args, "owner">> = {
  connection: "update",
  parent: "replace",
  vlanId: "replace",
  name: "replace",
  mtu: "update",
  persist: "update",
};

// ---------------------------------------------------------------------------------------------
// Mapping and provider

export const vlanMapping: LinkMapping<Args, undefined> = {
  resource: "VlanSubinterface",
  kind: "vlan",
  schema: VlanSubinterfaceArgsSchema,
  rules: FIELD_RULES,
  withDefaults: withDefaultName,
  persistentLink: (args) => ({ kind: "vlan", name: args.name, parent: args.parent, vlanId: args.vlanId, mtu: args.mtu }),
  observeMore: () => undefined,
  // An MTU the program left out is the kernel's choice, not drift.
  fromObserved: ({ link }, prior) => ({
    connection: prior.connection,
    persist: prior.persist,
    name: link.name,
    parent: link.parent ?? "",
    vlanId: link.kind === "vlan" && typeof link.data.id === "number" ? link.data.id : -1,
    mtu: prior.mtu === undefined ? undefined : link.mtu,
  }),
  precheck: async (_run, host, args, parent) => {
    if (args.mtu !== undefined && args.mtu > parent.mtu) {
      throw new RefusalError(host.target, { kind: "mtuTooLarge", parent: args.parent, mtu: args.mtu, parentMtu: parent.mtu });
    }
  },
  updateSteps: ({ link }, _olds, args) =>
    args.mtu !== undefined && args.mtu !== link.mtu
      ? [{ argv: buildLinkSetMtu(args.name, args.mtu), undo: buildLinkSetMtu(args.name, link.mtu) }]
      : [],
  beforeDelete: async (_run, host, props) => {
    const users = (await listAllNetworks(host)).filter((n) => n.options.parent === props.name);
    if (users.length > 0) {
      throw new RefusalError(host.target, { kind: "inUse", object: "link", name: props.name, networks: users.map((n) => n.name) });
    }
  },
};

export const vlanSubinterfaceProvider = engineSafe(new LinkProvider(vlanMapping));

// ---------------------------------------------------------------------------------------------
// Resource

/** An 802.1q VLAN subinterface on a remote host, kept across reboots unless `persist: false`. */
export interface VlanSubinterface extends OutputsOf<Omit<VlanSubinterfaceState, "connection">> {}
export class VlanSubinterface extends UnderlayResource {
  constructor(name: string, args: VlanSubinterfaceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      serializableProvider(__filename, "vlanSubinterfaceProvider"),
      vlanMapping.resource,
      name,
      VlanSubinterfaceArgsSchema,
      args,
      linkOutputs,
      opts,
    );
  }
}
