#!/usr/bin/env bash
# Network-namespace lab: disposable "lab hosts" on this machine for integration tests.
#
#   netns-lab.sh deps                 install missing Debian packages (quick when present)
#   netns-lab.sh up DIR [NHOSTS]      build a lab (default 1 host), write DIR/lab.json
#   netns-lab.sh down DIR             tear the lab in DIR down and remove DIR (idempotent)
#   netns-lab.sh down-all             tear down EVERY lab on the machine (namespaces ulab-XXXX-*),
#                                     including labs that other runs are using right now
#   netns-lab.sh sshd-stop|sshd-start|dockerd-stop|dockerd-start DIR HOST
#                                     faults: stop or start host HOST's (h1...) sshd or dockerd
#
# Each lab host is a network namespace with its own sshd (inetd mode, reached through a
# socat listener on 127.0.0.1:<port> in the root namespace), its own containerd and dockerd,
# and a veth "eth1" into a LAN bridge (namespace <p>-lan) that also holds an "external
# device" namespace <p>-ext. Nothing is added to the root namespace's network: no address,
# no route, no interface. See README.md beside this file.
# shellcheck disable=SC2207 # arrays filled from $(...) are pid lists: digits only
set -Eeuo pipefail

readonly LAN_PREFIX=198.51.100          # lab LAN 198.51.100.0/24: a documentation range, never the machine's own
readonly LAN_SUBNET=$LAN_PREFIX.0/24
readonly EXT_IP=$LAN_PREFIX.1           # external device, also the LAN's "gateway" address
readonly LAB_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
readonly REGISTRY=/run/ulab             # <prefix> -> DIR, so down-all can find lab dirs
readonly CACHE=/var/cache/ulab
readonly IMAGE_TAR=$CACHE/busybox.tar
readonly IMAGE=ulab/busybox:latest
readonly DEB_PACKAGES=(docker.io openssh-server openssh-client busybox-static iproute2 socat iputils-ping jq)
readonly APPLETS=(sh ash ip ping sleep wget nc httpd cat ls ifconfig route true false hostname
                  echo env ps kill grep ifup udhcpc arp arping netstat mkdir rm touch test
                  id uname ip6tunnel traceroute nslookup)

log() { printf '[netns-lab %(%T)T] %s\n' -1 "$*" >&2; }
die() { printf '[netns-lab] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2fs", b - a }'; }

# ----------------------------------------------------------------------------------------
# deps

cmd_deps() {
  local missing=() p
  for p in "${DEB_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  log "installing: ${missing[*]}"
  # Keep package scripts from starting the machine's own docker/sshd services.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >&2 || rc=$?
  if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  ((rc == 0)) || die "apt-get install ${missing[*]} failed (exit $rc)"
}

# ----------------------------------------------------------------------------------------
# helpers

check_tools() {
  local t
  for t in ip jq nsenter setsid socat ssh ssh-keygen dockerd containerd docker ss tar timeout unshare flock; do
    command -v "$t" >/dev/null || die "missing command '$t' (run: $0 deps)"
  done
  [[ -x /usr/sbin/sshd ]] || die "missing /usr/sbin/sshd (run: $0 deps)"
}

