// Enough of a Linux host's `ip` (links, addresses, routes) and a host without Docker or
// systemd, as a FakeSshHost handler: the link providers' whole lifecycle runs against it.

import { canonicalPrefix } from "../../provider/ipnet";
import { closeAllSessions } from "../../provider/ssh/pool";
import { type Exec, FakeSshHost, type Handler, type Reply } from "./fakeSshHost";

export interface FakeLink {
  kind?: string;
  parent?: string;
  mtu: number;
  data: Record<string, unknown>;
  up: boolean;
  addresses: string[];
  routes: string[];
  /** Kept for the link's life, as the kernel does; assigned at `ip link add` when left out. */
  ifindex?: number;
  mac?: string;
  /** IFLA_IFALIAS, as `ip link set dev X alias Y` sets it. */
  alias?: string;
}

export class FakeLinuxHost {
  readonly links = new Map<string, FakeLink>([
    ["lo", { mtu: 65536, data: {}, up: true, addresses: [], routes: [] }],
    ["eth1", { mtu: 1500, data: {}, up: true, addresses: ["198.51.100.11/24"], routes: [] }],
  ]);
  private nextIndex = 10;
  /**
   * The SSH client's address as sshd saw it ($SSH_CONNECTION): the in-process host is reached
   * over loopback, so its own address; unset, the host cannot say.
   */
  sessionPeer?: string = "127.0.0.1";
  /** The link the host reaches `sessionPeer` over. */
  sessionDev = "eth1";
  /** Commands (joined argv) that fail with this stderr. */
  readonly failing = new Map<string, string>();
  /**
   * Dead-man switches (host/deadman.ts) by token: the rollback script armed, and whether a
   * confirmation took the token. The rollback never fires here; the lab tests prove that.
   */
  readonly deadman = new Map<string, { rollback: string; confirmed: boolean }>();

  readonly handler: Handler = (exec: Exec) => (exec.argv.join(" ") === "ip -batch -" ? this.batch(exec.stdin) : this.answer(exec.argv));

  /** `ip -batch -`: each line as an `ip` command, stopping at the first that fails (as iproute2 does without -force). */
  private batch(stdin: string): Reply {
    for (const line of stdin.split("\n").filter((l) => l.trim() !== "")) {
      const reply = this.answer(["ip", ...line.trim().split(/\s+/)]);
      if ((reply.code ?? 0) !== 0) return reply;
    }
    return {};
  }

