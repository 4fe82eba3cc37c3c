// The provider both link resources (VlanSubinterface, HostShim) share. A LinkMapping says what
// differs (its schema, the link it describes, what besides the link it reads, its refusals and
// in-place changes); the lifecycle is the same: refuse a taken name, make the link and its
// persistence as one unit, read it back, and delete it only while it is still ours.

import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { checkInputs, diffByRules, type FieldRules, type ObjectSchema, parseInputs, stableJson } from "../../dynamic";
import { RefusalError } from "../../errors";
import { buildIpBatch, buildLinkDelete, buildLinkUp, type LinkDump, type LinkInfo } from "../../host/iproute";
import { linkSetupCommands, type PersistentLink } from "../../host/persistentLinks";
import { applyStepsWithDeadman } from "../../ops/deadman";
import { viewOf } from "../../ops/hostView";
import { type DockerHost, dumpLinks } from "../../ops/inventory";
import { deleteOwnLink, identityOf, type LinkIdentity, linkMark, requireNewLink, sameKindAndParent, showOwnLink } from "../../ops/links";
import {
  detectPersistMethod,
  isPersisted,
  type PersistRecord,
  persistSteps,
  unpersistSteps,
  updatePersistenceSteps,
} from "../../ops/persistence";
import { type LinkAddressing, refuseCuttingSession } from "../../ops/sessionPath";
import { applySteps, type HostStep } from "../../ops/steps";
import { type ConnectionConfig, parseConnection } from "../../ssh/connection";
import { freshRunner } from "../../ssh/oneShot";
import { hostSession, type RunCommand } from "../../ssh/pool";

/** The inputs every link resource has. */
export interface LinkArgs {
  connection: ConnectionConfig;
  name: string;
  parent: string;
  persist: boolean;
  /** Which resource this is (see resources/owner.ts); absent in state from before owners. */
  owner?: string;
}

const PersistRecordSchema = z.object({
  method: z.enum(["networkd", "systemd-unit"]),
  /** networkd only: the parent's .network file that the drop-in extends. */
  parentNetworkFile: z.string().optional(),
});

const LinkIdentitySchema = z.object({ kind: z.string(), parent: z.string(), macAddress: z.string(), ifindex: z.number() });

/** The state fields only the provider sets. */
export const linkOutputs = {
  /**
   * What identifies the link this resource made (kind, parent, MAC, ifindex), recorded at create:
   * update and delete touch the link under the name only while it is still this one.
   */
  identity: LinkIdentitySchema.optional(),
  /** How the link is kept across reboots, when `persist` is set. */
  persistence: PersistRecordSchema.optional(),
  /** The link's MAC address, as the LAN's neighbours see it. */
  macAddress: z.string(),
  /** Whether the link is administratively up. */
  up: z.boolean(),
};
export type LinkOutputs = z.output<z.ZodObject<typeof linkOutputs>>;

/** A link as the host reports it, with what else the resource reads about it (`more`). */
export interface Observed<M> {
  link: LinkInfo;
  more: M;
}

export interface LinkMapping<A extends LinkArgs, M> {
  resource: string;
  /** The kernel's link kind (`ip -d link` info_kind) this resource makes. */
  kind: "vlan" | "macvlan";
  schema: ObjectSchema;
  rules: FieldRules<string>;
  /** Defaults that depend on other inputs (a VLAN's "<parent>.<id>" name). */
  withDefaults(news: Record<string, unknown>): Record<string, unknown>;
  /** The link as created live and replayed at boot (the same `ip` commands). */
  persistentLink(args: A): PersistentLink;
  /** What else the state needs besides the link itself (a shim's addresses and routes). */
  observeMore(dump: LinkDump, name: string): M;
  /** The args as the host has them; persist and connection are the provider's to set. */
  fromObserved(observed: Observed<M>, prior: A): A;
  /** Refusals before anything is made, given the parent link. */
  precheck(run: RunCommand, host: DockerHost, args: A, parent: LinkInfo): Promise<void>;
  /** Steps that change the link in place from what the host has to what the args ask. */
  updateSteps(before: Observed<M>, olds: A & LinkOutputs, args: A): HostStep[];
  /** The addresses and routes the args put on the link, checked against the SSH session's own path. */
  addressing?(args: A): LinkAddressing;
  /** Refusals before deleting (a VLAN link still a network's parent). */
  beforeDelete?(run: RunCommand, host: DockerHost, props: A & LinkOutputs): Promise<void>;
}

/**
 * The live steps that make a link: its `ip` commands, undone as one by deleting the link. A
 * marked link is made and marked in one `ip -batch` process, so no crash or lost connection
 * leaves it unmarked (the kernel takes no alias with the add itself): the next create either
 * finds no link or one it knows as its own.
 */
