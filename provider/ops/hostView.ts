// What the provider knows of one host between remote calls: reads that arrive together share
// one fetch, and the writes that run together share one inventory, kept up to date by those
// writes themselves. Nothing here is ever older than the provider's own last write: a read
// joins only a fetch that has not been sent yet, and an inventory lives only while writes to
// the host are in flight.

import { RefusalError } from "../errors";
import {
  type ContainerUse,
  containersOnNetworkRequest,
  type InspectedNetwork,
  networksByIdRequest,
  parseContainerList,
  parseNetworkJson,
  usesNetwork,
} from "../host/docker";
import type { LinkDump } from "../host/iproute";
import { Slots } from "../ssh/dockerApi";
import type { HostRunner, RunCommand } from "../ssh/pool";
import { anyWireless, callDocker, dumpLinks, type HostInventory, hostInventory, isWireless, listLinks, listNetworks } from "./inventory";

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
  private batch?: Batch;
  /** Networks being created right now: carried into any inventory fetched meanwhile. */
  private readonly claims = new Set<InspectedNetwork>();
  /**
   * Docker network creates and removals, one at a time, with the requests that read back or
   * guard them. Measured on Docker 20.10 through the provider's own stream: 50 creates sent one
   * after another take ~0.17 s in all, the same 50 two at a time 0.8-2.2 s, and 50 removals
   * ~0.2 s against ~2.5 s (the daemon's network controller serializes them anyway, and contends
   * doing so); an inspect sent beside a create slows it down the same way.
   */
  readonly networkChanges = new Slots(1);
  /** Networks just created, waiting for the one listing that reads them all back. */
  private readonly readBacks = new LaneBatch<InspectedNetwork[]>(this.networkChanges);
  /** Networks about to be removed, waiting for the one listing of the containers that use them. */
  private readonly userChecks = new LaneBatch<ContainerUse[]>(this.networkChanges);

  /** Every network on the host, from a fetch sent after this call (shared with concurrent reads). */
  networks(host: HostRunner): Promise<InspectedNetwork[]> {
    return this.networkReads.get(() => host.shared(() => listNetworks(host)));
  }

  /**
   * A network this provider just created, as Docker reports it, or undefined when it is gone
   * already. The creates of a batch are read back together: one listing filtered by their ids,
   * taken in networkChanges' turn after the creates queued before it, so a batch of N creates
   * costs N creates and one listing, not N inspects (on Docker 20.10 an inspect beside the
   * creates slowed each of them down, and its own cost grows with the networks on the host).
   */
  async created(host: HostRunner, id: string): Promise<InspectedNetwork | undefined> {
    const listed = await this.readBacks.ask(id, async (ids) =>
      parseNetworkJson((await callDocker(host, networksByIdRequest(ids), [200])).json),
    );
    return listed.find((n) => n.id === id);
  }

  /**
   * The containers (running or stopped) that use the network, from one listing shared by the
   * removals asked together and sent after this call, in networkChanges' turn (see there).
   */
  async users(host: HostRunner, id: string): Promise<ContainerUse[]> {
    const listed = await this.userChecks.ask(id, async (ids) =>
      parseContainerList((await callDocker(host, containersOnNetworkRequest(...ids), [200])).json),
    );
    return listed.filter((c) => usesNetwork(c, id));
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
      const links = listLinks(run);
      // Asked as soon as the links are known, beside the Docker listing (see isWireless).
      // A question that failed leaves each parent to be asked about on its own.
      const wireless = links.then((list) => anyWireless(run, list)).catch(() => true);
      const batch: Batch = {
        anyWireless: wireless,
        fetched: hostInventory(run, host, links).then((inventory) => {
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
   * Whether `parent` is Wi-Fi. The links of the batch's inventory are asked about together, once
   * per batch, while the inventory is fetched (one `test` for the host, where one per create
   * would start a command each): when none is Wi-Fi, as on most servers, no create asks again.
   * A parent the inventory does not hold, or any parent on a host that has a Wi-Fi link, is
   * asked about on its own.
   */
  async isWireless(run: RunCommand, inventory: HostInventory, parent: string): Promise<boolean> {
    const batch = this.batch;
    if (batch?.inventory === inventory && inventory.links.some((l) => l.name === parent) && !(await batch.anyWireless)) return false;
    return isWireless(run, parent);
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

/**
 * Ids asked about together, answered by one request sent in the lane's turn: an id asked before
 * that request is sent joins it; one asked later waits for the next. The first asker's `send`
 * makes the request (every asker of a view reaches the same host).
 */
class LaneBatch<T> {
  private pending?: { ids: Set<string>; answer: Promise<T> };

  constructor(private readonly lane: Slots) {}

  ask(id: string, send: (ids: string[]) => Promise<T>): Promise<T> {
    if (!this.pending) {
      const ids = new Set<string>();
      const answer = this.lane.take(async () => {
        await joinersTurn();
        // From here on, new ids wait for the next request: this one is on its way.
        if (this.pending?.ids === ids) this.pending = undefined;
        return send([...ids]);
      });
      answer.catch(() => undefined);
      this.pending = { ids, answer };
    }
    this.pending.ids.add(id);
    return this.pending.answer;
  }
}

/**
 * Lets the callers that arrive in the same turn of the event loop (Pulumi's requests for a
 * whole stack come in one burst) join a listing before it is sent, when the turn it waits for
 * came at once.
 */
function joinersTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The inventory the writes in flight share, and what was asked of the host about its links. */
interface Batch {
  fetched: Promise<HostInventory>;
  inventory?: HostInventory;
  /** Whether any link of `inventory` is Wi-Fi. */
  anyWireless: Promise<boolean>;
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
