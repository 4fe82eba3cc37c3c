#!/usr/bin/env bash
# The whole test suite on a fresh machine, as root: Debian packages, npm ci, build, the pinned
# Pulumi engine (tools/engine/build.sh), the unit tests, then the integration and engine tests
# against lab hosts that the suite starts and stops itself. Ends with each step's time.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "run the test suite as root: the lab creates network namespaces and runs dockerd and sshd" >&2
  exit 2
fi

timings=()
timed() {
  local label=$1 t0=$SECONDS rc=0
  shift
  "$@" || rc=$?
  timings+=("$(printf '%-18s %5d s' "$label" $((SECONDS - t0)))")
  return "$rc"
}

set -e
timed setup bash -c 'bash test/lab/netns-lab.sh deps && npm ci --no-audit --no-fund && npm run build'
timed engine-build bash tools/engine/build.sh
set +e

# Whatever happens to mocha, leave no netns lab of this run behind (VM labs have their own
# watchdog). Each lab this run starts registers its dir in ULAB_RUN_REGISTRY (netns-lab.sh
# up); only those are torn down, never the labs of another run on the same machine.
ULAB_RUN_REGISTRY=$(mktemp /tmp/ulab-run-XXXXXX)
export ULAB_RUN_REGISTRY
down_this_runs_labs() {
  local dir
  while read -r dir; do
    [[ -n "$dir" ]] && bash test/lab/netns-lab.sh down "$dir" >/dev/null 2>&1
  done <"$ULAB_RUN_REGISTRY"
  rm -f "$ULAB_RUN_REGISTRY"
}
trap down_this_runs_labs EXIT

summary=$(mktemp)
run_suite() {
  local label=$1
  shift
  SUMMARY_LABEL=$label npx mocha --reporter ./dist/test/support/summaryReporter.js "$@" | tee -a "$summary"
  return "${PIPESTATUS[0]}"
}

status=0
timed unit run_suite unit 'dist/test/unit/**/*.test.js' || status=1
# Network-namespace lab hosts (the machine's own kernel): macvlan, shims, transport, serialization,
# and the hardening suite's own tests (test/hardening: concurrency, secrets, faults).
LAB_KIND=netns timed integration-netns run_suite integration-netns --require dist/test/integration/fixture.js 'dist/test/integration/*.test.js' 'dist/test/integration/netns/*.test.js' 'dist/test/hardening/*.test.js' || status=1
# The real Pulumi engine (the CLI built above) driving stacks against a netns lab host.
timed engine-netns run_suite engine-netns 'dist/test/engine/*.test.js' || status=1
# Full-kernel VM lab hosts (qemu): the same suite again on Docker 26, plus VLANs, ipvlan,
# reboots, and the engine's ordering of a VLAN link and its network. A machine that cannot
# build or boot the VM fails here loudly; nothing is skipped.
LAB_KIND=vm timed integration-vm run_suite integration-vm --require dist/test/integration/fixture.js 'dist/test/integration/*.test.js' 'dist/test/integration/vm/*.test.js' 'dist/test/hardening/vm/*.test.js' 'dist/test/engine/vm/*.test.js' || status=1

passed=$(grep -E '^[a-z-]+: [0-9]+ passed' "$summary" | awk '{s += $2} END {print s + 0}')
failed=$(grep -E '^[a-z-]+: [0-9]+ passed' "$summary" | awk '{s += $4} END {print s + 0}')
rm -f "$summary"
echo
echo "time per step:"
printf '  %s\n' "${timings[@]}"
echo
echo "all: $passed passed, $failed failed"
exit "$status"