  private answer(argv: string[]): Reply {
    const cmd = argv.join(" ");
    const failure = this.failing.get(cmd);
    if (failure !== undefined) return { code: 2, stderr: failure };
    if (argv[0] === "docker") return { code: 127, stderr: "timeout: failed to run command 'docker': No such file or directory" };
    if (argv[0] === "systemctl" || argv[0] === "test") return { code: 1 };
    if (argv[0] === "sh" && argv[1] === "-c" && argv[2].includes("SSH_CONNECTION")) {
      return { stdout: `SSH_CONNECTION=${this.sessionPeer ? `${this.sessionPeer} 50022 198.51.100.11 22` : ""}\n` };
    }
    if (argv[0] === "sh" && argv[1] === "-c" && argv[2].includes("setsid")) {
      this.deadman.set(argv[4], { rollback: argv[5], confirmed: false });
      return { stdout: "4242\n" };
    }
    if (argv[0] === "sh" && argv[1] === "-c" && argv[2].includes(".kept")) {
      const armed = this.deadman.get(argv[4]);
      if (!armed) return { code: 4 };
      if (argv[6] === "confirm") armed.confirmed = true;
      // Asked to undo now, it reports the undo done; this fake does not run the rollback's
      // commands (the lab tests do, on a real host).
      if (argv[6] === "undo" && !armed.confirmed) return { code: 3 };
      return { code: armed.confirmed ? 0 : 5 };
    }
    if (argv[0] === "rm" && argv.at(-1)?.endsWith(".kept")) return {};
    if (cmd.startsWith("ip -j route get ") && argv[4] === "127.0.0.1")
      return {
        stdout: JSON.stringify([
          { type: "local", dst: "127.0.0.1", dev: "lo", prefsrc: "127.0.0.1", flags: [], uid: 0, cache: ["<local>"] },
        ]),
      };
    if (cmd.startsWith("ip -j route get "))
      return { stdout: JSON.stringify([{ dst: argv[4], dev: this.sessionDev, prefsrc: "198.51.100.11", flags: [], uid: 0, cache: [] }]) };
    if (argv[0] !== "ip") return { code: 127 };
    const dev = argv[argv.indexOf("dev") + 1];
    const link = this.links.get(dev);
    const missing = { code: 1, stderr: `Device "${dev}" does not exist.` };
    if (cmd.startsWith("ip -j -d link show")) {
      if (argv.includes("dev") && !link) return missing;
      const shown = argv.includes("dev") ? [[dev, link] as const] : [...this.links];
      return { stdout: JSON.stringify(shown.map(([name, l], i) => this.linkJson(name, l!, i))) };
    }
    if (cmd.startsWith("ip link add")) {
      const name = argv[argv.indexOf("name") + 1];
      if (this.links.has(name)) return { code: 2, stderr: "RTNETLINK answers: File exists" };
      const kind = argv[argv.indexOf("type") + 1];
      const parent = argv[4];
      const mtu = argv.includes("mtu") ? Number(argv[argv.indexOf("mtu") + 1]) : (this.links.get(parent)?.mtu ?? 1500);
      const data = kind === "vlan" ? { id: Number(argv[argv.indexOf("id") + 1]) } : { mode: argv[argv.indexOf("mode") + 1] };
      this.links.set(name, this.newLink({ kind, parent, mtu, data, up: false, addresses: [], routes: [] }));
      return {};
    }
    if (cmd === "ip -j -d address show") {
      return {
        stdout: JSON.stringify([...this.links].map(([name, l], i) => ({ ...this.linkJson(name, l, i), addr_info: this.addrInfo(l) }))),
      };
    }
    if (cmd === "ip -j -4 route show" || cmd === "ip -j -6 route show") {
      const family = argv[2] === "-6" ? ":" : ".";
      return {
        stdout: JSON.stringify(
          [...this.links].flatMap(([name, l]) =>
            l.routes.filter((r) => r.includes(family)).map((dst) => ({ dst, dev: name, scope: "link" })),
          ),
        ),
      };
    }
    if (!link) return missing;
    if (cmd.startsWith("ip link set")) {
      if (argv.includes("up")) link.up = true;
      if (argv.includes("mtu")) link.mtu = Number(argv[argv.indexOf("mtu") + 1]);
      if (argv.includes("alias")) link.alias = argv[argv.indexOf("alias") + 1];
      return {};
    }
    if (cmd.startsWith("ip link delete")) {
      this.links.delete(dev);
      return {};
    }
    if (cmd.startsWith("ip address add")) return this.edit(link.addresses, canonicalPrefix(argv[3]), true);
    if (cmd.startsWith("ip address delete")) return this.edit(link.addresses, canonicalPrefix(argv[3]), false);
    if (cmd.startsWith("ip -j address show")) {
      return { stdout: JSON.stringify([{ addr_info: this.addrInfo(link) }]) };
    }
    if (argv[2] === "route" && (argv[3] === "add" || argv[3] === "delete")) return this.edit(link.routes, argv[4], argv[3] === "add");
    if (argv[3] === "route" && argv[4] === "show") {
      const family = argv[2] === "-6" ? ":" : ".";
      return { stdout: JSON.stringify(link.routes.filter((r) => r.includes(family)).map((dst) => ({ dst, scope: "link" }))) };
    }
    return { code: 127, stderr: `fake host cannot ${cmd}` };
  }

  /** A link as `ip link add` makes it: the next ifindex and a MAC of its own. */
  newLink(link: FakeLink): FakeLink {
    const ifindex = link.ifindex ?? this.nextIndex++;
    return {
      ...link,
      ifindex,
      mac: link.mac ?? `02:00:00:00:${(ifindex >> 8).toString(16).padStart(2, "0")}:${(ifindex & 255).toString(16).padStart(2, "0")}`,
    };
  }

  private edit(list: string[], value: string, add: boolean): Reply {
    const at = list.indexOf(value);
    if (add && at >= 0) return { code: 2, stderr: "RTNETLINK answers: File exists" };
    if (!add && at < 0) return { code: 2, stderr: "RTNETLINK answers: Cannot assign requested address" };
    if (add) list.push(value);
    else list.splice(at, 1);
    return {};
  }

  private addrInfo(l: FakeLink) {
    return l.addresses.map((a) => ({
      family: a.includes(":") ? "inet6" : "inet",
      local: a.split("/")[0],
      prefixlen: Number(a.split("/")[1]),
      scope: "global",
    }));
  }

  private linkJson(name: string, l: FakeLink, i: number) {
    return {
      ifindex: l.ifindex ?? i + 1,
      ifname: name,
      link: l.parent,
      flags: l.up ? ["BROADCAST", "UP"] : ["BROADCAST"],
      mtu: l.mtu,
      address: l.mac ?? `02:00:00:00:00:${String(i + 1).padStart(2, "0")}`,
      linkinfo: l.kind ? { info_kind: l.kind, info_data: l.data } : undefined,
      ...(l.alias === undefined ? {} : { ifalias: l.alias }),
    };
  }
}

/**
 * Registers mocha hooks that give each test a fresh in-process SSH server answering as a
 * FakeLinuxHost, and close every pooled session and the server after it.
 */
export function useInProcessLinuxHost(): { readonly ssh: FakeSshHost; readonly linux: FakeLinuxHost } {
  const current = {} as { ssh: FakeSshHost; linux: FakeLinuxHost };
  beforeEach(async () => {
    current.ssh = await FakeSshHost.start();
    current.linux = new FakeLinuxHost();
    current.ssh.handler = current.linux.handler;
  });
  afterEach(async () => {
    closeAllSessions();
    await current.ssh.close();
  });
  return current;
}
