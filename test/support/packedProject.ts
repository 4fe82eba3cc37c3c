// A scratch project with this package installed the way a user gets it: `npm pack` of the tree,
// then `npm install` of that tarball (and the project's other dependencies) in a folder of its own.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The repository root (this file runs from dist/test/support). */
export const PACKAGE_ROOT = path.resolve(__dirname, "..", "..", "..");

/** The version of `pkg` this checkout has installed, to pin the scratch project to the same. */
export function installedVersion(pkg: string): string {
  return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * Packs the package into `work` and installs the tarball with `dependencies` (npm specs) into
 * `work/<folder>`, which must not exist yet; returns that folder.
 */
export function installPackedProject(work: string, folder: string, dependencies: string[], timeoutMs: number): string {
  const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], { cwd: PACKAGE_ROOT, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop();
  if (!tarball) throw new Error("npm pack printed no tarball name");
  const project = path.join(work, folder);
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "scratch", private: true, version: "0.0.0" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(work, tarball), ...dependencies], {
    cwd: project,
    stdio: "ignore",
    timeout: timeoutMs,
  });
  return project;
}
