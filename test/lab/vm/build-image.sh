#!/usr/bin/env bash
# Build (once, cached) the Debian disk image for the full-kernel VM lab.
#
#   test/lab/vm/build-image.sh            # build if needed; prints the cache dir on stdout
#
# Cache: /var/cache/ulab/vm/<first 16 hex of a sha256 over this script and guest/>/ holding
#   vmlinuz initrd.img rootfs.img (raw ext4)  lab_key lab_key.pub (root's client key)
#   host_key.pub (the guest's ssh-ed25519 host key line)  known_hosts ("ulab-vm <key>", for
#   ssh -o HostKeyAlias=ulab-vm)  build.log  READY
# Any edit to this script or to a file under guest/ means a new hash, so a new image. Progress goes to stderr;
# the only stdout line is the cache dir. Root only (mmdebstrap --mode=root, mkfs, chroot).
#
# The guest: Debian trixie (kernel 6.12, docker.io 26), systemd + systemd-networkd,
# net.ifnames=0 so NICs are eth0 (slirp, DHCP), eth1 (LAN parent, 198.51.100.1N/24),
# eth2 (the "external device": moved into netns "ext" with 198.51.100.1/24).
# Kernel command line knobs read at boot: ulab.host=h1 and ulab.lan=198.51.100.11/24 by
# guest/usr/local/sbin/ulab-setup, ulab.ext=1 (0: no ext namespace on this VM) by ulab-ext.
# The busybox image ulab/busybox:latest is imported into the guest's Docker by booting
# the fresh image once during the build (and shutting it down cleanly).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
SUITE=${ULAB_VM_SUITE:-trixie}
MIRROR=http://deb.debian.org/debian
IMG_SIZE=6G
BUSYBOX_APPLETS="sh ash ip ping sleep wget nc httpd cat ls true false hostname ifconfig route echo \
  env ps kill grep sed awk head tail tee mkdir rm touch date uname id seq arping traceroute \
  nslookup netstat udhcpc timeout wc sort uniq tr cut printf test [ expr which ping6 ipaddr iplink iproute"

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- mmdebstrap hooks
# (mmdebstrap runs "$SELF <hook> <rootdir>"; the build dir comes through the environment)
essential_hook() {
  local r=$1
  # Before linux-image-amd64 is installed, so its initrd is built small the first time:
  # only the listed modules (and their deps) instead of "most".
  mkdir -p "$r/etc/initramfs-tools/conf.d" "$r/usr/share/initramfs-tools/modules.d"
  printf 'MODULES=list\n' >"$r/etc/initramfs-tools/conf.d/ulab"
  printf 'virtio_pci\nvirtio_blk\next4\n' >"$r/usr/share/initramfs-tools/modules.d/ulab"
}

customize_hook() {
  local r=$1 b=${ULAB_BUILD_DIR:?}

  # --- ssh: root by key only, pinned host key generated for this build
  install -d -m 700 "$r/root/.ssh"
  install -m 600 "$b/lab_key.pub" "$r/root/.ssh/authorized_keys"
  rm -f "$r"/etc/ssh/ssh_host_*
  install -m 600 "$b/host_key" "$r/etc/ssh/ssh_host_ed25519_key"
  install -m 644 "$b/host_key.pub" "$r/etc/ssh/ssh_host_ed25519_key.pub"

  # --- the guest's own files (guest/ beside this script, laid out as in the guest): sshd,
  # networkd (eth0 by DHCP), ulab-setup (hostname and eth1's address from the kernel command
  # line), ulab-ext (eth2 as the external device in netns "ext"), ulab-busybox-import
  tar -C "$HERE/guest" --owner=0 --group=0 -cf - . | tar -C "$r" --no-overwrite-dir -xf -
  passwd_lock=$(chroot "$r" passwd -l root 2>&1) || log "passwd -l: $passwd_lock"

  # --- ulab/busybox:latest: rootfs tar made here, imported by the guest's own dockerd
  mkdir -p "$r/var/lib/ulab"
  local bb; bb=$(mktemp -d)
  mkdir -p "$bb/bin" "$bb/etc" "$bb/tmp" "$bb/root" "$bb/var/www" "$bb/proc" "$bb/sys" "$bb/dev"
  cp "$r/usr/bin/busybox" "$bb/bin/busybox"
  local have; have=" $(chroot "$r" /usr/bin/busybox --list | tr '\n' ' ') "
  for a in $BUSYBOX_APPLETS; do
    case "$have" in
      *" $a "*) ln -s busybox "$bb/bin/$a" ;;
      *) case " sh ip ping sleep wget nc httpd cat ls true hostname ifconfig route " in
           *" $a "*) die "busybox-static lacks required applet $a" ;;
           *) log "busybox-static lacks optional applet $a (skipped)" ;;
         esac ;;
    esac
  done
  # iproute2's ip (with its libraries) instead of busybox's, which lacks -br/-d/-j.
  local ipbin lib
  ipbin=$(chroot "$r" sh -c 'readlink -f "$(command -v ip)"')
  rm -f "$bb/bin/ip"
  cp -L "$r$ipbin" "$bb/bin/ip"
  for lib in $(chroot "$r" ldd "$ipbin" | grep -o '/[^ ]*'); do
    mkdir -p "$bb$(dirname "$lib")"
    cp -L "$r$lib" "$bb$lib"
  done
  if [ -d "$r/usr/share/iproute2" ]; then mkdir -p "$bb/usr/share"; cp -a "$r/usr/share/iproute2" "$bb/usr/share/"; fi
  chroot "$bb" /bin/ip -V >&2 || die "iproute2 ip does not run in the busybox rootfs"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$bb/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$bb/etc/group"
  chmod 1777 "$bb/tmp"
  tar --numeric-owner --owner=0 --group=0 -C "$bb" -cf "$r/var/lib/ulab/busybox.tar" .
  rm -rf "$bb"

  # --- units: enable ours and networkd; drop what only slows a TCG boot
  chroot "$r" systemctl enable systemd-networkd.service ulab-setup.service ulab-ext.service \
    ulab-busybox-import.service docker.service ssh.service >&2
  local u
  for u in systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer man-db.timer \
    getty@tty1.service systemd-timesyncd.service; do
    chroot "$r" systemctl mask "$u" >/dev/null 2>&1 || true
  done

  # --- kernel + initrd next to the image
  cp "$(ls "$r"/boot/vmlinuz-* | sort -V | tail -1)" "$b/vmlinuz"
  cp "$(ls "$r"/boot/initrd.img-* | sort -V | tail -1)" "$b/initrd.img"
  chmod 644 "$b/vmlinuz" "$b/initrd.img"
  if command -v lsinitramfs >/dev/null 2>&1 || [ -x "$r/usr/bin/lsinitramfs" ]; then
    chroot "$r" sh -c 'lsinitramfs /boot/initrd.img-* | grep -E "virtio_blk|/ext4" >/dev/null' \
      || die "initrd lacks virtio_blk/ext4"
  fi
}