export function createLinkSteps(link: PersistentLink): HostStep[] {
  const commands = linkSetupCommands(link);
  const [first, ...rest] =
    link.alias === undefined
      ? [{ argv: commands[0] }, ...commands.slice(1).map((argv) => ({ argv }))]
      : [buildIpBatch(commands.slice(0, 2)), ...commands.slice(2).map((argv) => ({ argv }))];
  // Deleting the link (the first step's undo) also removes its addresses and routes.
  return [{ ...first, undo: buildLinkDelete(link.name) }, ...rest];
}

export class LinkProvider<A extends LinkArgs, M> implements pulumi.dynamic.ResourceProvider {
  constructor(private readonly mapping: LinkMapping<A, M>) {}

  async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
    return checkInputs(this.mapping.schema, this.mapping.withDefaults(news));
  }

  async diff(_id: string, olds: object, news: object): Promise<pulumi.dynamic.DiffResult> {
    return diffByRules(olds, news, this.mapping.rules);
  }

  async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult<A & LinkOutputs>> {
    const m = this.mapping;
    const args = this.parse(inputs);
    const host = hostSession(args.connection);
    const state = await host.exclusive(async (run) => {
      const { parent, own } = await requireNewLink(run, host.target, args.name, args.parent, this.markOf(args));
      if (own) return this.resume(run, host.target, args, own);
      await m.precheck(run, host, args, parent);
      if (m.addressing) await refuseCuttingSession(run, host.target, m.addressing(args));
      const persistence = args.persist ? await detectPersistMethod(run, args.parent, host.target) : undefined;
      const link = this.linkOf(args);
      await this.applyLinkSteps(
        run,
        args.connection,
        host.target,
        createLinkSteps(link),
        persistence ? persistSteps(link, persistence) : [],
      );
      return this.observe(run, await dumpLinks(run), args, persistence, undefined);
    });
    if (!state) throw new RefusalError(host.target, { kind: "vanished", object: "interface", name: args.name, during: "create" });
    return { id: args.name, outs: state };
  }

  async read(id: string, props: A & LinkOutputs): Promise<pulumi.dynamic.ReadResult<A & LinkOutputs>> {
    const connection = parseConnection(props.connection, this.mapping.resource);
    // Reads issued together share one listing of the host's links, addresses and routes (taken
    // under the shared lock, so never in the middle of another resource's sequence).
    const host = hostSession(connection);
    const dump = await viewOf(host).links(host);
    const state = await host.shared((run) => this.observe(run, dump, { ...props, connection }, props.persistence, props.identity));
    return state ? { id, props: state } : {};
  }

  async update(_id: string, olds: A & LinkOutputs, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult<A & LinkOutputs>> {
    const m = this.mapping;
    // The link keeps the mark it was made with (a renamed stack does not re-mark it).
    const args = { ...this.parse(news), owner: olds.owner };
    const host = hostSession(args.connection);
    const state = await host.exclusive(async (run) => {
      // The link must still be the one recorded at create before anything changes it.
      const link = await showOwnLink(run, host.target, args.name, m.kind, olds.identity);
      if (!link) throw new RefusalError(host.target, { kind: "gone", object: "interface", name: args.name });
      const dump = await dumpLinks(run);
      const before = { link, more: m.observeMore(dump, args.name) };
      if (m.addressing) await refuseCuttingSession(run, host.target, m.addressing(args));
      const { steps: persistenceSteps, record } = await updatePersistenceSteps(
        run,
        host.target,
        { link: this.linkOf(olds), record: olds.persistence },
        { link: this.linkOf(args), persist: args.persist },
      );
      await this.applyLinkSteps(run, args.connection, host.target, m.updateSteps(before, olds, args), persistenceSteps);
      return this.observe(run, await dumpLinks(run), args, record, olds.identity);
    });
    if (!state) throw new RefusalError(host.target, { kind: "vanished", object: "interface", name: args.name, during: "update" });
    return { outs: state };
  }

  async delete(_id: string, props: A & LinkOutputs): Promise<void> {
    const m = this.mapping;
    const host = hostSession(parseConnection(props.connection, m.resource));
    await host.exclusive(async (run) => {
      await m.beforeDelete?.(run, host, props);
      const unpersist = props.persistence ? unpersistSteps(this.linkOf(props), props.persistence) : [];
      await deleteOwnLink(run, host.target, props.name, m.kind, unpersist, props.identity);
    });
  }

  /**
   * Link steps that put addresses or routes on a link (a mapping with `addressing`: HostShim) run
   * under the dead-man switch, with the persistence steps after them, so the host undoes both
   * when the change cuts it off. A VLAN link gets no address or route, so nothing of it can take
   * the session's path; it is not worth a second login per change.
   */
  private async applyLinkSteps(
    run: RunCommand,
    connection: ConnectionConfig,
    target: string,
    linkSteps: HostStep[],
    persistenceSteps: HostStep[],
  ): Promise<void> {
    const steps = [...linkSteps, ...persistenceSteps];
    if (this.mapping.addressing && linkSteps.length > 0)
      await applyStepsWithDeadman(run, freshRunner(connection), { target, user: connection.user, sudo: connection.sudo }, steps);
    else await applySteps(run, steps);
  }

  /**
   * The state for what the host has; persistence files missing or edited by hand read as
   * `persist: false`, which the diff turns into an update that writes them again. The identity
   * is recorded afresh at create, and by a read that finds the same kind on the same parent (a
   * persisted link made again at boot has a new ifindex and MAC); a link of another kind or on
   * another parent under the name keeps the recorded identity, so delete still refuses it.
   */
  private async observe(
    run: RunCommand,
    dump: LinkDump,
    prior: A,
    persistence: PersistRecord | undefined,
    recorded: LinkIdentity | undefined,
  ): Promise<(A & LinkOutputs) | undefined> {
    const m = this.mapping;
    const link = dump.links.find((l) => l.name === prior.name);
    if (!link) return undefined;
    const persisted = persistence !== undefined && (await isPersisted(run, this.linkOf(prior), persistence));
    const more = m.observeMore(dump, prior.name);
    return {
      ...m.fromObserved({ link, more }, prior),
      connection: prior.connection,
      owner: prior.owner,
      persist: persisted,
      persistence,
      macAddress: link.mac ?? "",
      up: link.up,
      identity: recorded && !sameKindAndParent(recorded, link) ? recorded : identityOf(link),
    };
  }

  /**
   * Completes a create that an earlier run of this resource began (the link carries its mark)
   * but whose result never reached the state: the host may be anywhere between the link alone
   * and everything made. What a create cannot change (kind, parent, mode, VLAN id: the fields
   * whose change replaces) must match, or it is refused naming what differs; the rest (up,
   * addresses, routes, MTU, persistence) is applied as an update would.
   */
  private async resume(run: RunCommand, target: string, args: A, own: LinkInfo): Promise<(A & LinkOutputs) | undefined> {
    const m = this.mapping;
    const before = { link: own, more: m.observeMore(await dumpLinks(run), args.name) };
    const observed = m.fromObserved(before, args) as unknown as Record<string, unknown>;
    const asked = args as unknown as Record<string, unknown>;
    const differences = [
      ...(own.kind === m.kind ? [] : [`kind: asked ${m.kind}, host has ${own.kind ?? "none"}`]),
      ...Object.entries(m.rules)
        .filter(([key, rule]) => rule === "replace" && stableJson(observed[key] ?? null) !== stableJson(asked[key] ?? null))
        .map(([key]) => `${key}: asked ${stableJson(asked[key] ?? null)}, host has ${stableJson(observed[key] ?? null)}`),
    ];
    if (differences.length > 0)
      throw new RefusalError(target, { kind: "resumeMismatch", object: "interface", name: args.name, differences });
    if (m.addressing) await refuseCuttingSession(run, target, m.addressing(args));
    const persistence = args.persist ? await detectPersistMethod(run, args.parent, target) : undefined;
    // Up first: the kernel refuses a route through a link that is down.
    const linkSteps = [
      ...(own.up ? [] : [{ argv: buildLinkUp(args.name) }]),
      ...m.updateSteps(before, { ...args, macAddress: own.mac ?? "", up: own.up }, args),
    ];
    await this.applyLinkSteps(run, args.connection, target, linkSteps, persistence ? persistSteps(this.linkOf(args), persistence) : []);
    return this.observe(run, await dumpLinks(run), args, persistence, undefined);
  }

  private markOf(args: A): string | undefined {
    return args.owner === undefined ? undefined : linkMark(args.owner);
  }

  /** The link as made live and replayed at boot, with this resource's mark. */
  private linkOf(args: A): PersistentLink {
    const mark = this.markOf(args);
    return mark === undefined ? this.mapping.persistentLink(args) : { ...this.mapping.persistentLink(args), alias: mark };
  }

  private parse(inputs: Record<string, unknown>): A {
    return parseInputs(this.mapping.schema, this.mapping.withDefaults(inputs), this.mapping.resource) as A;
  }
}
