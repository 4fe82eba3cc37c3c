#!/usr/bin/env bash
# Boot one lab VM in the foreground (exec's qemu, so the caller's child pid IS qemu).
#
#   boot.sh --image CACHEDIR --work WORKDIR --index N --hosts TOTAL --port SSHPORT [--base-rw]
#           [--watch-pid PID]
#
# CACHEDIR is build-image.sh's output (vmlinuz initrd.img rootfs.img). Writes into WORKDIR:
#   vmN.qcow2 (throwaway overlay on rootfs.img; with --base-rw rootfs.img itself is booted
#   read-write, used only by the build), vmN.serial.log, vmN.pid, lan-K.sock (VM 1 only).
# NICs: eth0 = slirp (restrict=on, only 127.0.0.1:SSHPORT -> guest :22);
#   VM 1: eth1 (LAN parent) and eth2 (the external device, moved to netns "ext" by the guest)
#   on one in-qemu hub; for every other VM K a unix stream socket WORKDIR/lan-K.sock joins
#   that hub; VM K's only LAN NIC (eth1) connects to it. So start VM 1 first and wait for
#   its sockets. Guest LAN address of VM N: 198.51.100.1N/24; hostname hN.
# --watch-pid: a watchdog kills qemu once PID is gone (and then removes WORKDIR if it is a
#   vmLab temp dir named ulab-vm-*), so a killed test runner leaves no VM behind.
# TCG only (KVM on these machines is PVM and does not work).
set -euo pipefail

IMAGE= WORK= INDEX=1 HOSTS=1 PORT= BASE_RW= WATCH_PID=
while [ $# -gt 0 ]; do
  case "$1" in
    --image) IMAGE=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --index) INDEX=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --base-rw) BASE_RW=1; shift ;;
    --watch-pid) WATCH_PID=$2; shift 2 ;;
    *) echo "boot.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$IMAGE" ] && [ -n "$WORK" ] && [ -n "$PORT" ] || { echo "boot.sh: --image, --work, --port are required" >&2; exit 2; }
[ "$INDEX" -ge 1 ] && [ "$INDEX" -le 9 ] && [ "$HOSTS" -ge "$INDEX" ] || { echo "boot.sh: bad --index/--hosts" >&2; exit 2; }
for f in vmlinuz initrd.img rootfs.img; do [ -f "$IMAGE/$f" ] || { echo "boot.sh: missing $IMAGE/$f" >&2; exit 1; }; done
mkdir -p "$WORK"

n=$INDEX
if [ -n "$BASE_RW" ]; then
  DRIVE="file=$IMAGE/rootfs.img,format=raw,if=virtio,cache=unsafe"
else
  qemu-img create -q -f qcow2 -b "$(readlink -f "$IMAGE/rootfs.img")" -F raw "$WORK/vm$n.qcow2"
  DRIVE="file=$WORK/vm$n.qcow2,format=qcow2,if=virtio,cache=unsafe,discard=unmap"
fi

mac() { printf '52:54:00:1a:%02x:%02x' "$n" "$1"; }
# ctrl_vlan=off: no VLAN filter in the virtio NIC (it is lost on a saved-state restore, and
# the lab wants every tagged frame to reach the guest anyway).
NET=(
  -netdev "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-10.0.2.15:22"
  -device "virtio-net-pci,netdev=mgmt,mac=$(mac 0)"
)
EXT=1
if [ "$n" = 1 ]; then
  NET+=(
    -netdev hubport,id=lan,hubid=1 -device "virtio-net-pci,netdev=lan,mac=$(mac 1),ctrl_vlan=off"
    -netdev hubport,id=ext,hubid=1 -device "virtio-net-pci,netdev=ext,mac=$(mac 2),ctrl_vlan=off"
  )
  for ((k = 2; k <= HOSTS; k++)); do
    rm -f "$WORK/lan-$k.sock"
    NET+=(
      -netdev "stream,id=peer$k,server=on,addr.type=unix,addr.path=$WORK/lan-$k.sock"
      -netdev "hubport,id=hp$k,hubid=1,netdev=peer$k"
    )
  done
else
  EXT=0
  NET+=(
    -netdev "stream,id=lan,server=off,addr.type=unix,addr.path=$WORK/lan-$n.sock"
    -device "virtio-net-pci,netdev=lan,mac=$(mac 1),ctrl_vlan=off"
  )
fi

# oops=panic panic=1: a guest kernel that oopses or panics reboots a second later (qemu resets
# the machine) instead of sitting dead until the lab's boot deadline. Under multi-threaded TCG
# an early-boot oops does happen now and then (seen: "Oops: int3" in sched_clock_cpu, then
# "Kernel panic - not syncing: Fatal exception in interrupt" at 3 s); the next boot goes through.
APPEND="root=/dev/vda rw console=ttyS0 net.ifnames=0 loglevel=4 oops=panic panic=1 ulab.host=h$n ulab.lan=198.51.100.1$n/24 ulab.ext=$EXT"

if [ -n "$WATCH_PID" ]; then
  # After the exec below, $$ is qemu's pid.
  (
    set +e
    while kill -0 "$WATCH_PID" 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 2; done
    if kill -0 $$ 2>/dev/null; then
      kill $$ 2>/dev/null; sleep 3; kill -9 $$ 2>/dev/null
      case "$(basename "$WORK")" in ulab-vm-*) sleep 1; rm -rf "$WORK" ;; esac
    fi
  ) </dev/null >/dev/null 2>&1 &
fi

# KVM only where it really works: /dev/kvm present and the CPU offering vmx/svm. On these
# machines /dev/kvm is PVM without them (a Debian kernel hangs there), so TCG it is; this test
# costs nothing, unlike probing KVM by starting qemu (~17 s).
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
  ACCEL=(-accel kvm -cpu host)
else
  ACCEL=(-accel tcg,thread=multi)
fi

exec qemu-system-x86_64 \
  -name "ulab-vm$n" \
  "${ACCEL[@]}" -smp 2 -m 2048 \
  -nodefaults -no-user-config -display none -vga none \
  -serial "file:$WORK/vm$n.serial.log" -monitor none \
  -pidfile "$WORK/vm$n.pid" \
  -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img" -append "$APPEND" \
  -drive "$DRIVE" \
  -object rng-random,id=rng,filename=/dev/urandom -device virtio-rng-pci,rng=rng \
  "${NET[@]}"