# Paths end up in sshd_config, socat addresses and JSON: keep them boring.
check_path() {
  [[ "$1" =~ ^/[A-Za-z0-9_./-]+$ ]] || die "unsupported path '$1' (only [A-Za-z0-9_./-] allowed)"
  ((${#1} <= 60)) || die "path '$1' too long (unix socket paths under it must stay < 108 chars)"
}

# Start a detached daemon: no inherited stdio (so callers waiting on our pipes are not held).
spawn() { # pidfile logfile argv...
  local pidfile=$1 logfile=$2
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$pidfile"
  disown $! # not our job any more: no "Killed" notices when down kills it
}

# Running (a zombie counts as gone: pid 1 here may take seconds to reap orphans).
alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}
pidof_file() { [[ -s "$1" ]] && tr -dc 0-9 <"$1" || true; }

build_image_tar() {
  [[ -s $IMAGE_TAR ]] && return 0
  local bb
  bb=$(dpkg -L busybox-static 2>/dev/null | grep -m1 '/bin/busybox$' || true)
  [[ -n "$bb" && -x "$bb" ]] || die "busybox-static's /bin/busybox not found (run: $0 deps)"
  mkdir -p "$CACHE"
  local tmp a
  tmp=$(mktemp -d "$CACHE/build.XXXXXX")
  mkdir -p "$tmp/root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,var/run,run}
  chmod 1777 "$tmp/root/tmp"
  cp "$bb" "$tmp/root/bin/busybox"
  for a in "${APPLETS[@]}"; do ln -s busybox "$tmp/root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tmp/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/root/etc/group"
  tar -C "$tmp/root" --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -cf "$tmp/busybox.tar" .
  mv -f "$tmp/busybox.tar" "$IMAGE_TAR" # atomic for concurrent labs
  rm -rf "$tmp"
  log "built $IMAGE_TAR"
}

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

# ----------------------------------------------------------------------------------------
# up

UP_DIR=""
UP_FAILED_CMD=""
on_up_exit() {
  local rc=$?
  trap - EXIT ERR INT TERM
  if ((rc != 0)); then
    [[ -n "$UP_FAILED_CMD" ]] && printf '[netns-lab] failed command: %s\n' "$UP_FAILED_CMD" >&2
    printf '[netns-lab] up failed (exit %d); cleaning up %s\n' "$rc" "$UP_DIR" >&2
    teardown_dir "$UP_DIR" || true
  fi
  exit "$rc"
}

cmd_up() {
  local dir=${1:?usage: up DIR [NHOSTS]} n=${2:-1}
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 40)) || die "NHOSTS must be 1..40, got '$n'"
  check_tools
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  check_path "$dir"
  [[ ! -e "$dir/prefix" && ! -e "$dir/lab.json" ]] || die "$dir already holds a lab (run: $0 down $dir)"
  local t0 prefix i
  t0=$(now)
  claim_prefix "$dir"
  prefix=$CLAIMED_PREFIX
  UP_DIR=$dir
  trap on_up_exit EXIT
  trap 'UP_FAILED_CMD="$BASH_COMMAND (line $LINENO)"' ERR
  trap 'exit 130' INT TERM
  log "up $prefix in $dir with $n host(s)"

  build_image_tar
  make_lan "$prefix" "$n"
  log "network ready ($(elapsed "$t0"))"
  mkdir -p /run/sshd && chmod 0755 /run/sshd # sshd's privilege-separation dir
  for ((i = 1; i <= n; i++)); do write_host_files "$dir/h$i" "$prefix-h$i"; done
  start_daemons "$dir" "$prefix" "$n"
  log "dockerd ready on $n host(s) ($(elapsed "$t0"))"
  import_image "$dir" "$n"
  log "image $IMAGE imported ($(elapsed "$t0"))"
  start_ssh "$dir" "$prefix" "$n"
  log "ssh ready ($(elapsed "$t0"))"

  write_lab_json "$dir" "$prefix" "$n"
  trap - EXIT ERR INT TERM
  log "lab $prefix up in $(elapsed "$t0"): $dir/lab.json"
}

# Name prefix ulab-<4 hex>, unused by any namespace or registered lab, in CLAIMED_PREFIX.
# Recorded before anything is made, so down and down-all find everything even if up dies
# half-way; with ULAB_RUN_REGISTRY set (test/run-all.sh), the dir is also appended there, so
# that run tears down only the labs it started.
CLAIMED_PREFIX=""
claim_prefix() { # dir
  local dir=$1 prefix=""
  mkdir -p "$REGISTRY"
  for _ in $(seq 1 50); do
    prefix="ulab-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
    if ! ip netns list | grep -q "^$prefix-" && [[ ! -e "$REGISTRY/$prefix" ]]; then break; fi
    prefix=""
  done
  [[ -n "$prefix" ]] || die "could not find a free ulab-XXXX prefix"
  echo "$prefix" >"$dir/prefix"
  echo "$dir" >"$REGISTRY/$prefix"
  if [[ -n "${ULAB_RUN_REGISTRY:-}" ]]; then echo "$dir" >>"$ULAB_RUN_REGISTRY"; fi
  CLAIMED_PREFIX=$prefix
}

