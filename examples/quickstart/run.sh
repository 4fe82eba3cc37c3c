#!/usr/bin/env bash
# The main job: start a lab Docker host on this machine, `pulumi up` the quickstart stack against
# it with a local backend, show that the host reaches its macvlan container through the shim,
# then destroy the stack and stop the lab. Run as root from anywhere.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "quickstart: run as root: the lab host is a network namespace with its own sshd and dockerd" >&2
  exit 2
fi
if ! command -v pulumi >/dev/null 2>&1; then
  cat >&2 <<'MSG'
quickstart: the Pulumi CLI is not installed (no `pulumi` on PATH), so there is nothing to run
`pulumi up` with. Install it (https://www.pulumi.com/docs/install/), then run this again.
Nothing was started. (The test suite, `npm test`, does not need the CLI.)
MSG
  exit 3
fi

bash test/lab/netns-lab.sh deps
npm ci --no-audit --no-fund
npm run build

lab=$(mktemp -d /tmp/underlay-quickstart.XXXXXX)
rmdir "$lab"
cleanup() {
  local rc=$?
  if [[ -n ${PULUMI_BACKEND_URL:-} ]]; then
    pulumi destroy --yes --skip-preview --stack lab >/dev/null 2>&1 || true
  fi
  bash test/lab/netns-lab.sh down "$lab" >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT
bash test/lab/netns-lab.sh up "$lab" 1
labjson=$lab/lab.json
# field hosts.0.ssh.port -> that value of lab.json
field() { node -p 'process.argv[2].split(".").reduce((o, k) => o[k], require(process.argv[1]))' "$labjson" "$1"; }

port=$(field hosts.0.ssh.port)
key=$(field hosts.0.ssh.privateKeyPath)
hostkey=$(field hosts.0.ssh.hostPublicKey)
netns=$(field hosts.0.ns)

mkdir -p "$lab/state"
export PULUMI_BACKEND_URL="file://$lab/state"
export PULUMI_CONFIG_PASSPHRASE=quickstart-lab
pulumi stack init lab --non-interactive
pulumi config set --stack lab underlay:host 127.0.0.1
pulumi config set --stack lab underlay:port "$port"
pulumi config set --stack lab --secret underlay:privateKey <"$key"
pulumi config set --stack lab underlay:hostKey "$hostkey"
pulumi config set --stack lab underlay:parent eth1
pulumi config set --stack lab underlay:subnet 198.51.100.0/24
pulumi config set --stack lab underlay:gateway 198.51.100.1
pulumi config set --stack lab underlay:ipRange 198.51.100.128/26
pulumi config set --stack lab underlay:shimAddress 198.51.100.250
pulumi config set --stack lab underlay:containerIp 198.51.100.130
pulumi config set --stack lab underlay:image "$(field image)"
pulumi config set --stack lab underlay:dockerHost "ssh://root@127.0.0.1:$port"
pulumi config set --stack lab --path 'underlay:dockerSshOpts[0]' -- -i
pulumi config set --stack lab --path 'underlay:dockerSshOpts[1]' "$key"
pulumi config set --stack lab --path 'underlay:dockerSshOpts[2]' -- -oStrictHostKeyChecking=accept-new
pulumi config set --stack lab --path 'underlay:dockerSshOpts[3]' -- "-oUserKnownHostsFile=$lab/known_hosts"

pulumi up --yes --stack lab
pulumi stack output --stack lab

echo "quickstart: pinging the container (198.51.100.130) from the lab host, through the shim:"
nsenter --net="/var/run/netns/$netns" ping -c 2 -W 2 198.51.100.130

echo "quickstart: done; destroying the stack and stopping the lab"
pulumi destroy --yes --stack lab
unset PULUMI_BACKEND_URL
cd "$repo"
