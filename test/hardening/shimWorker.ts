// A second provider process for the concurrency suite: reads one job as JSON on stdin (create
// or delete these HostShims, all at once, through hostShimProvider, as the engine's provider
// process would), and prints one JSON line per shim. The state printed leaves out `connection`
// (the parent has it, and a failing test must not print the key); the parent puts it back.
//
//   node dist/test/hardening/shimWorker.js < job.json

import { type HostShimState, hostShimProvider } from "../../provider/resources/link/hostShim";
import { closeAllSessions } from "../../provider/ssh/pool";

export interface ShimJob {
  op: "create" | "delete";
  connection: Record<string, unknown>;
  /** create: the inputs without connection; delete: the state create returned, without connection. */
  shims: Record<string, unknown>[];
}

export interface ShimResult {
  name: string;
  ok: boolean;
  /** create: the state, without connection. */
  outs?: Record<string, unknown>;
  /** The error's class and message when not ok. */
  error?: string;
}

async function runOne(job: ShimJob, shim: Record<string, unknown>): Promise<ShimResult> {
  const name = String(shim.name);
  try {
    if (job.op === "create") {
      const checked = await hostShimProvider.check({}, { ...shim, connection: job.connection });
      if (checked.failures?.length) return { name, ok: false, error: `check: ${JSON.stringify(checked.failures)}` };
      const created = await hostShimProvider.create(checked.inputs);
      const { connection: _, ...outs } = created.outs as HostShimState;
      return { name, ok: true, outs };
    }
    await hostShimProvider.delete(name, { ...shim, connection: job.connection } as HostShimState);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err) };
  }
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ShimJob;
  const results = await Promise.all(job.shims.map((shim) => runOne(job, shim)));
  closeAllSessions();
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`shimWorker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
