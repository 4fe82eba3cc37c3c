// Every example type-checks against the package as published: `npm pack` of this tree, installed
// into a scratch project with the example's other dependencies, and the examples compiled there
// with tsc (strict). A type the examples use but the package does not export, or a d.ts that
// points into the source tree, fails here while the in-tree build still passes.

import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installedVersion, installPackedProject } from "../../support/packedProject";

const REPO = path.resolve(__dirname, "..", "..", "..", "..");

describe("examples against the npm pack tarball", function () {
  this.timeout(600_000);
  let work: string;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ulab-examples-pack-"));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it("type-checks every examples/* program with only the tarball and the example's own dependencies", () => {
    const scratch = installPackedProject(
      work,
      "project",
      [`@pulumi/docker@${installedVersion("@pulumi/docker")}`, `@types/node@${installedVersion("@types/node")}`],
      300_000,
    );
    const examples = fs.readdirSync(path.join(REPO, "examples")).filter((e) => fs.existsSync(path.join(REPO, "examples", e, "index.ts")));
    assert.ok(examples.length >= 9, `only ${examples.length} examples: ${examples.join(", ")}`);
    for (const e of examples) {
      fs.mkdirSync(path.join(scratch, e));
      fs.copyFileSync(path.join(REPO, "examples", e, "index.ts"), path.join(scratch, e, "index.ts"));
    }
    fs.writeFileSync(
      path.join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "commonjs",
          moduleResolution: "node",
          strict: true,
          noEmit: true,
          esModuleInterop: true,
          skipLibCheck: true,
          types: ["node"],
        },
        include: examples.map((e) => `${e}/index.ts`),
      }),
    );
    const tsc = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
    try {
      execFileSync(process.execPath, [tsc, "-p", scratch], { cwd: scratch, encoding: "utf8" });
    } catch (err) {
      assert.fail(`examples do not type-check against the tarball:\n${(err as { stdout?: string }).stdout ?? err}`);
    }
    // Resolved from the tarball, not the tree.
    assert.ok(fs.existsSync(path.join(scratch, "node_modules", "pulumi-underlay", "dist", "provider", "index.d.ts")));
    assert.ok(!fs.lstatSync(path.join(scratch, "node_modules", "pulumi-underlay")).isSymbolicLink());
  });
});
