// VlanSubinterface: an 802.1q link such as eth0.50 on a remote host, up, and (by default) kept
// across reboots in whatever way the host manages its network. A network's `parent` can take
// this resource's `name` output, so Pulumi creates the link first and deletes it last.

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
import { buildLinkDelete, buildLinkUp, buildVlanAdd, buildLinkSetMtu, LinkInfo } from "../../host/iproute";
import { PersistentLink } from "../../host/persistentLinks";
import { applySteps, HostStep } from "../../ops/steps";
import { deleteOwnLink, requireNewLink, showLink } from "../../ops/links";
import { listAllNetworks } from "../../ops/network";
import {
  detectPersistMethod,
  isPersisted,
  persistSteps,
  PersistRecord,
  unpersistSteps,
  updatePersistenceSteps,
} from "../../ops/persistence";
import { interfaceName, UNKNOWN } from "../../validate";

// ---------------------------------------------------------------------------------------------
// Args

export const VlanSubinterfaceArgsSchema = z
  .object({
    connection: ConnectionSchema,
    /** The trunk NIC carrying the tagged traffic. */
    parent: interfaceName,
    /** The 802.1q VLAN id. */
    vlanId: z.number().int().min(1).max(4094),
    /** Interface name; defaults to "<parent>.<vlanId>" (which must then fit in 15 bytes). */
    name: interfaceName,
    /** MTU of the link; at most the parent's. Left out, the kernel uses the parent's. */
    mtu: z.number().int().min(68).max(65535).optional(),
    /** Bring the link back after a reboot (systemd-networkd files, or a systemd unit). */
    persist: z.boolean().default(true),
  })
  .strict()
  .superRefine((args, ctx) => {
    if (args.name === args.parent) {
      ctx.addIssue({ code: "custom", path: ["name"], message: `must differ from parent "${args.parent}"` });
    }
  });

type Args = z.output<typeof VlanSubinterfaceArgsSchema>;