# The LAN bridge, the external device and one namespace per host. veth pairs are created
# inside the LAN namespace with the peer directly in the other one: nothing ever appears in
# the root namespace.
make_lan() { # prefix nhosts
  local prefix=$1 n=$2 lan=$1-lan ext=$1-ext i ns
  ip netns add "$lan"
  ip -n "$lan" link set lo up
  ip -n "$lan" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$lan" link set br0 up
  ip netns add "$ext"
  ip -n "$ext" link set lo up
  ip -n "$lan" link add ext type veth peer name eth0 netns "$ext"
  ip -n "$lan" link set ext master br0 up
  ip -n "$ext" addr add "$EXT_IP/24" dev eth0
  ip -n "$ext" link set eth0 up
  for ((i = 1; i <= n; i++)); do
    ns=$prefix-h$i
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$lan" link add "h$i" type veth peer name eth1 netns "$ns"
    ip -n "$lan" link set "h$i" master br0 up
    ip -n "$ns" addr add "$LAN_PREFIX.$((10 + i))/24" dev eth1
    ip -n "$ns" link set eth1 up
  done
}

# One host's keys and configuration: sshd (run per connection by socat, as sshd -i), its
# containerd and dockerd.
write_host_files() { # hostdir ns
  local hd=$1 ns=$2
  mkdir -p "$hd"/{containerd/root,containerd/state,containerd/opt,docker,run}
  ssh-keygen -q -t ed25519 -N '' -C "$ns-host" -f "$hd/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C "$ns-client" -f "$hd/id_ed25519"
  cp "$hd/id_ed25519.pub" "$hd/authorized_keys"
  # A home of the lab host's own with an empty .bashrc: bash sources ~/.bashrc for every
  # command sshd runs, and this machine's root .bashrc (pyenv init) costs ~0.2-1 s each time,
  # which no real Docker host would add to a test or a benchmark (LAB.md, 2026-11-26).
  mkdir -p "$hd/home"
  : >"$hd/home/.bashrc"
  cat >"$hd/sshd_config" <<EOF
# lab host $ns (sshd -i, started per connection by socat via sshd-inetd)
HostKey $hd/ssh_host_ed25519_key
AuthorizedKeysFile $hd/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile none
PrintMotd no
PrintLastLog no
UseDNS no
SetEnv DOCKER_HOST=unix://$hd/docker.sock HOME=$hd/home
Subsystem sftp internal-sftp
LogLevel INFO
# Fault injection for the hardening suite (README.md, "Faults"); a no-op while DIR/hN/faults is empty.
ForceCommand $hd/fault-command $hd $(command -v node || echo none)
EOF
  # A /run/lock of the host's own (where pulumi-underlay's host lock lives): lab hosts share this
  # machine's filesystem, and a lock shared by every lab on it would make them wait on each
  # other. Each session's sshd gets a private mount namespace with hd/lock bound on /run/lock.
  mkdir -p "$hd/lock" && chmod 1777 "$hd/lock"
  write_fault_files "$hd"
  cat >"$hd/sshd-inetd" <<EOF
#!/bin/sh
exec nsenter --net=/var/run/netns/$ns unshare -m --propagation private \\
  sh -c 'mount --bind $hd/lock /run/lock && exec /usr/sbin/sshd -i -e -f $hd/sshd_config' 2>>$hd/sshd.log
EOF
  chmod 0755 "$hd/sshd-inetd"
  /usr/sbin/sshd -t -f "$hd/sshd_config" || die "sshd -t rejected $hd/sshd_config"

  cat >"$hd/containerd/config.toml" <<EOF
version = 2
root = "$hd/containerd/root"
state = "$hd/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$hd/containerd/containerd.sock"
[ttrpc]
  address = "$hd/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$hd/containerd/opt"
EOF
  # deprecated-key-path: keeps dockerd 20.10 from writing /etc/docker/key.json
  jq -n --arg key "$hd/key.json" '{"deprecated-key-path": $key}' >"$hd/daemon.json"
}

