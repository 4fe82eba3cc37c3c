// A second Pulumi process, as far as a host can tell: creates HostShims on one host from its
// own process (its own pool, its own per-host queue) and prints what happened as one JSON line.
// Used by the integration test that runs two of these at once against one lab host.
//
//   node dist/test/support/shimWorker.js '{"connection": {...}, "shims": [{"name": ..., ...}]}'

import { hostShimProvider } from "../../provider/resources/link/hostShim";
import { closeAllSessions } from "../../provider/ssh/pool";

interface Job {
  connection: Record<string, unknown>;
  shims: { name: string; parent: string; address: string; routes: string[] }[];
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as Job;
  const failures: string[] = [];
  // All at once, as Pulumi would run independent resources: the process's own queue orders them.
  await Promise.all(
    job.shims.map(async (shim) => {
      try {
        const checked = await hostShimProvider.check({}, { connection: job.connection, ...shim });
        if (checked.failures?.length) throw new Error(JSON.stringify(checked.failures));
        await hostShimProvider.create(checked.inputs);
      } catch (err) {
        failures.push(`${shim.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  closeAllSessions();
  process.stdout.write(`${JSON.stringify({ created: job.shims.length - failures.length, failures })}\n`);
}

void main();