export type VlanSubinterfaceArgs = InputsOf<Omit<z.input<typeof VlanSubinterfaceArgsSchema>, "name">> & {
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
// State

export interface VlanSubinterfaceState extends Args {
  /** How the link is kept across reboots, when `persist` is set. */
  persistence?: PersistRecord;
  macAddress: string;
  /** Whether the link is administratively up. */
  up: boolean;
}

// ---------------------------------------------------------------------------------------------
// Diff rules: a VLAN link cannot be re-parented or re-tagged; its MTU and persistence change in place.

const FIELD_RULES: FieldRules<keyof Args> = {
  connection: "update",
  parent: "replace",
  vlanId: "replace",
  name: "replace",
  mtu: "update",
  persist: "update",
};

// ---------------------------------------------------------------------------------------------
// Mapping between the args and what the host reports.

function persistentLink(args: Args): PersistentLink {
  return { kind: "vlan", name: args.name, parent: args.parent, vlanId: args.vlanId, mtu: args.mtu };
}

/**
 * The state for what the host has. An MTU the program left out is the kernel's choice, not
 * drift; persistence files missing or edited by hand read as `persist: false`.
 */
function fromObserved(link: LinkInfo, persisted: boolean, prior: Args, persistence: PersistRecord | undefined): VlanSubinterfaceState {
  const vlanId = typeof link.data.id === "number" ? link.data.id : -1;
  return {
    connection: prior.connection,
    name: link.name,
    parent: link.parent ?? "",
    vlanId: link.kind === "vlan" ? vlanId : -1,
    mtu: prior.mtu === undefined ? undefined : link.mtu,
    persist: persisted,
    persistence,
    macAddress: link.mac ?? "",
    up: link.up,
  };
}

async function observe(run: RunCommand, prior: Args, persistence: PersistRecord | undefined): Promise<VlanSubinterfaceState | undefined> {
  const link = await showLink(run, prior.name);
  if (!link) return undefined;
  const persisted = persistence !== undefined && (await isPersisted(run, persistentLink(prior), persistence));
  return fromObserved(link, persisted, prior, persistence);
}

// ---------------------------------------------------------------------------------------------
// Provider

const RESOURCE = "VlanSubinterface";

class VlanSubinterfaceProvider implements pulumi.dynamic.ResourceProvider {
  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    return checkInputs(VlanSubinterfaceArgsSchema, withDefaultName(news));
  }

  async diff(_id: string, olds: object, news: object): Promise<pulumi.dynamic.DiffResult> {
    return diffByRules(olds, news, FIELD_RULES);
  }

  async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult<VlanSubinterfaceState>> {
    const args = parseInputs(VlanSubinterfaceArgsSchema, withDefaultName(inputs), RESOURCE);
    const host = hostSession(args.connection);
    const state = await host.exclusive(async (run) => {
      const parent = await requireNewLink(run, host.target, args.name, args.parent);
      if (args.mtu !== undefined && args.mtu > parent.mtu) {
        throw new Error(`${host.target}: mtu ${args.mtu} is larger than parent "${args.parent}"'s mtu ${parent.mtu}`);
      }
      const persistence = args.persist ? await detectPersistMethod(run, args.parent, host.target) : undefined;
      const steps: HostStep[] = [
        { argv: buildVlanAdd(args.name, args.parent, args.vlanId, args.mtu), undo: buildLinkDelete(args.name) },
        { argv: buildLinkUp(args.name) },
        ...(persistence ? persistSteps(persistentLink(args), persistence) : []),
      ];
      await applySteps(run, steps);
      return observe(run, args, persistence);
    });
    if (!state) throw new Error(`${host.target}: "${args.name}" vanished right after it was created`);
    return { id: args.name, outs: state };
  }

  async read(id: string, props: VlanSubinterfaceState): Promise<pulumi.dynamic.ReadResult<VlanSubinterfaceState>> {
    const connection = parseConnection(props.connection, RESOURCE);
    const state = await hostSession(connection).exclusive((run) => observe(run, { ...props, connection }, props.persistence));
    return state ? { id, props: state } : {};
  }

  async update(id: string, olds: VlanSubinterfaceState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult<VlanSubinterfaceState>> {
    const args = parseInputs(VlanSubinterfaceArgsSchema, withDefaultName(news), RESOURCE);
    const host = hostSession(args.connection);
    const state = await host.exclusive(async (run) => {
      const link = await showLink(run, args.name);
      if (!link) throw new Error(`${host.target}: "${args.name}" no longer exists; run \`pulumi refresh\``);
      const steps: HostStep[] = [];
      if (args.mtu !== undefined && args.mtu !== link.mtu) {
        steps.push({ argv: buildLinkSetMtu(args.name, args.mtu), undo: buildLinkSetMtu(args.name, link.mtu) });
      }
      const { steps: persistenceSteps, record: persistence } = await updatePersistenceSteps(
        run,
        host.target,
        { link: persistentLink({ ...args, mtu: olds.mtu }), record: olds.persistence },
        { link: persistentLink(args), persist: args.persist },
      );
      await applySteps(run, [...steps, ...persistenceSteps]);
      return observe(run, args, persistence);
    });
    if (!state) throw new Error(`${host.target}: "${args.name}" vanished during the update`);
    return { outs: state };
  }

  async delete(_id: string, props: VlanSubinterfaceState): Promise<void> {
    const host = hostSession(parseConnection(props.connection, RESOURCE));
    await host.exclusive(async (run) => {
      const users = (await listAllNetworks(run)).filter((n) => n.options.parent === props.name);
      if (users.length > 0) {
        throw new Error(
          `${host.target}: "${props.name}" is still the parent of Docker network(s) ${users.map((n) => `"${n.name}"`).join(", ")}; delete them first`,
        );
      }
      await deleteOwnLink(run, host.target, props.name, "vlan", props.persistence ? unpersistSteps(persistentLink(props), props.persistence) : []);
    });
  }
}

export const vlanSubinterfaceProvider = new VlanSubinterfaceProvider();

// ---------------------------------------------------------------------------------------------
// Resource

/** An 802.1q VLAN subinterface on a remote host, kept across reboots unless `persist: false`. */
export class VlanSubinterface extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly parent: pulumi.Output<string>;
  declare readonly vlanId: pulumi.Output<number>;
  declare readonly mtu: pulumi.Output<number | undefined>;
  declare readonly persist: pulumi.Output<boolean>;
  declare readonly persistence: pulumi.Output<PersistRecord | undefined>;
  declare readonly macAddress: pulumi.Output<string>;
  declare readonly up: pulumi.Output<boolean>;

  constructor(name: string, args: VlanSubinterfaceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      serializableProvider(__filename, "vlanSubinterfaceProvider"),
      name,
      registeredProps(VlanSubinterfaceArgsSchema, args, ["persistence", "macAddress", "up"]),
      withSecretConnection(opts),
      "pulumi-underlay",
      RESOURCE,
    );
  }
}