# The ForceCommand wrapper, its Docker API stand-in, the rules directory (empty: no fault), and
# the stand-ins that `hang` puts first on PATH.
write_fault_files() { # hostdir
  local hd=$1 p
  cp "$LAB_SCRIPT_DIR/fault-command.sh" "$hd/fault-command"
  cp "$LAB_SCRIPT_DIR/fault-dial-stdio.js" "$hd/fault-dial-stdio.js"
  chmod 0755 "$hd/fault-command"
  mkdir -p "$hd/faults" "$hd/fault-bin"
  cat >"$hd/fault-bin/hang" <<EOF
#!/bin/sh
echo \$\$ >>$hd/faults.hung
exec sleep 86400
EOF
  chmod 0755 "$hd/fault-bin/hang"
  for p in ip docker; do ln -s hang "$hd/fault-bin/$p"; done
}

# A containerd of our own per host (never the machine's /run/containerd), then dockerd on it.
start_daemons() { # dir prefix nhosts
  local dir=$1 prefix=$2 n=$3 i ns hd
  for ((i = 1; i <= n; i++)); do
    hd=$dir/h$i
    spawn "$hd/containerd.pid" "$hd/containerd.log" \
      nsenter --net="/var/run/netns/$prefix-h$i" containerd --config "$hd/containerd/config.toml"
  done
  for ((i = 1; i <= n; i++)); do
    hd=$dir/h$i
    wait_for "containerd h$i" 20 "$hd/containerd.pid" "$hd/containerd.log" test -S "$hd/containerd/containerd.sock"
  done
  for ((i = 1; i <= n; i++)); do spawn_dockerd "$dir/h$i" "$prefix-h$i"; done
  for ((i = 1; i <= n; i++)); do wait_dockerd "$dir/h$i" "h$i"; done
}

spawn_dockerd() { # hostdir ns
  local hd=$1 ns=$2
  spawn "$hd/dockerd.spawn.pid" "$hd/dockerd.log" \
    nsenter --net="/var/run/netns/$ns" dockerd \
    --host "unix://$hd/docker.sock" \
    --containerd "$hd/containerd/containerd.sock" \
    --data-root "$hd/docker" \
    --exec-root "$hd/run" \
    --pidfile "$hd/dockerd.pid" \
    --config-file "$hd/daemon.json" \
    --cgroup-parent "/$ns" \
    --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
    --storage-driver overlay2
}

wait_dockerd() { # hostdir name
  wait_for "dockerd $2" 60 "$1/dockerd.spawn.pid" "$1/dockerd.log" \
    timeout 5 docker -H "unix://$1/docker.sock" info --format '{{.ServerVersion}}'
}

# The busybox image on every host, in parallel.
import_image() { # dir nhosts
  local dir=$1 n=$2 i hd pids=()
  for ((i = 1; i <= n; i++)); do
    hd=$dir/h$i
    docker -H "unix://$hd/docker.sock" import --change 'CMD ["sh"]' \
      --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' "$IMAGE_TAR" "$IMAGE" \
      >"$hd/import.log" 2>&1 &
    pids+=($!)
  done
  for ((i = 1; i <= n; i++)); do
    wait "${pids[i - 1]}" || die "docker import on h$i failed: $(tail -n 5 "$dir/h$i/import.log")"
  done
}

