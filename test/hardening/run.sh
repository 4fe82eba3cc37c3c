#!/usr/bin/env bash
# `npm run test:hardening`: the hardening figures of issue 10 measured on a netns lab host (and,
# with --vm, the least-privilege ones on a VM lab host), printed as one table. Fails when any
# figure is off, any test failed, or a section this run should measure recorded nothing.
#
#   bash test/hardening/run.sh            netns lab: hostile input, secrets, concurrency, faults
#   bash test/hardening/run.sh --vm       also the VM lab: least privilege (sudo), test/hardening/vm
#   bash test/hardening/run.sh --no-engine  leave out the real engine's `pulumi stack export` scan
set -uo pipefail
cd "$(dirname "$0")/../.."

vm=0
engine=1
for arg in "$@"; do
  case $arg in
    --vm) vm=1 ;;
    --no-engine) engine=0 ;;
    *) echo "unknown option $arg (use --vm, --no-engine)" >&2; exit 2 ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then
  echo "run as root: the lab creates network namespaces and runs dockerd and sshd" >&2
  exit 2
fi

set -e
bash test/lab/netns-lab.sh deps
# A checkout that has its dependencies keeps them (a worktree may share another's node_modules).
[[ -d node_modules/@pulumi/pulumi ]] || npm ci --no-audit --no-fund
npm run build
if ((engine)); then bash tools/engine/build.sh; fi
set +e

# As in test/run-all.sh: only the netns labs this run started are torn down, whatever happens.
ULAB_RUN_REGISTRY=$(mktemp /tmp/ulab-run-XXXXXX)
export ULAB_RUN_REGISTRY
HARDENING_FIGURES=$(mktemp /tmp/hardening-figures-XXXXXX)
export HARDENING_FIGURES
cleanup() {
  local dir
  while read -r dir; do
    [[ -n "$dir" ]] && bash test/lab/netns-lab.sh down "$dir" >/dev/null 2>&1
  done <"$ULAB_RUN_REGISTRY"
  rm -f "$ULAB_RUN_REGISTRY" "$HARDENING_FIGURES"
}
trap cleanup EXIT

# The files that record figures.
netns_files=(dist/test/unit/hostileInput.test.js dist/test/unit/safeMessages.test.js dist/test/hardening/*.test.js
  dist/test/integration/{hardening,deadlines,resume,deadman}.test.js)
expect=("hostile input" "secrets" "concurrency" "faults")
not_run=()

failed=0
LAB_KIND=netns npx mocha --require dist/test/integration/fixture.js "${netns_files[@]}" || failed=$((failed + 1))
if ((engine)); then
  npx mocha dist/test/engine/stack.test.js || failed=$((failed + 1))
fi
if ((vm)); then
  vm_files=(dist/test/integration/vm/sudo.test.js dist/test/hardening/vm/*.test.js)
  LAB_KIND=vm npx mocha --require dist/test/integration/fixture.js "${vm_files[@]}" || failed=$((failed + 1))
  expect+=("least privilege")
else
  not_run+=("least privilege=VM lab: run with --vm")
fi

echo
IFS=,
node dist/test/hardening/table.js "$HARDENING_FIGURES" --expect "${expect[*]}" --failed-suites "$failed" --not-run "${not_run[*]}"
exit $?