case "${1:-}" in
  essential-hook) essential_hook "$2"; exit 0 ;;
  customize-hook) customize_hook "$2"; exit 0 ;;
  "") ;;
  *) echo "usage: $0" >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- main
[ "$(id -u)" = 0 ] || die "must run as root"
# The cache key covers everything that ends up in the image: this script and every guest file, by
# content only (not by where the checkout is), so every checkout on a machine shares one image.
HASH=$({ sha256sum <"$SELF"; (cd "$HERE/guest" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16)
CACHE_ROOT=${ULAB_VM_CACHE:-/var/cache/ulab/vm}
OUT=$CACHE_ROOT/$HASH
mkdir -p "$CACHE_ROOT"

if [ -e "$OUT/READY" ]; then touch "$OUT/READY"; echo "$OUT"; exit 0; fi

exec 9>"$CACHE_ROOT/.build.lock"
flock 9
if [ -e "$OUT/READY" ]; then echo "$OUT"; exit 0; fi

T0=$(date +%s)
need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v ssh >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  log "installing host tools: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need[@]}" >&2 \
    || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
fi

BUILD=$(mktemp -d "$CACHE_ROOT/.build-$HASH.XXXXXX")
QPID=
cleanup() {
  local rc=$?
  [ -n "$QPID" ] && kill -9 "$QPID" 2>/dev/null || true
  if [ -d "$BUILD/root" ]; then
    # mmdebstrap unmounts on its own; be safe before rm -rf.
    grep -o " $BUILD/root[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  fi
  [ $rc -ne 0 ] && log "failed after $(($(date +%s) - T0))s; logs kept in $BUILD.log and $BUILD.serial.log"
  if [ $rc -ne 0 ] && [ -d "$BUILD" ]; then
    cp "$BUILD/build.log" "$BUILD.log" 2>/dev/null
    cp "$BUILD/vm1.serial.log" "$BUILD.serial.log" 2>/dev/null
  fi
  rm -rf "$BUILD"
  exit $rc
}
trap cleanup EXIT
export ULAB_BUILD_DIR=$BUILD

log "building $SUITE image into $OUT (work dir $BUILD)"
ssh-keygen -q -t ed25519 -N '' -C ulab-lab-client -f "$BUILD/lab_key"
ssh-keygen -q -t ed25519 -N '' -C ulab-vm-host -f "$BUILD/host_key"

PKGS=linux-image-amd64,initramfs-tools,zstd,systemd,systemd-sysv,udev,dbus,kmod,openssh-server,docker.io,docker-cli,apparmor,iproute2,iputils-ping,busybox-static,procps,less,ca-certificates
# (systemd-networkd ships in the systemd package in bookworm and trixie)

log "mmdebstrap $SUITE ($PKGS)"
mmdebstrap --mode=root --variant=minbase --include="$PKGS" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --aptopt='Acquire::Retries "3"' \
  --essential-hook="bash \"$SELF\" essential-hook \"\$1\"" \
  --customize-hook="bash \"$SELF\" customize-hook \"\$1\"" \
  "$SUITE" "$BUILD/root" "$MIRROR" >"$BUILD/build.log" 2>&1 \
  || { tail -40 "$BUILD/build.log" >&2; die "mmdebstrap failed"; }
T1=$(date +%s)
log "rootfs done in $((T1 - T0))s ($(du -sh "$BUILD/root" | cut -f1))"

mkfs.ext4 -q -F -L ulabroot -d "$BUILD/root" "$BUILD/rootfs.img" "$IMG_SIZE" >>"$BUILD/build.log" 2>&1 \
  || { tail -20 "$BUILD/build.log" >&2; die "mkfs.ext4 -d failed"; }
rm -rf "$BUILD/root"
T2=$(date +%s)
log "rootfs.img done in $((T2 - T1))s"

# ---- first boot: lets the guest's dockerd import ulab/busybox, caches AppArmor profiles,
# proves the image boots. Then a clean poweroff; the result is the cached base image.
sed 's/^/ulab-vm /' "$BUILD/host_key.pub" >"$BUILD/known_hosts"
SSH=(ssh -i "$BUILD/lab_key" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o HostKeyAlias=ulab-vm
  -o UserKnownHostsFile="$BUILD/known_hosts" -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3)
for try in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 40000))
  bash "$HERE/boot.sh" --image "$BUILD" --work "$BUILD" --index 1 --hosts 1 --port "$PORT" --base-rw \
    >>"$BUILD/build.log" 2>&1 &
  QPID=$!
  sleep 2
  kill -0 "$QPID" 2>/dev/null && break
  wait "$QPID" || true; QPID=
  grep -q 'host forwarding' "$BUILD/build.log" || { tail -20 "$BUILD/build.log" >&2; die "qemu failed to start"; }