# socat on 127.0.0.1:<port> -> sshd -i inside each host's namespace, then a real SSH handshake
# and command on every host.
start_ssh() { # dir prefix nhosts
  local dir=$1 prefix=$2 n=$3 i ns hd port ok out
  for ((i = 1; i <= n; i++)); do
    ns=$prefix-h$i
    hd=$dir/h$i
    ok=0
    for _ in $(seq 1 20); do
      port=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
      port_free "$port" || continue
      spawn_listener "$hd" "$ns" "$port"
      if wait_listen "$port" "$(pidof_file "$hd/socat.pid")"; then ok=1 && break; fi
    done
    ((ok)) || die "could not start socat for h$i: $(tail -n 5 "$hd/socat.log")"
    echo "$port" >"$hd/ssh.port"
    printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" >"$hd/known_hosts"
  done
  for ((i = 1; i <= n; i++)); do
    hd=$dir/h$i
    out=$(ssh_cmd "$hd" ip -br link show eth1 2>&1) ||
      die "ssh into h$i failed: $out; sshd.log: $(tail -n 5 "$hd/sshd.log" 2>/dev/null)"
    [[ "$out" == eth1@* ]] || die "ssh into h$i: unexpected 'ip -br link show eth1' output: $out"
  done
}

# nodelay: sshd itself sets TCP_NODELAY on its connection; socat in front of it must too, or each
# answer waits behind Nagle for the client's delayed ACK, which no real sshd would add.
spawn_listener() { # hostdir ns port
  spawn "$1/socat.pid" "$1/socat.log" socat \
    "TCP-LISTEN:$3,bind=127.0.0.1,reuseaddr,fork,nodelay" "EXEC:$1/sshd-inetd $2,nofork"
}

# The pids of the socat listeners spawn_listener started for a lab's hosts (matched by its argv).
listener_pids() { # prefix
  pgrep -f "^socat TCP-LISTEN:[0-9]+,bind=127\.0\.0\.1,reuseaddr,fork,nodelay EXEC:.* $1-h[0-9]+,nofork\$" || true
}

ssh_cmd() { # hostdir argv...
  local hd=$1
  shift
  ssh -q -i "$hd/id_ed25519" -p "$(cat "$hd/ssh.port")" -o BatchMode=yes -o IdentitiesOnly=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$hd/known_hosts" -o ConnectTimeout=10 \
    root@127.0.0.1 "$@"
}

wait_for() { # what timeout_s pidfile logfile argv...
  local what=$1 timeout=$2 pidfile=$3 logfile=$4
  shift 4
  local deadline=$((SECONDS + timeout)) pid
  pid=$(pidof_file "$pidfile")
  until "$@" >/dev/null 2>&1; do
    if ! alive "$pid"; then
      die "$what exited during start-up; last log lines ($logfile):"$'\n'"$(tail -n 25 "$logfile" 2>/dev/null)"
    fi
    if ((SECONDS >= deadline)); then
      die "$what not ready after ${timeout}s; last log lines ($logfile):"$'\n'"$(tail -n 25 "$logfile" 2>/dev/null)"
    fi
    sleep 0.05
  done
}

wait_listen() { # port pid
  for _ in $(seq 1 100); do
    alive "$2" || return 1
    ss -Hltn "sport = :$1" | grep -q 127.0.0.1 && return 0
    sleep 0.02
  done
  return 1
}

write_lab_json() { # dir prefix n
  local dir=$1 prefix=$2 n=$3 i hd
  for ((i = 1; i <= n; i++)); do
    hd=$dir/h$i
    jq -n --arg name "h$i" --arg ns "$prefix-h$i" --arg dir "$hd" --argjson port "$(cat "$hd/ssh.port")" \
      --arg key "$hd/id_ed25519" --arg hostKeyPath "$hd/ssh_host_ed25519_key.pub" \
      --arg hostKey "$(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" --arg knownHosts "$hd/known_hosts" \
      --arg socket "$hd/docker.sock" --arg lanAddress "$LAN_PREFIX.$((10 + i))/24" \
      '{name: $name, ns: $ns, dir: $dir,
        ssh: {host: "127.0.0.1", port: $port, user: "root", privateKeyPath: $key,
              hostPublicKeyPath: $hostKeyPath, hostPublicKey: $hostKey, knownHostsPath: $knownHosts},
        dockerSocket: $socket, dockerHost: ("unix://" + $socket), lanParent: "eth1", lanAddress: $lanAddress}'
  done | jq -s --arg prefix "$prefix" --arg dir "$dir" --arg image "$IMAGE" --arg subnet "$LAN_SUBNET" --arg ext "$EXT_IP" \
    '{version: 1, kind: "netns", prefix: $prefix, dir: $dir, image: $image,
      lan: {ns: ($prefix + "-lan"), bridge: "br0", subnet: $subnet},
      external: {ns: ($prefix + "-ext"), dev: "eth0", address: $ext, cidr: ($ext + "/24")},
      hosts: .}' >"$dir/lab.json.tmp"
  mv "$dir/lab.json.tmp" "$dir/lab.json"
}

