// The language host's translation of the engine's RunRequest into `node <sdk>/cmd/run` flags and
// environment. The engine suite proves the whole path; these pin the rules it relies on.

import { strict as assert } from "node:assert";
import * as langproto from "@pulumi/pulumi/proto/language_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { runArguments, runEnvironment } from "../../../../tools/engine/languageHost";

function request(opts: { typescript?: boolean; tsconfig?: string; entry?: string; dryRun?: boolean }): langproto.RunRequest {
  const info = new langproto.ProgramInfo()
    .setRootDirectory("/p")
    .setProgramDirectory("/p/prog")
    .setEntryPoint(opts.entry ?? ".");
  const options: Record<string, unknown> = {};
  if (opts.typescript !== undefined) options.typescript = opts.typescript;
  if (opts.tsconfig !== undefined) options.tsconfig = opts.tsconfig;
  info.setOptions(Struct.fromJavaScript(options as Record<string, never>));
  const req = new langproto.RunRequest()
    .setProject("proj")
    .setStack("dev")
    .setMonitorAddress("127.0.0.1:1")
    .setOrganization("org")
    .setParallel(8)
    .setDryrun(opts.dryRun ?? false)
    .setInfo(info)
    .setConfigsecretkeysList(["proj:secret"]);
  req.getConfigMap().set("proj:a", "1").set("proj:secret", "s");
  return req;
}

describe("tools/engine language host", () => {
  it("passes the request's settings as cmd/run flags, the entry point last", () => {
    assert.deepEqual(runArguments(request({ entry: "index.ts", dryRun: true }), "/sdk/cmd/run", "127.0.0.1:2"), [
      "/sdk/cmd/run",
      "--monitor=127.0.0.1:1",
      "--engine=127.0.0.1:2",
      "--organization=org",
      "--project=proj",
      "--stack=dev",
      "--root-directory=/p",
      "--pwd=/p/prog",
      "--dry-run",
      "--parallel=8",
      "index.ts",
    ]);
  });

  it("defaults the entry point to the program folder and leaves out --dry-run on up", () => {
    const args = runArguments(request({}), "/sdk/cmd/run", "e");
    assert.equal(args[args.length - 1], ".");
    assert.ok(!args.includes("--dry-run"));
  });

  it("hands config and secret keys over as JSON, TypeScript on unless turned off", () => {
    const env = runEnvironment(request({}), {});
    assert.deepEqual(JSON.parse(env.PULUMI_CONFIG ?? ""), { "proj:a": "1", "proj:secret": "s" });
    assert.deepEqual(JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS ?? ""), ["proj:secret"]);
    assert.equal(env.PULUMI_NODEJS_TYPESCRIPT, "true");
    assert.equal(env.PULUMI_NODEJS_TSCONFIG_PATH, undefined);
    const off = runEnvironment(request({ typescript: false, tsconfig: "tsconfig.pulumi.json" }), {});
    assert.equal(off.PULUMI_NODEJS_TYPESCRIPT, "false");
    assert.equal(off.PULUMI_NODEJS_TSCONFIG_PATH, "tsconfig.pulumi.json");
  });
});
