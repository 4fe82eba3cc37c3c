// One operation of a serialized dynamic provider, done the way @pulumi/pulumi's dynamic-provider
// host (cmd/dynamic-provider) does it: `require("require-from-string")(text).handler()` in a
// fresh process whose working directory is the Pulumi project. Results go to stdout as JSON.
//
//   node dynamicHost.js REQUEST_JSON     (run with cwd = the project folder)
//   request: { provider: string, op: "check"|"diff"|"create"|"read"|"update"|"delete", args: unknown[] }

import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import { unwrapSecrets } from "./engineValues";

type Op = "check" | "diff" | "create" | "read" | "update" | "delete";
type Handler = Record<Op, (...args: unknown[]) => Promise<unknown>>;

async function main(): Promise<void> {
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as { provider: string; op: Op; args: unknown[] };
  const projectRequire = createRequire(path.join(process.cwd(), "package.json"));
  const requireFromString = projectRequire("require-from-string") as (code: string) => { handler: () => Handler };
  const provider = requireFromString(request.provider).handler();
  const result = await provider[request.op](...(unwrapSecrets(request.args) as unknown[]));
  process.stdout.write(JSON.stringify({ ok: true, result: result ?? null }));
}

// No process.exit on success: the process must end by itself, which proves the pooled SSH
// connection does not keep it alive.
main().then(
  () => undefined,
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) }));
    process.exit(0);
  },
);