# ----------------------------------------------------------------------------------------
# down

# PIDs of every process that belongs to lab <prefix>: in one of its namespaces, in one of
# its containers' cgroups, or one of its socat listeners (root namespace).
lab_pids() { # prefix
  local prefix=$1 ns f
  {
    for ns in $(lab_namespaces "$prefix"); do ip netns pids "$ns" 2>/dev/null || true; done
    for f in /sys/fs/cgroup/*/"$prefix"-h*; do
      [[ -d "$f" ]] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
    done
    listener_pids "$prefix"
  } | grep -Ev "^($$|$BASHPID)\$" | sort -un || true
}

lab_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1-(lan|ext|h[0-9]+)\$" || true; }

# Send SIG to pids (from pidfiles) and wait up to T seconds for them to go.
stop_pids() { # signal timeout pid...
  local sig=$1 t=$2 p live deadline
  shift 2
  live=()
  for p in "$@"; do alive "$p" && kill "-$sig" "$p" 2>/dev/null && live+=("$p"); done
  ((${#live[@]})) || return 0
  deadline=$(($(date +%s%N) + t * 1000000000))
  while (($(date +%s%N) < deadline)); do
    local any=0
    for p in "${live[@]}"; do alive "$p" && any=1; done
    ((any)) || return 0
    sleep 0.05
  done
  return 1
}

unmount_under() { # dir: unmount everything at or below dir, deepest first
  local d=$1 m
  [[ -n "$d" ]] || return 0
  # mountinfo field 5 = mount point (octal-escaped); our paths are plain.
  for m in $(awk -v d="$d" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

teardown() { # prefix dir(may be "")
  set +e
  local prefix=$1 dir=$2 hd pids=() p sock ids rmpids=()
  log "down $prefix${dir:+ ($dir)}"
  # 1. no new ssh sessions
  for hd in "$dir"/h*; do [[ -n "$dir" && -d "$hd" ]] && pids+=($(pidof_file "$hd/socat.pid")); done
  pids+=($(listener_pids "$prefix"))
  stop_pids KILL 2 "${pids[@]}"
  # 2. containers away while the daemons still run (fast: rm -f kills)
  if [[ -n "$dir" ]]; then
    for hd in "$dir"/h*; do
      sock=$hd/docker.sock
      [[ -S "$sock" ]] || continue
      ids=$(timeout 10 docker -H "unix://$sock" ps -aq 2>/dev/null)
      if [[ -n "$ids" ]]; then
        timeout 20 docker -H "unix://$sock" rm -f -v $ids >/dev/null 2>&1 &
        rmpids+=($!)
      fi
    done
    # (never a bare 'wait': when called from up, the daemons are children of this shell)
    for p in "${rmpids[@]}"; do wait "$p"; done
    # 3. dockerd, then containerd. The lab is disposable: no graceful shutdown (SIGTERM
    #    costs ~2 s each); the mounts dockerd leaves are unmounted below.
    pids=()
    for hd in "$dir"/h*; do pids+=($(pidof_file "$hd/dockerd.pid") $(pidof_file "$hd/dockerd.spawn.pid")); done
    stop_pids KILL 5 "${pids[@]}"
    pids=()
    for hd in "$dir"/h*; do pids+=($(pidof_file "$hd/containerd.pid")); done
    stop_pids KILL 5 "${pids[@]}"
  fi
  # 4. whatever is left in the lab's namespaces / cgroups: kill
  local round
  for round in 1 2 3 4 5 6 7 8 9 10; do
    pids=($(lab_pids "$prefix"))
    ((${#pids[@]})) || break
    ((round == 1)) && log "killing leftover processes: ${pids[*]}"
    kill -KILL "${pids[@]}" 2>/dev/null
    sleep 0.2
  done
  pids=($(lab_pids "$prefix"))
  ((${#pids[@]})) && log "WARNING: processes still alive: ${pids[*]}"
  # 5. mounts (overlay rootfs, container netns bind mounts, shm) under the lab dir
  [[ -n "$dir" ]] && unmount_under "$dir"
  # 6. namespaces (their veths and the bridge go with them)
  for p in $(lab_namespaces "$prefix"); do
    ip netns del "$p" 2>/dev/null || log "WARNING: ip netns del $p failed"
  done
  # 7. container cgroup parents (empty now)
  for p in /sys/fs/cgroup/*/"$prefix"-h*; do
    [[ -d "$p" ]] && find "$p" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  # 8. files
  if [[ -n "$dir" && -d "$dir" ]]; then
    unmount_under "$dir"
    if awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {f=1} END {exit !f}' /proc/self/mountinfo; then
      log "WARNING: mounts left under $dir; not removing it"
    else
      rm -rf "$dir"
    fi
  fi
  rm -f "$REGISTRY/$prefix"
  # 9. empty dirs that dockerd (/run/docker/plugins) and containerd shims (/run/containerd/s)
  #    create in the root filesystem; only when no docker/containerd at all runs any more.
  if ! pgrep -x dockerd >/dev/null && ! pgrep -x containerd >/dev/null && ! pgrep -f '^containerd-shim' >/dev/null; then
    rmdir /run/containerd/s /run/containerd /run/docker/plugins /run/docker 2>/dev/null
  fi
  set -e
  return 0
}

teardown_dir() { # dir
  local dir=$1 prefix=""
  [[ -d "$dir" ]] || return 0
  dir=$(cd "$dir" && pwd -P)
  prefix=$(tr -dc 'a-z0-9-' 2>/dev/null <"$dir/prefix" || true)
  if [[ ! "$prefix" =~ ^ulab-[0-9a-f]{4}$ ]]; then
    # Not (or no longer) a lab dir: only remove it if it is clearly ours and empty of mounts.
    if [[ -e "$dir/lab.json" || -z "$(ls -A "$dir")" ]]; then
      unmount_under "$dir"
      rm -rf "$dir"
    else
      log "$dir has no lab prefix file; leaving it alone"
    fi
    return 0
  fi
  teardown "$prefix" "$dir"
}

cmd_down() {
  local dir=${1:?usage: down DIR} t0
  t0=$(now)
  teardown_dir "$dir"
  log "down done in $(elapsed "$t0")"
}

cmd_down_all() {
  local t0 f prefix dir ns pid
  t0=$(now)
  # Registered labs first (we know their dirs) ...
  for f in "$REGISTRY"/ulab-*; do
    [[ -e "$f" ]] || continue
    prefix=$(basename "$f")
    dir=$(cat "$f" 2>/dev/null || true)
    if [[ -n "$dir" && -f "$dir/prefix" && "$(cat "$dir/prefix")" == "$prefix" ]]; then
      teardown "$prefix" "$dir"
    else
      teardown "$prefix" ""
    fi
  done
  # ... then anything else named like a lab.
  local prefixes
  prefixes=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -oE '^ulab-[0-9a-f]{4}-' | sort -u | sed 's/-$//' || true)
  for f in /sys/fs/cgroup/*/ulab-????-h*; do
    [[ -d "$f" && "$f" =~ /(ulab-[0-9a-f]{4})-h[0-9]+$ ]] && prefixes+=" ${BASH_REMATCH[1]}"
  done
  prefixes+=" "$(pgrep -af '^socat TCP-LISTEN:.*EXEC:.* ulab-[0-9a-f]{4}-h[0-9]+,nofork$' | grep -oE 'ulab-[0-9a-f]{4}' | sort -u || true)
  for prefix in $(echo "$prefixes" | tr ' ' '\n' | sort -u); do
    [[ "$prefix" =~ ^ulab-[0-9a-f]{4}$ ]] || continue
    # Unknown dir: learn it from a dockerd in the lab (its --data-root is DIR/hN/docker).
    dir=""
    for ns in $(lab_namespaces "$prefix"); do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        local d
        d=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -A1 -x -- '--data-root' | tail -n 1 || true)
        [[ "$d" == /*/h[0-9]*/docker ]] && dir=$(dirname "$(dirname "$d")")
      done
    done
    if [[ -n "$dir" && -f "$dir/prefix" ]]; then teardown "$prefix" "$dir"; else teardown "$prefix" ""; fi
  done
  log "down-all done in $(elapsed "$t0")"
}

