#!/usr/bin/env bash
# The main job: start a lab Docker host on this machine, `pulumi up` the quickstart stack against
# it with a local backend, show that the host reaches its macvlan container through the shim,
# then `pulumi destroy` and stop the lab. Run as root from anywhere.
#
# It uses the `pulumi` on PATH if there is one; otherwise it builds the pinned engine
# (tools/engine/build.sh) and uses that, with a throwaway PULUMI_HOME.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
example=$repo/examples/quickstart

if [[ $(id -u) -ne 0 ]]; then
  echo "quickstart: run as root: the lab host is a network namespace with its own sshd and dockerd" >&2
  exit 2
fi
say() { printf '\n\033[1mquickstart: %s\033[0m\n' "$*"; }

bash test/lab/netns-lab.sh deps
npm ci --no-audit --no-fund
npm run build

lab=$(mktemp -d /tmp/underlay-quickstart.XXXXXX)
rmdir "$lab"
export PULUMI_SKIP_UPDATE_CHECK=true
if command -v pulumi >/dev/null 2>&1; then
  say "using the Pulumi CLI on PATH: $(command -v pulumi)"
else
  bash tools/engine/build.sh
  PATH="$(bash tools/engine/build.sh --print-path):$PATH"
  export PATH PULUMI_HOME=$lab.pulumi-home
  say "using the engine built from its Go modules: $(command -v pulumi) ($(pulumi version))"
fi

stack_made=0
cleanup() {
  local rc=$?
  set +e
  if ((stack_made)); then
    nsenter --net="/var/run/netns/$netns" docker -H "unix://$sock" rm -f quickstart-app >/dev/null 2>&1
    (cd "$example" && pulumi destroy --yes --skip-preview --stack lab >/dev/null 2>&1)
    rm -f "$example/Pulumi.lab.yaml"
  fi
  bash "$repo/test/lab/netns-lab.sh" down "$lab" >/dev/null 2>&1
  rm -rf "${PULUMI_HOME:-/nonexistent}" "$lab.state"
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
sock=$(field hosts.0.dockerSocket)
image=$(field image)
lab_docker() { nsenter --net="/var/run/netns/$netns" docker -H "unix://$sock" "$@"; }
# What the lab host has: its Docker networks, links, addresses and routes.
host_state() {
  lab_docker network ls --format '{{.Name}} {{.Driver}}' | sort
  nsenter --net="/var/run/netns/$netns" sh -c 'ip -br link | sed "s/@[^ ]*//"; ip -br address; ip route; ip -6 route' | sort
}
host_state >"$lab/host-before"

mkdir -p "$lab.state"
export PULUMI_BACKEND_URL="file://$lab.state"
export PULUMI_CONFIG_PASSPHRASE=quickstart-lab
cd "$example"
pulumi stack init lab --non-interactive
stack_made=1
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
pulumi config set --stack lab underlay:image "$image"

docker_plugin=0
if command -v pulumi-resource-docker >/dev/null 2>&1 || [[ -n $(find "${PULUMI_HOME:-$HOME/.pulumi}/plugins" -maxdepth 1 -name 'resource-docker-*' 2>/dev/null) ]]; then
  docker_plugin=1
  pulumi config set --stack lab underlay:dockerHost "ssh://root@127.0.0.1:$port"
  pulumi config set --stack lab --path 'underlay:dockerSshOpts[0]' -- -i
  pulumi config set --stack lab --path 'underlay:dockerSshOpts[1]' "$key"
  pulumi config set --stack lab --path 'underlay:dockerSshOpts[2]' -- -oStrictHostKeyChecking=accept-new
  pulumi config set --stack lab --path 'underlay:dockerSshOpts[3]' -- "-oUserKnownHostsFile=$lab/known_hosts"
else
  say "no @pulumi/docker provider plugin here (its Go module cannot be fetched on this machine):
  the stack makes the network and the shim; the container is started with 'docker run' on the lab host instead"
fi

say "pulumi up"
pulumi up --yes --stack lab
pulumi stack output --stack lab
network=$(pulumi stack output --stack lab networkName)

if ((!docker_plugin)); then
  say "docker run --network $network --ip 198.51.100.130 (on the lab host, outside the stack)"
  lab_docker run -d --name quickstart-app --network "$network" --ip 198.51.100.130 "$image" httpd -f -p 80
fi

say "pulumi preview right after up (expect no changes)"
pulumi preview --stack lab --diff --expect-no-changes

say "from the lab host, through the shim: ping and fetch the container at 198.51.100.130"
deadline=$((SECONDS + 30))
until nsenter --net="/var/run/netns/$netns" ping -c 1 -W 1 198.51.100.130; do
  ((SECONDS < deadline)) || { echo "quickstart: the container never answered" >&2; exit 1; }
done
nsenter --net="/var/run/netns/$netns" ip route get 198.51.100.130
lab_docker exec quickstart-app sh -c 'echo "hello from $(hostname) on the LAN" > index.html' 2>/dev/null || true
nsenter --net="/var/run/netns/$netns" wget -qO- http://198.51.100.130/ 2>/dev/null || nsenter --net="/var/run/netns/$netns" busybox wget -qO- http://198.51.100.130/ || true

say "pulumi destroy"
if ((!docker_plugin)); then lab_docker rm -f quickstart-app; fi
pulumi destroy --yes --stack lab
pulumi stack rm --yes --stack lab
stack_made=0
rm -f "$example/Pulumi.lab.yaml"
host_state >"$lab/host-after"
if ! diff -u "$lab/host-before" "$lab/host-after"; then
  echo "quickstart: the lab host is not as it was before 'pulumi up' (diff above)" >&2
  exit 1
fi
say "done: the lab host's networks, links, addresses and routes are as before 'pulumi up'; stopping the lab"