done
[ -n "$QPID" ] || die "qemu failed to start (ports)"
log "first boot (qemu pid $QPID, ssh port $PORT, serial $BUILD/vm1.serial.log)"
ok=
for _ in $(seq 1 120); do  # ~10 min max
  kill -0 "$QPID" 2>/dev/null || break
  if "${SSH[@]}" -p "$PORT" root@127.0.0.1 true 2>/dev/null; then ok=1; break; fi
  sleep 5
done
[ -n "$ok" ] || { tail -40 "$BUILD/vm1.serial.log" >&2; die "first boot: no ssh"; }
T3=$(date +%s)
log "first boot: ssh after $((T3 - T2))s"
ok=
for _ in $(seq 1 60); do
  st=$("${SSH[@]}" -p "$PORT" root@127.0.0.1 'systemctl is-active ulab-busybox-import.service' 2>/dev/null) || true
  case "$st" in active) ok=1; break ;; failed) break ;; esac
  sleep 5
done
if [ -z "$ok" ]; then
  "${SSH[@]}" -p "$PORT" root@127.0.0.1 'systemctl --failed --no-pager; journalctl -b --no-pager -u docker -u ulab-busybox-import | tail -40' >&2 || true
  die "first boot: ulab/busybox:latest never appeared"
fi
"${SSH[@]}" -p "$PORT" root@127.0.0.1 'set -e
  ip -br addr show eth1 | grep -q 198.51.100.11/24
  ip -n ext -br addr show eth2 | grep -q 198.51.100.1/24
  ping -c1 -W5 198.51.100.1 >/dev/null
  systemctl --failed --no-legend --plain | sed "s/^/failed unit: /" >&2
  docker image ls ulab/busybox >&2' >&2 || die "first boot: self-check failed"
T4=$(date +%s)
log "first boot: docker + image ready after $((T4 - T2))s; powering off"
"${SSH[@]}" -p "$PORT" root@127.0.0.1 'systemctl poweroff' 2>/dev/null || true
for _ in $(seq 1 120); do kill -0 "$QPID" 2>/dev/null || break; sleep 1; done
if kill -0 "$QPID" 2>/dev/null; then die "first boot: guest did not power off"; fi
wait "$QPID" || die "first boot: qemu exited with an error"
QPID=
grep -q 'reboot: Power down' "$BUILD/vm1.serial.log" || log "warning: no 'Power down' in serial log"
e2fsck -fn "$BUILD/rootfs.img" >>"$BUILD/build.log" 2>&1 || die "rootfs.img not clean after poweroff"

rm -f "$BUILD/host_key" "$BUILD"/vm1.* "$BUILD"/*.sock
T5=$(date +%s)
log "build took $((T5 - T0))s (rootfs $((T1 - T0))s, mkfs $((T2 - T1))s, first boot $((T5 - T2))s)"
echo "build took $((T5 - T0))s" >>"$BUILD/build.log"
chmod 755 "$BUILD"
touch "$BUILD/READY"
rm -rf "$OUT"
mv "$BUILD" "$OUT"
# Images of other versions (another checkout on this machine may still use one: each use
# touches READY) go once unused for two days; a running VM keeps its open backing file anyway.
for old in "$CACHE_ROOT"/*/; do
  old=${old%/}
  [ "$old" != "$OUT" ] && [ -n "$(find "$old/READY" -mtime +1 2>/dev/null)" ] && { log "removing unused image $old"; rm -rf "$old"; }
done
BUILD=$OUT.gone  # nothing left for cleanup to remove
echo "$OUT"