# ----------------------------------------------------------------------------------------
# faults: a lab host's sshd or dockerd stopped and started again, by the pids the lab recorded

fault_host() { # dir host -> FAULT_HD, FAULT_NS
  local dir=${1:?usage: CMD DIR HOST} host=${2:?usage: CMD DIR HOST}
  [[ "$host" =~ ^h[0-9]+$ && -d "$dir/$host" && -s "$dir/prefix" ]] || die "no lab host $host in $dir"
  FAULT_HD=$(cd "$dir/$host" && pwd -P)
  FAULT_NS=$(cat "$dir/prefix")-$host
}

# The listener goes, and with it every connection it accepted (their `sshd -i` and session
# processes): the host as it is while its sshd is down.
cmd_sshd_stop() {
  fault_host "$@"
  local socat pids=() p
  socat=$(pidof_file "$FAULT_HD/socat.pid")
  for p in $(pgrep -P "$socat" 2>/dev/null); do pids+=("$p" $(pgrep -P "$p" 2>/dev/null)); done
  stop_pids KILL 5 "$socat" "${pids[@]}" || die "sshd of $2 did not stop"
}

cmd_sshd_start() {
  fault_host "$@"
  local port
  port=$(cat "$FAULT_HD/ssh.port")
  alive "$(pidof_file "$FAULT_HD/socat.pid")" && return 0
  spawn_listener "$FAULT_HD" "$FAULT_NS" "$port"
  wait_listen "$port" "$(pidof_file "$FAULT_HD/socat.pid")" || die "listener of $2 did not come back on port $port"
}

cmd_dockerd_stop() {
  fault_host "$@"
  local pid
  pid=$(pidof_file "$FAULT_HD/dockerd.spawn.pid")
  stop_pids TERM 15 "$pid" || stop_pids KILL 5 "$pid" || die "dockerd of $2 did not stop"
}

cmd_dockerd_start() {
  fault_host "$@"
  alive "$(pidof_file "$FAULT_HD/dockerd.spawn.pid")" && return 0
  spawn_dockerd "$FAULT_HD" "$FAULT_NS"
  wait_dockerd "$FAULT_HD" "$2"
}

# ----------------------------------------------------------------------------------------

main() {
  (($(id -u) == 0)) || die "must run as root"
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    deps) cmd_deps "$@" ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    down-all) cmd_down_all "$@" ;;
    sshd-stop) cmd_sshd_stop "$@" ;;
    sshd-start) cmd_sshd_start "$@" ;;
    dockerd-stop) cmd_dockerd_stop "$@" ;;
    dockerd-start) cmd_dockerd_start "$@" ;;
    *)
      echo "usage: $0 deps | up DIR [NHOSTS] | down DIR | down-all | {sshd,dockerd}-{stop,start} DIR HOST" >&2
      exit 2
      ;;
  esac
}

main "$@"
