// The project's own Node.js language host (`pulumi-language-nodejs`) for the Pulumi CLI that
// tools/engine/build.sh builds. Pulumi's Go language host (module
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served by the Go
// module proxy these machines reach, so this stands in for it. It follows the same contract:
// the engine starts it with the engine's address as the last argument, it prints the port of
// its gRPC server on stdout, and `Run` starts `@pulumi/pulumi/cmd/run` with node, resolved from
// the program's folder, with the request's settings as flags and its config in
// PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS. That `run` entry point is the one Pulumi's own
// host starts, so the program runs exactly as it would under a released CLI.
//
// Deliberately absent: plugin discovery. GetRequiredPlugins and GetRequiredPackages answer
// with nothing, so the engine never tries to download a plugin; the plugins a program needs
// are found on PATH when it registers a resource (what build.sh puts in .engine/bin: see the
// header of tools/engine/build.sh).
import { spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as langrpc from "@pulumi/pulumi/proto/language_grpc_pb";
import * as langproto from "@pulumi/pulumi/proto/language_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import type { Empty } from "google-protobuf/google/protobuf/empty_pb";

// The version of the CLI it serves: tools/engine/go.mod pins it (the one pin file), and the
// wrapper build.sh writes passes it in.
const hostVersion = process.env.UNDERLAY_ENGINE_VERSION ?? "0.0.0";

/** The `@pulumi/pulumi` package a program in `programDirectory` would load. */
function resolveSdkFile(programDirectory: string, file: string): string {
  return require.resolve(`@pulumi/pulumi/${file}`, { paths: [programDirectory] });
}

function programOptions(info: langproto.ProgramInfo | undefined): Record<string, unknown> {
  const options = info?.getOptions()?.toJavaScript();
  return options ?? {};
}

/** argv for `node <sdk>/cmd/run ...`, in the shape `cmd/run`'s own usage text documents. */
export function runArguments(req: langproto.RunRequest, runPath: string, engineAddress: string): string[] {
  const args = [runPath];
  const flag = (name: string, value: string): void => {
    if (value !== "") args.push(`--${name}=${value}`);
  };
  const info = req.getInfo();
  flag("monitor", req.getMonitorAddress());
  flag("engine", engineAddress);
  flag("organization", req.getOrganization());
  flag("project", req.getProject());
  flag("stack", req.getStack());
  flag("root-directory", info?.getRootDirectory() ?? "");
  flag("pwd", info?.getProgramDirectory() || req.getPwd());
  if (req.getDryrun()) args.push("--dry-run");
  if (req.getParallel() > 0) flag("parallel", String(req.getParallel()));
  const entry = info?.getEntryPoint() || req.getProgram() || ".";
  args.push(entry, ...req.getArgsList());
  return args;
}

/** The environment `cmd/run` reads its config and TypeScript settings from. */
export function runEnvironment(req: langproto.RunRequest, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const config: Record<string, string> = {};
  for (const [key, value] of req.getConfigMap().entries()) config[key] = value;
  const options = programOptions(req.getInfo());
  const env: NodeJS.ProcessEnv = {
    ...base,
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
    // Pulumi.yaml's `runtime.options.typescript` defaults to true, as in Pulumi's own host.
    PULUMI_NODEJS_TYPESCRIPT: options.typescript === false ? "false" : "true",
  };
  if (typeof options.tsconfig === "string") env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
  return env;
}

function runProgram(req: langproto.RunRequest, engineAddress: string): Promise<string> {
  const programDirectory = req.getInfo()?.getProgramDirectory() || req.getPwd() || process.cwd();
  let runPath: string;
  try {
    runPath = path.dirname(resolveSdkFile(programDirectory, "cmd/run/index.js"));
  } catch {
    return Promise.resolve(`@pulumi/pulumi is not installed where the program is (${programDirectory}): run npm ci there`);
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, runArguments(req, runPath, engineAddress), {
      cwd: programDirectory,
      env: runEnvironment(req, process.env),
      // The program's own output goes where the engine reads this plugin's output.
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", (err) => resolve(`could not start node: ${err.message}`));
    child.on("exit", (code, signal) => {
      if (code === 0) resolve("");
      else resolve(signal ? `Program exited on signal ${signal}` : `Program exited with non-zero exit code: ${code}`);
    });
  });
}

function serve(engineAddress: string): void {
  const server = new grpc.Server();
  const impl: Partial<langrpc.ILanguageRuntimeServer> = {
    handshake: (_call, callback) => callback(null, new langproto.LanguageHandshakeResponse()),
    getPluginInfo: (_call: grpc.ServerUnaryCall<Empty, plugproto.PluginInfo>, callback) =>
      callback(null, new plugproto.PluginInfo().setVersion(hostVersion)),
    getRequiredPlugins: (_call, callback) => callback(null, new langproto.GetRequiredPluginsResponse()),
    getRequiredPackages: (_call, callback) => callback(null, new langproto.GetRequiredPackagesResponse()),
    getProgramDependencies: (_call, callback) => callback(null, new langproto.GetProgramDependenciesResponse()),
    about: (_call, callback) => callback(null, new langproto.AboutResponse().setExecutable(process.execPath).setVersion(process.version)),
    // Dependencies are the project's business (npm ci), never the engine's.
    installDependencies: (call) => call.end(),
    run: (call, callback) => {
      runProgram(call.request, engineAddress).then(
        (error) => callback(null, new langproto.RunResponse().setError(error)),
        (err: unknown) => callback(null, new langproto.RunResponse().setError(String(err))),
      );
    },
  };
  server.addService(langrpc.LanguageRuntimeService, impl as grpc.UntypedServiceImplementation);
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`pulumi-language-nodejs: could not listen: ${err.message}\n`);
      process.exit(1);
    }
    // The engine reads the port from our first line of output.
    process.stdout.write(`${port}\n`);
  });
}

if (require.main === module) {
  // The engine passes flags (e.g. --tracing) first and its own address last.
  const engineAddress =
    process.argv
      .slice(2)
      .filter((a) => !a.startsWith("-"))
      .pop() ?? "";
  serve(engineAddress);
}
