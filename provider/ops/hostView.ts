// What the provider knows of one host between remote calls: reads that arrive together share
// one fetch, and the writes that run together share one inventory, kept up to date by those
// writes themselves. Nothing here is ever older than the provider's own last write: a read
// joins only a fetch that has not been sent yet, and an inventory lives only while writes to
// the host are in flight.

import { RefusalError } from "../errors";
import type { InspectedNetwork } from "../host/docker";
import type { LinkDump } from "../host/iproute";
import { Slots } from "../ssh/dockerApi";
import type { HostRunner, RunCommand } from "../ssh/pool";
import { dumpLinks, type HostInventory, hostInventory, listNetworks } from "./inventory";

/**
 * Callers within one window share one fetch. A fetch in flight is never joined (it may have
 * been sent before the caller's last write finished); callers that come meanwhile share the
 * next one, sent when it returns. So a burst of N reads costs one or two fetches, not N.
 */
export class Coalescer<T> {
  private waiting?: { promise: Promise<T>; resolve: (value: T) => void; reject: (err: unknown) => void };
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly windowMs: number) {}

  get(fetch: () => Promise<T>): Promise<T> {
    if (this.waiting) return this.waiting.promise;
    let resolve!: (value: T) => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiting = { promise, resolve, reject };
    this.waiting = waiting;
    const send = () => {
      if (this.waiting === waiting) this.waiting = undefined;
      const sent = fetch();
      this.running = sent.catch(() => undefined);
      sent.then(resolve, reject);
    };
    void this.running.then(() => setTimeout(send, this.windowMs));
    return promise;
  }
}

/** How long the first read of a burst waits for the others (Pulumi sends them within a few ms). */
const READ_WINDOW_MS = 3;

/** A network a create has claimed in the inventory but Docker has not answered for yet. */
export const PENDING_ID = "(being created)";

export class HostView {
  readonly networkReads = new Coalescer<InspectedNetwork[]>(READ_WINDOW_MS);
  readonly linkReads = new Coalescer<LinkDump>(READ_WINDOW_MS);
  private writes = 0;
  private batch?: { fetched: Promise<HostInventory>; inventory?: HostInventory };
  /** Networks being created right now: carried into any inventory fetched meanwhile. */
  private readonly claims = new Set<InspectedNetwork>();
  /**
   * Docker network creates and removals, one at a time. Measured on Docker 20.10: 50 creates
   * sent one after another take ~170 ms in all, the same 50 sent at once ~2.6 s (the daemon's
   * network controller serializes them anyway, and contends doing so).
   */
  readonly networkChanges = new Slots(1);

  /** Every network on the host, from a fetch sent after this call (shared with concurrent reads). */
  networks(host: HostRunner): Promise<InspectedNetwork[]> {
    return this.networkReads.get(() => host.shared(() => listNetworks(host)));
  }

  /** Every link with its addresses and routes, from a fetch sent after this call (shared with concurrent reads). */
  links(host: HostRunner): Promise<LinkDump> {
    return this.linkReads.get(() => host.shared((run) => dumpLinks(run)));
  }

  /**
   * Runs a write to Docker networks. While any such write is in flight the host's inventory is
   * fetched once and shared; each write updates it with what it did, so the next create checks
   * against the networks this batch made. A write that fails for any reason but a refusal
   * leaves the host in doubt, so the next write fetches again.
   */
  async write<T>(body: () => Promise<T>): Promise<T> {
    this.writes++;
    try {
      return await body();
    } catch (err) {
      if (!(err instanceof RefusalError)) this.invalidate();
      throw err;
    } finally {
      this.writes--;
      if (this.writes === 0) this.invalidate();
    }
  }

  /**
   * The inventory the writes in flight share, fetched by the first of them with the `run` of
   * the host lock it already holds (asking for the lock again could queue behind a waiting
   * link sequence that waits for this very write).
   */
  inventory(host: HostRunner, run: RunCommand): Promise<HostInventory> {
    if (!this.batch) {
      const batch: { fetched: Promise<HostInventory>; inventory?: HostInventory } = {
        fetched: hostInventory(run, host).then((inventory) => {
          const inFlight = [...this.claims].filter((c) => !inventory.networks.some((n) => n.name === c.name));
          inventory.networks.push(...inFlight);
          batch.inventory = inventory;
          return inventory;
        }),
      };
      this.batch = batch;
      batch.fetched.catch(() => {
        if (this.batch === batch) this.batch = undefined;
      });
    }
    return this.batch.fetched;
  }

  /**
   * Claims a network in the inventory before Docker is asked, so a concurrent create of the
   * same name, parent or subnet is refused by the checks; `settle` puts the real network in its
   * place (or takes the claim back when the create failed).
   */
  claim(
    inventory: HostInventory,
    claim: Omit<InspectedNetwork, "id" | "containers">,
  ): { settle(network: InspectedNetwork | undefined): void } {
    const entry: InspectedNetwork = { ...claim, id: PENDING_ID, containers: [] };
    inventory.networks.push(entry);
    this.claims.add(entry);
    return {
      settle: (network) => {
        this.claims.delete(entry);
        for (const held of new Set([inventory, this.batch?.inventory])) {
          if (!held) continue;
          const at = held.networks.indexOf(entry);
          if (at >= 0) held.networks.splice(at, 1);
          if (network && !held.networks.some((n) => n.id === network.id)) held.networks.push(network);
        }
      },
    };
  }

  /** A network this provider removed: out of the shared inventory, or the next write fetches anew. */
  removed(id: string): void {
    const inventory = this.batch?.inventory;
    if (!inventory) {
      // A fetch still in flight may or may not have seen the network.
      this.invalidate();
      return;
    }
    const at = inventory.networks.findIndex((n) => n.id === id);
    if (at >= 0) inventory.networks.splice(at, 1);
  }

  /** A change the view cannot follow (a link sequence, a link Docker made): fetch anew next time. */
  invalidate(): void {
    this.batch = undefined;
  }
}

const views = new Map<string, HostView>();

/** The view of a host (by name and port), shared by every connection to it. */
export function viewOf(host: HostRunner): HostView {
  let view = views.get(host.hostId);
  if (!view) {
    view = new HostView();
    views.set(host.hostId, view);
  }
  return view;
}
