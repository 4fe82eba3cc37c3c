// Enough of a Docker daemon's Engine API (networks, and which containers use one) to run the
// network ops without a host: every request is recorded, and any request can be made to fail
// or to wait. It answers both as a DockerApi (in process) and over HTTP (behind a fake host's
// `docker system dial-stdio`).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { DockerApi, DockerResponse } from "../../provider/ssh/dockerApi";

export interface FakeNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Options: Record<string, string>;
  IPAM: { Driver: string; Config: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[] };
  EnableIPv6: boolean;
  Internal: boolean;
  Labels: Record<string, string>;
  /** Running endpoints (what inspect shows). */
  Containers: Record<string, { Name: string }>;
}

export interface FakeContainer {
  Id: string;
  Names: string[];
  /** Ids of the networks it refers to, running or not. */
  networks: string[];
}

let created = 0;

export class FakeDocker implements DockerApi {
  readonly networks = new Map<string, FakeNetwork>();
  readonly containers: FakeContainer[] = [];
  /** "METHOD /path" (version prefix and query taken off), in the order received. */
  readonly requests: string[] = [];
  /** "METHOD /path" -> the error the daemon answers instead. */
  readonly failing = new Map<string, { status: number; message: string }>();
  /** Created networks are not inspectable afterwards (a daemon that lost them). */
  vanishOnCreate = false;
  /** Each answer waits this long (concurrency tests). */
  delayMs = 0;
  /** Answers to these requests ("GET /networks") are held until the gate is opened. */
  readonly gates = new Map<string, Promise<void>>();
  /** The most network creates/removals the daemon was working on at once. */
  maxConcurrentChanges = 0;
  private changing = 0;

  addNetwork(n: {
    id?: string;
    name: string;
    driver?: string;
    parent?: string;
    subnets?: string[];
    containers?: Record<string, { Name: string }>;
  }): FakeNetwork {
    const network: FakeNetwork = {
      Id: n.id ?? (++created).toString(16).padStart(64, "e"),
      Name: n.name,
      Driver: n.driver ?? "macvlan",
      Options: n.parent ? { parent: n.parent } : {},
      IPAM: { Driver: "default", Config: (n.subnets ?? []).map((Subnet) => ({ Subnet })) },
      EnableIPv6: false,
      Internal: false,
      Labels: {},
      Containers: n.containers ?? {},
    };
    this.networks.set(network.Id, network);
    return network;
  }

  /** Networks as the client sees them: requests of one kind ("GET /networks") counted. */
  /** What GET /version reports as the daemon's version. */
  serverVersion = "20.10.24+dfsg1";
  /** The newest API version it speaks; EnableIPv4 is honoured from 1.48 on, as by Docker 28. */
  apiVersion = "1.41";
  /** Gives IPv6-only creates an IPv4 subnet whatever the request says (a daemon that ignores EnableIPv4). */
  ignoreEnableIPv4 = false;
  /** The API version each request named in its path ("" when none: the client's negotiated one). */
  readonly pathVersions: string[] = [];

  count(request: string): number {
    return this.requests.filter((r) => r === request).length;
  }

  async request(method: string, path: string, body?: unknown): Promise<DockerResponse> {
    const plain = path.replace(/^\/v\d+\.\d+/, "");
    const [route, query = ""] = plain.split("?");
    const shown = `${method} ${route}`;
    this.requests.push(shown);
    const named = /^\/v(\d+\.\d+)\//.exec(path)?.[1] ?? "";
    this.pathVersions.push(named);
    const isChange = method !== "GET";
    if (isChange) this.maxConcurrentChanges = Math.max(this.maxConcurrentChanges, ++this.changing);
    // The answer is what the daemon had when the request arrived, however late it is delivered.
    const failure = this.failing.get(shown);
    const answer = failure
      ? reply(failure.status, { message: failure.message })
      : this.answer(method, decodeURIComponent(route), new URLSearchParams(query), body, named);
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    await this.gates.get(shown);
    if (isChange) this.changing--;
    return answer;
  }

