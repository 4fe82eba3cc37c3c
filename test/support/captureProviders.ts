// A Pulumi program run under `pulumi.runtime.setMocks`, in the project folder given: it declares
// the resources described in a JSON file and writes what the engine would receive for each
// (type and inputs, including the serialized `__provider`). Run as a child process so that
// "pulumi-underlay" and @pulumi/pulumi resolve exactly as they would for that project.
//
//   node captureProviders.js PROJECT_DIR SPEC_JSON OUT_JSON

import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";

interface ResourceSpec {
  kind: "MacvlanNetwork" | "HostShim";
  name: string;
  args: Record<string, unknown>;
}

interface Captured {
  type: string;
  inputs: Record<string, unknown>;
}

type PulumiModule = typeof import("@pulumi/pulumi");
type UnderlayModule = typeof import("../../provider");

async function main(): Promise<void> {
  const [projectDir, specFile, outFile] = process.argv.slice(2);
  const projectRequire = createRequire(path.join(path.resolve(projectDir), "package.json"));
  const pulumi = projectRequire("@pulumi/pulumi") as PulumiModule;
  const captured: Record<string, Captured> = {};

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        captured[args.name] = { type: args.type, inputs: args.inputs as Record<string, unknown> };
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call(args) {
        return args.inputs;
      },
    },
    "underlay-test",
    "dev",
    false,
  );

  const underlay = projectRequire("pulumi-underlay") as UnderlayModule;
  const specs = JSON.parse(fs.readFileSync(specFile, "utf8")) as ResourceSpec[];
  const waits = specs.map((spec) => {
    const resource =
      spec.kind === "MacvlanNetwork"
        ? new underlay.MacvlanNetwork(spec.name, spec.args as unknown as import("../../provider").MacvlanNetworkArgs)
        : new underlay.HostShim(spec.name, spec.args as unknown as import("../../provider").HostShimArgs);
    return new Promise<void>((resolve) => resource.urn.apply(() => resolve()));
  });
  await Promise.all(waits);
  fs.writeFileSync(outFile, JSON.stringify(captured));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
