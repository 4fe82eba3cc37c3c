// One example program's run as the engine suites check it, on netns and VM labs alike: `up`, a
// `preview` that shows no change, the example's own point (`prove`), `destroy`, and every host
// as it was before, with no connection attempted by the engine.

import { strict as assert } from "node:assert";
import type { ConfigMap, OutputMap } from "@pulumi/pulumi/automation";
import { snapshotHost } from "../integration/fixture";
import type { LabHost } from "../lab/types";
import { changesIn, type EngineStack, type NetworkCanary, openStack } from "./engine";

export interface ExampleRun {
  program: string;
  config: ConfigMap;
  canary: NetworkCanary;
  /** The hosts the example changes; each must end as it began. */
  hosts: LabHost[];
  prove: (outputs: OutputMap, es: EngineStack) => Promise<void>;
}

export async function runExample(run: ExampleRun): Promise<void> {
  const before = await Promise.all(run.hosts.map(snapshotHost));
  let es: EngineStack | undefined;
  try {
    es = await openStack({ program: run.program, canary: run.canary, config: run.config });
    const up = await es.stack.up({ onOutput: (s) => es?.output.push(s) });
    assert.equal(up.summary.result, "succeeded");
    const preview = await es.stack.preview({ onOutput: (s) => es?.output.push(s) });
    assert.deepEqual(changesIn(preview.changeSummary), {}, "a preview right after up shows changes");
    await run.prove(up.outputs, es);
    const down = await es.stack.destroy({ onOutput: (s) => es?.output.push(s) });
    assert.equal(down.summary.result, "succeeded");
    assert.deepEqual(await Promise.all(run.hosts.map(snapshotHost)), before);
    assert.deepEqual(run.canary.attempts, []);
  } finally {
    await es?.stack.destroy().catch(() => undefined);
    await es?.remove();
  }
}

/** An example whose `up` must fail with `message`, leaving the hosts as they were. */
export async function refusedExample(run: Omit<ExampleRun, "prove"> & { message: RegExp }): Promise<void> {
  const before = await Promise.all(run.hosts.map(snapshotHost));
  let es: EngineStack | undefined;
  try {
    es = await openStack({ program: run.program, canary: run.canary, config: run.config });
    const output: string[] = [];
    await assert.rejects(es.stack.up({ onOutput: (s) => output.push(s) }));
    assert.match(output.join(""), run.message);
    assert.deepEqual(await Promise.all(run.hosts.map(snapshotHost)), before);
    assert.deepEqual(run.canary.attempts, []);
  } finally {
    await es?.stack.destroy().catch(() => undefined);
    await es?.remove();
  }
}
