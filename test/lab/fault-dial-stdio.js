// Stands in for `docker system dial-stdio` on a netns lab host while an api-* fault rule
// exists (fault-command.sh runs it): the same byte pipe between the SSH channel and the host's
// dockerd, which also reads each HTTP request line going to the daemon and, when a rule's REGEX
// matches it, kills the SSH connection before the request reaches dockerd (api-cut-before) or
// once dockerd has answered it, before the answer goes back (api-cut-after). Plain Node, no
// build step: it runs on the lab host from the lab's own directory.
//
//   node fault-dial-stdio.js HOSTDIR "SSHD_PIDS"

const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");

const [hostDir, sshdPids] = process.argv.slice(2);
const rulesDir = path.join(hostDir, "faults");
const socketPath = (process.env.DOCKER_HOST ?? "").replace(/^unix:\/\//, "");

function cutConnection() {
  for (const pid of sshdPids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  process.exit(255);
}

/** The api-* rule whose REGEX matches the request line, claimed by removing its file (once). */
function claimRule(requestLine) {
  let names = [];
  try {
    names = fs.readdirSync(rulesDir).sort();
  } catch {
    return undefined;
  }
  for (const name of names) {
    const kind = name.slice(name.indexOf(".") + 1);
    if (kind !== "api-cut-before" && kind !== "api-cut-after") continue;
    const file = path.join(rulesDir, name);
    let pattern;
    try {
      pattern = new RegExp(fs.readFileSync(file, "utf8").trim());
    } catch {
      continue;
    }
    if (!pattern.test(requestLine)) continue;
    try {
      fs.unlinkSync(file);
    } catch {
      continue; // another stream fired it first
    }
    return kind;
  }
  return undefined;
}

const daemon = net.connect(socketPath);
let cutOnAnswer = false;

// A request line starts a request; the client never pipelines (dockerApi.ts), so the next
// bytes from the daemon are the answer to the last request sent.
const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD) \S+ HTTP\/1\.[01]\r?$/gm;
process.stdin.on("data", (chunk) => {
  for (const [line] of chunk.toString("latin1").matchAll(REQUEST_LINE)) {
    const kind = claimRule(line.trim());
    if (kind === "api-cut-before") cutConnection();
    if (kind === "api-cut-after") cutOnAnswer = true;
  }
  daemon.write(chunk);
});
process.stdin.on("end", () => daemon.end());
daemon.on("data", (chunk) => {
  if (cutOnAnswer) cutConnection();
  process.stdout.write(chunk);
});
daemon.on("end", () => process.stdout.end());
daemon.on("error", (err) => {
  process.stderr.write(`fault-dial-stdio: ${err.message}\n`);
  process.exit(1);
});
