#!/usr/bin/env bash
# Builds the pinned Pulumi engine into .engine/bin (git-ignored) and prints what it built.
#
#   tools/engine/build.sh          build what is missing or stale, reuse the rest
#   tools/engine/build.sh --print-path   print the bin folder only (for PATH=...)
#
# What lands in .engine/bin:
#   pulumi                           the CLI, `go build` of github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
#                                    at the version tools/engine/go.mod pins (the one pin file)
#   pulumi-language-nodejs           the project's own Node.js language host (languageHost.ts):
#                                    Pulumi's Go one is not served by the module proxy here
#   pulumi-resource-pulumi-nodejs    the dynamic-provider launcher: node @pulumi/pulumi/cmd/dynamic-provider,
#                                    resolved from the folder the engine starts it in (the program's)
#   pulumi-resource-docker           only if github.com/pulumi/pulumi-docker/provider/v4 can be fetched;
#                                    the build says so either way
#
# A second run reuses everything whose inputs (go.mod, go.sum, languageHost.ts, this script)
# did not change. Needs Go (any 1.26) and the Go module proxy, node, and `npm ci` done.
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$repo/.engine
bin=$out/bin

if [[ ${1:-} == --print-path ]]; then
  echo "$bin"
  exit 0
fi

log() { printf '[engine] %s\n' "$*" >&2; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

command -v go >/dev/null || die "go is not on PATH (the project's machines have Go 1.26)"
command -v node >/dev/null || die "node is not on PATH"
[[ -d $repo/node_modules/@pulumi/pulumi ]] || die "run npm ci in $repo first"

t_all=$(now)
mkdir -p "$bin"
pulumi_version=$(awk '$1 == "require" && $2 == "github.com/pulumi/pulumi/pkg/v3" { print $3 }' "$here/go.mod")
[[ -n $pulumi_version ]] || die "tools/engine/go.mod pins no github.com/pulumi/pulumi/pkg/v3"

# The CLI must be no older than the SDK the project installs.
sdk_version=$(node -p 'require(process.argv[1]).version' "$repo/node_modules/@pulumi/pulumi/package.json")
node -e '
  const [cli, sdk] = process.argv.slice(1).map((v) => v.replace(/^v/, "").split(".").map(Number));
  for (let i = 0; i < 3; i++) { if (cli[i] !== sdk[i]) process.exit(cli[i] > sdk[i] ? 0 : 1); }
' "$pulumi_version" "$sdk_version" ||
  die "the pinned CLI $pulumi_version is older than @pulumi/pulumi $sdk_version: raise it in tools/engine/go.mod"

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# --- CLI ---------------------------------------------------------------------------------
cli_stamp=$(stamp_of "$here/go.mod" "$here/go.sum")
if [[ -x $bin/pulumi && "$(cat "$out/pulumi.stamp" 2>/dev/null)" == "$cli_stamp" ]]; then
  log "pulumi CLI $pulumi_version: reused ($bin/pulumi)"
else
  t=$(now)
  log "pulumi CLI $pulumi_version: building (the first time on a machine: about 6 min on 2 cores)"
  (cd "$here" && go build -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version" \
    -o "$bin/pulumi.new" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$bin/pulumi.new" "$bin/pulumi"
  echo "$cli_stamp" >"$out/pulumi.stamp"
  log "pulumi CLI $pulumi_version: built in $(since "$t")"
fi

# --- Node.js language host ---------------------------------------------------------------
# The wrapper names $out by its absolute path: a tree moved or copied elsewhere rebuilds it.
host_stamp=$( (cat "$here/languageHost.ts" "$0" "$repo/package-lock.json" "$here/go.mod" && echo "$out") | sha256sum | cut -c1-16)
if [[ -x $bin/pulumi-language-nodejs && "$(cat "$out/language.stamp" 2>/dev/null)" == "$host_stamp" ]]; then
  log "pulumi-language-nodejs: reused"
else
  t=$(now)
  # Compiled next to the repo's node_modules, so @grpc/grpc-js and @pulumi/pulumi resolve.
  (cd "$repo" && npx tsc --strict --target ES2022 --module commonjs --esModuleInterop --skipLibCheck \
    --types node --outDir "$out/lib" "$here/languageHost.ts")
  # The version it reports is the CLI's, from go.mod (the one pin file).
  cat >"$bin/pulumi-language-nodejs" <<SH
#!/bin/sh
UNDERLAY_ENGINE_VERSION=${pulumi_version#v} exec node "$out/lib/languageHost.js" "\$@"
SH
  chmod 0755 "$bin/pulumi-language-nodejs"
  echo "$host_stamp" >"$out/language.stamp"
  log "pulumi-language-nodejs: built in $(since "$t")"
fi

# --- dynamic-provider launcher -----------------------------------------------------------
cat >"$bin/pulumi-resource-pulumi-nodejs" <<'SH'
#!/bin/sh
# Pulumi's dynamic-provider plugin: @pulumi/pulumi's cmd/dynamic-provider, run with node and
# resolved from the folder the engine starts the plugin in (the program's folder).
entry=$(node -p 'require.resolve("@pulumi/pulumi/cmd/dynamic-provider/index.js", { paths: [process.cwd()] })') || {
  echo "pulumi-resource-pulumi-nodejs: @pulumi/pulumi is not installed in $(pwd)" >&2
  exit 1
}
exec node "$entry" "$@"
SH
chmod 0755 "$bin/pulumi-resource-pulumi-nodejs"
log "pulumi-resource-pulumi-nodejs: written"

# --- Docker provider ---------------------------------------------------------------------
docker_sdk=$(node -p 'require(process.argv[1]).version' "$repo/node_modules/@pulumi/docker/package.json" 2>/dev/null || true)
if [[ -x $bin/pulumi-resource-docker ]]; then
  log "pulumi-resource-docker: reused"
elif [[ -n $docker_sdk ]]; then
  docker_mod="github.com/pulumi/pulumi-docker/provider/v${docker_sdk%%.*}@v$docker_sdk"
  if probe=$(cd "$here" && GOFLAGS=-mod=mod go mod download -json "$docker_mod" 2>&1); then
    log "pulumi-resource-docker: NOT built: $docker_mod is served by the Go module proxy now, but this script does not build it yet (the engine runs without it, as when it is refused)"
  else
    reason=$(printf '%s\n' "$probe" | grep -m1 -oE '[0-9]{3} [A-Z][a-z]+' || printf 'refused')
    reason+=$(printf '%s\n' "$probe" | grep -m1 -oE 'server response: [^"]*' | sed 's/^/: /' || true)
    log "pulumi-resource-docker: NOT built: the Go module proxy refuses $docker_mod ($reason)"
  fi
fi

log "engine ready in $(since "$t_all"): $bin"
"$bin/pulumi" version >&2