  /** The same daemon over HTTP, for an http.Server behind a fake host's dial-stdio. */
  handleHttp(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      void this.request(req.method ?? "GET", req.url ?? "/", text ? JSON.parse(text) : undefined).then((r) => {
        res.writeHead(r.status, { "Content-Type": "application/json" });
        res.end(r.text);
      });
    });
  }

  private find(idOrName: string): FakeNetwork | undefined {
    return (
      this.networks.get(idOrName) ??
      [...this.networks.values()].find((n) => n.Name === idOrName) ??
      [...this.networks.values()].find((n) => n.Id.startsWith(idOrName))
    );
  }

  private answer(method: string, route: string, query: URLSearchParams, body: unknown, version: string): DockerResponse {
    if (method === "GET" && route === "/version")
      return reply(200, { Version: this.serverVersion, ApiVersion: this.apiVersion, MinAPIVersion: "1.12" });
    if (method === "GET" && route === "/networks") {
      // The daemon's id filter matches all or part of an id.
      const ids = (JSON.parse(query.get("filters") ?? "{}") as { id?: string[] }).id;
      return reply(
        200,
        [...this.networks.values()].filter((n) => !ids || ids.some((id) => n.Id.includes(id))).map((n) => ({ ...n, Containers: {} })),
      );
    }
    if (method === "POST" && route === "/networks/create") {
      const spec = body as {
        Name: string;
        Driver: string;
        Options: Record<string, string>;
        IPAM: FakeNetwork["IPAM"];
        Labels: Record<string, string>;
        EnableIPv6: boolean;
        EnableIPv4?: boolean;
        Internal: boolean;
      };
      if (this.find(spec.Name)?.Name === spec.Name) return reply(409, { message: `network with name ${spec.Name} already exists` });
      const network = this.addNetwork({ name: spec.Name });
      // Docker strips EnableIPv4 from requests older than API 1.48, and one that has only IPv6
      // subnets then gets an IPv4 subnet from its default pools.
      const knowsEnableIPv4 = version !== "" && Number(version.split(".")[1]) >= 48 && Number(this.apiVersion.split(".")[1]) >= 48;
      const ipv4Off = knowsEnableIPv4 && !this.ignoreEnableIPv4 && spec.EnableIPv4 === false;
      const hasIpv4 = spec.IPAM.Config.some((c) => c.Subnet !== undefined && !c.Subnet.includes(":"));
      Object.assign(network, {
        Driver: spec.Driver,
        Options: spec.Options,
        IPAM:
          ipv4Off || hasIpv4
            ? spec.IPAM
            : { ...spec.IPAM, Config: [{ Subnet: "172.18.0.0/16", Gateway: "172.18.0.1" }, ...spec.IPAM.Config] },
        Labels: spec.Labels,
        EnableIPv6: spec.EnableIPv6,
        Internal: spec.Internal,
      });
      if (this.vanishOnCreate) this.networks.delete(network.Id);
      return reply(201, { Id: network.Id, Warning: "" });
    }
    const one = /^\/networks\/(.+)$/.exec(route);
    if (one) {
      const network = this.find(one[1]);
      if (!network) return reply(404, { message: `network ${one[1]} not found` });
      if (method === "GET") return reply(200, network);
      if (method === "DELETE") {
        this.networks.delete(network.Id);
        return { status: 204, json: undefined, text: "" };
      }
    }
    if (method === "GET" && route === "/containers/json") {
      const filters = JSON.parse(query.get("filters") ?? "{}") as { network?: string[] };
      const wanted = filters.network ?? [];
      const users = this.containers.filter((c) => wanted.length === 0 || c.networks.some((id) => wanted.includes(id)));
      // As the daemon lists them: each network under the name the container knows it by, with its id
      // (the fake's filter takes whole ids only).
      return reply(
        200,
        users.map((c) => ({
          Id: c.Id,
          Names: c.Names,
          NetworkSettings: { Networks: Object.fromEntries(c.networks.map((id) => [this.networks.get(id)?.Name ?? id, { NetworkID: id }])) },
        })),
      );
    }
    return reply(404, { message: `page not found: ${method} ${route}` });
  }
}

function reply(status: number, value: unknown): DockerResponse {
  const text = JSON.stringify(value);
  return { status, json: value, text };
}
