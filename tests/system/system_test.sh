#!/usr/bin/env bash
# The replfs Debian package in a booted Debian 12 container: builds two
# versions of the .deb, boots a debootstrapped bookworm root with
# systemd-nspawn (systemd as PID 1, its own network namespace so the host's
# ports 9190/2222/3333/4444 are never touched), installs the package with
# apt and runs the user story of DESIGN.md, a reboot, an upgrade with data
# present, apt remove and purge.
#
#   tests/system/system_test.sh WORK_DIR
#
# WORK_DIR keeps the debootstrapped root between runs (root-cache.tar) and
# holds this run's packages and container root, which are deleted on exit.
# REPLFS_SYSTEM_TEST_DEBS=DIR uses the two newest replfs_*.deb in DIR instead
# of building them (the older is installed first, the newer is the upgrade).
# Exits 77 (skipped) only when not run as root or when /dev/fuse or
# systemd-nspawn is missing (systemd-container and debootstrap are installed
# if missing; a debootstrap that cannot be installed is a failure).
set -euo pipefail

readonly SKIP=77
readonly SRC="$(cd "$(dirname "$0")/../.." && pwd)"
readonly WORK="${1:?usage: system_test.sh WORK_DIR}"
readonly CACHE="$WORK/root-cache.tar"
readonly MNT=/mnt/replfs
readonly FSTAB_LINE='127.0.0.1:9190 /mnt/replfs fuse.replfs defaults,_netdev 0 0'

passed=0
failed=0
run_dir=""
root=""
nspawn_pid=""
ct_pid=""

step() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf '    ok   %s\n' "$*"; }
summary() { printf '\n%d passed, %d failed\n' "$passed" "$failed"; }
fail() {
  failed=$((failed + 1))
  printf '    FAIL %s\n' "$*"
  diagnostics
  summary
  exit 1
}
skip() {
  printf 'SKIP system test: %s\n' "$*"
  exit "$SKIP"
}

# check DESCRIPTION COMMAND...: runs COMMAND on the host.
check() {
  local what="$1"
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# --- running things inside the container ------------------------------------

# ct COMMAND...: runs COMMAND inside the container (all its namespaces).
ct() {
  nsenter -t "$ct_pid" -a -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 HOME=/root TERM=dumb "$@"
}
# ct_sh SCRIPT: runs a shell snippet inside the container.
ct_sh() { ct /bin/sh -c "$1"; }
# ct_net COMMAND...: like ct, but in the host's network namespace: apt
# reaches the Debian archive while the daemons stay on the container's own
# loopback.
ct_net() {
  nsenter -t "$ct_pid" -m -u -i -p -C -r -w -- /usr/bin/env -i \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root TERM=dumb \
    DEBIAN_FRONTEND=noninteractive "$@"
}
# ct_check DESCRIPTION SCRIPT: a check run as a shell snippet in the container.
ct_check() {
  if ct_sh "$2"; then ok "$1"; else fail "$1"; fi
}
# ct_all_active UNIT...: every UNIT is active. (One "systemctl is-active A B"
# succeeds when any one of them is.)
ct_all_active() {
  local u
  for u in "$@"; do
    ct systemctl is-active -q "$u" || { note "$u: $(ct systemctl is-active "$u")"; return 1; }
  done
}
# ct_none_active UNIT...: no UNIT is active.
ct_none_active() {
  local u
  for u in "$@"; do
    if ct systemctl is-active -q "$u"; then note "$u is still active"; return 1; fi
  done
}
# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND (on the host) until
# it succeeds or the deadline passes.
wait_for() {
  local what="$1" secs="$2"
  local deadline=$((SECONDS + secs))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what (not within $secs s)"
    sleep 0.5
  done
  ok "$what"
}
# listening PORT: the inode of the socket listening on PORT in the container
# (empty if none).
listening() {
  ct awk -v p="$(printf ':%04X' "$1")" \
    '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 |
    sort -u | tr '\n' ' '
}
# socket_id UNIT PORT: when socket UNIT last became active, and the inode of
# the socket listening on PORT. Unchanged across a restart of the service:
# the socket stayed open throughout.
socket_id() {
  echo "active since $(ct systemctl show -P ActiveEnterTimestampMonotonic "$1"), inode $(listening "$2")"
}
# same_socket UNIT PORT BEFORE: socket_id UNIT PORT is still BEFORE.
same_socket() {
  local now
  now="$(socket_id "$1" "$2")"
  [ "$now" = "$3" ] || { note "$1: was '$3', now '$now'"; return 1; }
  case "$now" in *"inode "[0-9]*) ;; *) note "nothing listens on $2"; return 1 ;; esac
}
# ct_wait DESCRIPTION SECONDS SCRIPT: polls SCRIPT in the container until it
# succeeds or the deadline passes.
ct_wait() {
  local what="$1" deadline=$((SECONDS + $2)) script="$3"
  until ct_sh "$script" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "$what (not within $2 s)"
    fi
    sleep 0.5
  done
  ok "$what"
}

diagnostics() {
  [ -n "$ct_pid" ] && [ -d "/proc/$ct_pid" ] || return 0
  echo "--- diagnostics from the container"
  ct systemctl --no-pager --all list-units 'metad*' 'datad@*' 'replfs*' 'mnt-*' 2>&1 || true
  ct journalctl --no-pager -n 60 -u metad.service -u 'datad@*' -u mnt-replfs.mount 2>&1 || true
  ct fsctl status 2>&1 || true
  echo "--- end of diagnostics"
}

# --- the container ---------------------------------------------------------

# The mirror the host's apt uses (deb822 or one-line sources), else Debian's.
host_mirror() {
  local m
  m="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n 's|^URIs: *\(http[^ ]*/debian\)/\?$|\1|p' | head -1)"
  if [ -z "$m" ]; then
    m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -n 's|^deb \(\[[^]]*\] \)\?\(http[^ ]*/debian\)/\? bookworm .*|\2|p' | head -1)"
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

make_root_cache() {
  local mirror tmp
  mirror="$(host_mirror)"
  tmp="$WORK/root-cache.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  note "debootstrap bookworm from $mirror (once; cached in $CACHE)"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,fuse3,ca-certificates \
    bookworm "$tmp" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log"; rm -rf "$tmp"; fail "debootstrap"; }
  cat >"$tmp/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
  echo replfs-systest >"$tmp/etc/hostname"
  # A fresh machine id on every boot of a copy (systemd generates it).
  : >"$tmp/etc/machine-id"
  rm -f "$tmp/var/lib/dbus/machine-id"
  # Nothing to do for these in a throw-away container.
  ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily.timer"
  ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily-upgrade.timer"
  ln -sf /dev/null "$tmp/etc/systemd/system/systemd-timesyncd.service"
  tar -C "$tmp" -cf "$CACHE.tmp" . && mv "$CACHE.tmp" "$CACHE"
  rm -rf "$tmp"
}

boot() {
  nspawn_log="$run_dir/nspawn-$SECONDS.log"
  # /dev/autofs: systemd supports x-systemd.automount only if it exists.
  local autofs=()
  [ -c /dev/autofs ] && autofs=(--bind=/dev/autofs)
  systemd-nspawn -D "$root" --boot --register=no --keep-unit --bind=/dev/fuse "${autofs[@]}" \
    --private-network --resolv-conf=copy-host --console=pipe \
    >"$nspawn_log" 2>&1 </dev/null &
  nspawn_pid=$!
  ct_pid=""
  # The container's init: a descendant of systemd-nspawn that is PID 1 in
  # its own PID namespace.
  local deadline=$((SECONDS + 60)) p
  while [ -z "$ct_pid" ]; do
    for p in $(pgrep -P "$nspawn_pid" 2>/dev/null) ; do
      if grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$p/status" 2>/dev/null; then ct_pid=$p; fi
    done
    if [ -z "$ct_pid" ]; then
      kill -0 "$nspawn_pid" 2>/dev/null || { cat "$nspawn_log"; fail "systemd-nspawn exited"; }
      [ "$SECONDS" -lt "$deadline" ] || fail "no init process in the container"
      sleep 0.2
    fi
  done
  local state="" deadline=$((SECONDS + 120))
  while :; do
    state="$(ct systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running | degraded) break ;; esac
    [ "$SECONDS" -lt "$deadline" ] || { cat "$nspawn_log"; fail "boot (system state '$state')"; }
    sleep 0.5
  done
  ok "container booted (init PID $ct_pid on the host, system $state)"
}

# Waits until the container is gone (after poweroff/reboot inside).
wait_down() {
  local deadline=$((SECONDS + 90))
  while kill -0 "$nspawn_pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { tail -40 "$nspawn_log"; fail "container did not stop"; }
    sleep 0.5
  done
  wait "$nspawn_pid" 2>/dev/null || true
  nspawn_pid=""
  ct_pid=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    [ -n "$ct_pid" ] && ct systemctl poweroff >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$nspawn_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  if [ -n "$root" ] && [ -d "$root" ]; then
    # Anything still mounted under the root (there should be nothing).
    awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts |
      sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  [ -n "$run_dir" ] && rm -rf "$run_dir"
  exit "$rc"
}

# --- preconditions ----------------------------------------------------------

[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn, debootstrap, FUSE)"
[ -c /dev/fuse ] || skip "/dev/fuse is missing"
if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
  note "installing systemd-container and debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    systemd-container debootstrap </dev/null >/dev/null 2>&1 || true
fi
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (apt install systemd-container)"
if ! command -v debootstrap >/dev/null; then
  echo "FAIL debootstrap is missing and 'apt-get install debootstrap' did not install it"
  exit 1
fi

mkdir -p "$WORK"
run_dir="$(mktemp -d "$WORK/run-XXXXXX")"
trap cleanup EXIT INT TERM
root="$run_dir/root"

# --- packages ---------------------------------------------------------------

step "1. build the packages"
if [ -n "${REPLFS_SYSTEM_TEST_DEBS:-}" ]; then
  # The two newest by Debian version order.
  debs=()
  for d in "$REPLFS_SYSTEM_TEST_DEBS"/replfs_*_amd64.deb; do
    [ -f "$d" ] || continue
    debs+=("$d")
    for ((i = ${#debs[@]} - 1; i > 0; i--)); do
      if dpkg --compare-versions "$(dpkg-deb -f "${debs[i]}" Version)" lt \
        "$(dpkg-deb -f "${debs[i - 1]}" Version)"; then
        t="${debs[i]}"; debs[i]="${debs[i - 1]}"; debs[i - 1]="$t"
      fi
    done
  done
  [ "${#debs[@]}" -ge 2 ] || fail "two packages in $REPLFS_SYSTEM_TEST_DEBS"
  debs=("${debs[@]: -2}")
else
  base="$(sed -n 's/^project(replfs VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")"
  debs=()
  for v in "$base" "$base+systest2"; do
    note "scripts/package (REPLFS_VERSION=$v, no tests: the unit tests run in scripts/test)"
    if ! REPLFS_VERSION="$v" REPLFS_DIST="$run_dir/dist" \
      DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" "$SRC/scripts/package" 2>&1 |
      sed 's/^/    | /'; then
      fail "scripts/package $v"
    fi
    debs+=("$run_dir/dist/replfs_${v}_amd64.deb")
  done
fi
for d in "${debs[@]}"; do check "built $(basename "$d")" test -s "$d"; done
v1="$(dpkg-deb -f "${debs[0]}" Version)"
v2="$(dpkg-deb -f "${debs[1]}" Version)"
check "upgrade goes from $v1 to $v2" dpkg --compare-versions "$v2" gt "$v1"

# --- container ----------------------------------------------------------------

step "2. Debian bookworm root"
[ -s "$CACHE" ] || make_root_cache
mkdir -p "$root"
tar -C "$root" -xf "$CACHE"
cp "${debs[@]}" "$root/root/"
ok "root unpacked from $CACHE"

step "3. boot it (systemd-nspawn --boot --private-network)"
boot
ct_check "systemd is PID 1" '[ "$(cat /proc/1/comm)" = systemd ]'
ct_check "the container has its own loopback only" \
  '! grep -qv "^ *\(Inter\|face\|lo:\)" /proc/net/dev'

step "4. apt install ./$(basename "${debs[0]}")"
ct_net apt-get update -qq >"$run_dir/apt.log" 2>&1 || { cat "$run_dir/apt.log"; fail "apt-get update"; }
if ct_net sh -c "cd /root && apt-get install -y -q ./$(basename "${debs[0]}")" >>"$run_dir/apt.log" 2>&1; then
  ok "installed $v1 (dependencies from the archive)"
else
  cat "$run_dir/apt.log"
  fail "apt install"
fi
ct_check "binaries: /usr/sbin/metad /usr/sbin/datad /usr/bin/replfs /usr/bin/fsctl" \
  'test -x /usr/sbin/metad -a -x /usr/sbin/datad -a -x /usr/bin/replfs -a -x /usr/bin/fsctl'
for b in metad datad replfs fsctl; do
  ct_check "$b --help exits 0" "$b --help >/dev/null"
done
ct_check "units in /lib/systemd/system" \
  'cd /lib/systemd/system && test -f metad.socket -a -f metad.service -a -f datad@.socket -a -f datad@.service -a -f replfs.target'
ct_check "/etc/replfs/replfs.conf is a conffile" \
  'dpkg-query -W -f="\${Conffiles}" replfs | grep -q " /etc/replfs/replfs.conf "'
ct_check "system user replfs exists" 'id replfs >/dev/null && [ "$(getent passwd replfs | cut -d: -f7)" = /usr/sbin/nologin ]'
check "nothing started by the installation" \
  ct_none_active metad.socket metad.service replfs.target
# (is-enabled exits 0 for "indirect" and "static" too: metad.service only
# has Also=, datad@.socket has no [Install].)
ct_check "nothing enabled by the installation" \
  'for u in metad.socket metad.service replfs.target datad@2222.service datad@2222.socket; do
     case "$(systemctl is-enabled $u)" in disabled | indirect | static) ;; *) echo "$u: $(systemctl is-enabled $u)"; exit 1 ;; esac
   done'
ct_check "man pages: metad(8) datad(8) fsctl(1) replfs(1)" \
  'for m in man8/metad.8 man8/datad.8 man1/fsctl.1 man1/replfs.1; do test -s /usr/share/man/$m.gz || exit 1; done'
verify_out="$(ct sh -c 'cd /lib/systemd/system && systemd-analyze verify metad.socket metad.service datad@2222.socket datad@2222.service replfs.target 2>&1' || echo "exit status $?")"
if [ -z "$verify_out" ]; then ok "systemd-analyze verify: clean"; else
  printf '%s\n' "$verify_out" | sed 's/^/    | /'
  fail "systemd-analyze verify"
fi

step "5. socket activation of metad"
ct_check "a mount that cannot reach metad fails at once with a clear message" \
  'mkdir -p /mnt/nowhere && out="$(timeout 60 mount -t fuse.replfs 127.0.0.1:9191 /mnt/nowhere 2>&1)";
   rc=$?; echo "    | $out"; [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "$out" | grep -q "cannot reach metad at 127.0.0.1:9191"'
# Operator's choice for a quick test: datads declared down after 3 s.
ct sed -i 's/^#dead_after_ms = 10000$/dead_after_ms = 3000/' /etc/replfs/replfs.conf
ct_check "dead_after_ms = 3000 set in /etc/replfs/replfs.conf" \
  'grep -q "^dead_after_ms = 3000$" /etc/replfs/replfs.conf'
ct_check "systemctl start metad.socket" 'systemctl start metad.socket && systemctl is-active -q metad.socket'
ct_check "metad.service inactive before the first connection" \
  '[ "$(systemctl is-active metad.service)" = inactive ]'
ct_check "the socket listens on 9190" 'grep -qEi ":23E6 0+:0000 0A" /proc/net/tcp6 /proc/net/tcp'
ct_sh 'fsctl status >/dev/null 2>&1' || true
ct_wait "the first connection started metad.service" 30 'systemctl is-active -q metad.service'
ct_check "systemctl stop metad.service: metad.socket still listens on 9190" \
  'systemctl stop metad.service 2>/dev/null && ! systemctl is-active -q metad.service &&
   grep -qEi ":23E6 0+:0000 0A" /proc/net/tcp6 /proc/net/tcp'
ct_sh 'fsctl status >/dev/null 2>&1' || true
ct_wait "the next connection started metad.service again" 30 'systemctl is-active -q metad.service'

step "6. the user story"
note "# systemctl start metad datad@2222 datad@3333 datad@4444"
ct_check "systemctl start metad datad@2222 datad@3333 datad@4444" \
  'systemctl start metad datad@2222 datad@3333 datad@4444'
for u in metad datad@2222 datad@3333 datad@4444; do
  ct_check "$u: active, Type=notify, runs as replfs" \
    "systemctl is-active -q $u && [ \"\$(systemctl show -P Type $u)\" = notify ] &&
     [ \"\$(stat -c %U /proc/\$(systemctl show -P MainPID $u))\" = replfs ]"
done
ct_check "datad@2222 adopted its socket from systemd" \
  'journalctl -b -u datad@2222 -o cat | grep -q "socket from systemd, port 2222"'
ct_check "datad@2222 stores in /var/lib/replfs/datad-2222 (owned by replfs)" \
  '[ "$(stat -c %U /var/lib/replfs/datad-2222)" = replfs ] && [ -n "$(ls -A /var/lib/replfs/datad-2222)" ]'
ct_check "journald parsed the log priorities" \
  'journalctl -b -u metad -p info -o cat | grep -q . && ! journalctl -b -u metad -o cat | grep -q "^<[0-7]>"'
wd_before="$(ct systemctl show -P WatchdogTimestampMonotonic metad.service)"
ct_check "sandbox: UMask=0027, ProcSubset=pid, a system-call filter" \
  'for u in metad datad@2222; do
     [ "$(systemctl show -P UMask $u)" = 0027 ] && [ "$(systemctl show -P ProcSubset $u)" = pid ] &&
     [ -n "$(systemctl show -P SystemCallFilter $u)" ] || exit 1
   done'
ct_sh 'systemd-analyze security --no-pager metad.service datad@2222.service 2>/dev/null' |
  sed 's/^/    | /' || true
ct_sh "mkdir -p $MNT"
note "# mount -t fuse.replfs 127.0.0.1:9190 /mnt/replfs -o allow_other,attr_timeout=2,connect_timeout_ms=3000"
ct_check "mount -t fuse.replfs 127.0.0.1:9190 /mnt/replfs -o allow_other,attr_timeout=2,connect_timeout_ms=3000" \
  'mount -t fuse.replfs 127.0.0.1:9190 /mnt/replfs -o allow_other,attr_timeout=2,connect_timeout_ms=3000'
ct_check "/proc/mounts: 127.0.0.1:9190 on /mnt/replfs type fuse.replfs, allow_other" \
  "grep -qE '^127.0.0.1:9190 /mnt/replfs fuse.replfs [^ ]*allow_other' /proc/mounts"
ct_check "write a file through it" "echo hello > $MNT/hello && [ \"\$(cat $MNT/hello)\" = hello ]"
ct_check "umount /mnt/replfs" "umount /mnt/replfs && ! grep -q ' /mnt/replfs ' /proc/mounts"
note "# echo '$FSTAB_LINE' >> /etc/fstab"
ct_sh "echo '$FSTAB_LINE' >> /etc/fstab && systemctl daemon-reload"
note "# mount $MNT"
ct_check "mount $MNT (from fstab)" "mount $MNT"
ct_check "/proc/mounts shows 127.0.0.1:9190 on $MNT type fuse.replfs" \
  "grep -q '^127.0.0.1:9190 $MNT fuse.replfs ' /proc/mounts"
ct_check "the file written through the mount -t mount is there" "[ \"\$(cat $MNT/hello)\" = hello ]"
ct_check "write files" \
  "head -c 3000000 /dev/urandom > /root/ref && cp /root/ref $MNT/f &&
   mkdir -p $MNT/dir && cp /usr/bin/bash $MNT/dir/ && sync"
ct_check "read them back" "cmp /root/ref $MNT/f && [ \"\$(cat $MNT/hello)\" = hello ] && cmp /usr/bin/bash $MNT/dir/bash"
ct_wait "fsctl status: HEALTHY, exit 0" 30 'fsctl status'
ct_check "fsctl status names 3 servers up" 'fsctl status --json | tr -d " \n" | grep -o "\"state\":\"up\"" | wc -l | grep -qx 3'
ct_check "fsctl status: 0 degraded chunks" \
  'j="$(fsctl status --json | tr -d " \n")" &&
   for k in under_replicated unavailable corrupt_replicas; do echo "$j" | grep -q "\"$k\":0[,}]" || exit 1; done'
ct_check "the daemons' files are not world-accessible (UMask=0027)" \
  '[ -z "$(find /var/lib/replfs/metad /var/lib/replfs/datad-2222 -perm /o=rwx)" ]'
ct_sh 'fsctl status' | sed 's/^/    | /' || true

step "7. a datad stops"
ct_check "systemctl stop datad@2222" 'systemctl stop datad@2222'
ct_check "datad@2222 exited cleanly on SIGTERM" \
  '[ "$(systemctl show -P Result datad@2222)" = success ] && [ "$(systemctl show -P ExecMainStatus datad@2222)" = 0 ]'
ct_check "datad@2222.socket stopped with it (no client can start it again)" \
  '! systemctl is-active -q datad@2222.socket && ! grep -qEi ":08AE 0+:0000 0A" /proc/net/tcp6 /proc/net/tcp'
sync && echo 3 >/proc/sys/vm/drop_caches  # the next reads go to the datads
ct_check "reads still work (page cache dropped)" "cmp /root/ref $MNT/f && cmp /usr/bin/bash $MNT/dir/bash"
ct_wait "fsctl status: DEGRADED, exit 1" 30 'fsctl status >/dev/null; [ $? -eq 1 ]'
ct_check "fsctl status says DEGRADED" 'fsctl status | grep -q DEGRADED'
ct_sh 'fsctl status' | sed 's/^/    | /' || true
ct_check "systemctl start datad@2222" 'systemctl start datad@2222'
ct_wait "fsctl status: HEALTHY again, exit 0" 60 'fsctl status'
pid_before="$(ct systemctl show -P MainPID datad@3333)"
sock_before="$(socket_id datad@3333.socket 3333)"
ct_check "kill -9 datad@3333" 'systemctl kill -s KILL datad@3333'
ct_wait "Restart=on-failure brought datad@3333 back" 30 \
  "systemctl is-active -q datad@3333 && [ \"\$(systemctl show -P MainPID datad@3333)\" != '$pid_before' ]"
check "datad@3333.socket stayed open through the restart ($sock_before)" \
  same_socket datad@3333.socket 3333 "$sock_before"
ct_wait "fsctl status: HEALTHY, exit 0" 60 'fsctl status'

step "8. corruption"
note "# fsctl corrupt /mnt/replfs/f --block 0 --server 127.0.0.1:2222"
ct_check "fsctl corrupt /mnt/replfs/f --block 0 --server 127.0.0.1:2222" \
  'fsctl corrupt /mnt/replfs/f --block 0 --server 127.0.0.1:2222'
sync && echo 3 >/proc/sys/vm/drop_caches
note "# cat /mnt/replfs/f"
ct_check "cat /mnt/replfs/f: still the right bytes" \
  'cat /mnt/replfs/f > /root/f.cat && cmp /root/f.cat /root/ref'
ct_wait "the bad replica is repaired (fsctl fsck $MNT/f clean)" 60 "fsctl fsck $MNT/f"

step "9. watchdog"
ct_wait "metad sent WATCHDOG=1 (WatchdogSec=30: a health probe, and a ping if it passes, every 7.5 s)" 30 \
  "[ \"\$(systemctl show -P WatchdogTimestampMonotonic metad.service)\" != '$wd_before' ]"
# A datad that is alive but cannot serve: one connection slot
# (max_connections=1), held by an idle client, so the health probe's Ping
# waits in the backlog. WatchdogSec=4 keeps the test short.
ct_sh 'mkdir -p /run/systemd/system/datad@4444.service.d &&
  printf "%s\n" "[Service]" "WatchdogSec=4" "ExecStart=" \
    "ExecStart=/usr/sbin/datad --config /etc/replfs/replfs.conf --listen 0.0.0.0:4444 --data-dir /var/lib/replfs/datad-4444 --set datad.max_connections=1" \
    > /run/systemd/system/datad@4444.service.d/hang.conf && systemctl daemon-reload'
sock_before="$(socket_id datad@4444.socket 4444)"
ct_check "systemctl restart datad@4444 (drop-in: max_connections=1, WatchdogSec=4)" \
  'systemctl restart datad@4444 && systemctl is-active -q datad@4444'
check "datad@4444.socket stayed open through systemctl restart" \
  same_socket datad@4444.socket 4444 "$sock_before"
pid_before="$(ct systemctl show -P MainPID datad@4444)"
(ct bash -c 'echo $$ > /run/holder.pid && exec 3<>/dev/tcp/127.0.0.1/4444 && exec sleep 300' || true) 2>/dev/null &
holder=$!
ct_wait "the health probe fails while the only connection slot is taken" 30 \
  "journalctl -b _PID=$pid_before -o cat | grep -q 'health probe: Ping to 127.0.0.1:4444'"
ct_wait "systemd killed the datad that could not serve (Watchdog timeout) and restarted it" 30 \
  "systemctl is-active -q datad@4444 && [ \"\$(systemctl show -P MainPID datad@4444)\" != '$pid_before' ] &&
   journalctl -b -u datad@4444 -o cat | grep -q 'Watchdog timeout'"
ct sh -c 'kill "$(cat /run/holder.pid)"' || true
wait "$holder" 2>/dev/null || true
check "datad@4444.socket stayed open through the watchdog restart" \
  same_socket datad@4444.socket 4444 "$sock_before"
ct_check "back to the packaged datad@4444" \
  'rm -r /run/systemd/system/datad@4444.service.d && systemctl daemon-reload &&
   systemctl restart datad@4444 && [ "$(systemctl show -P WatchdogUSec datad@4444)" = 30s ]'
ct_wait "fsctl status: HEALTHY, exit 0" 60 'fsctl status'

step "10. reboot"
note "# systemctl enable metad.socket datad@2222 datad@3333 datad@4444   (start at boot)"
ct_check "systemctl enable metad.socket datad@2222 datad@3333 datad@4444" \
  'systemctl enable -q metad.socket datad@2222 datad@3333 datad@4444'
ct_check "systemctl stop replfs.target" 'systemctl stop replfs.target 2>&1 | sed "s/^/    | /"; systemctl stop replfs.target'
wait_for "replfs.target stopped every daemon and socket" 30 \
  ct_none_active metad.socket metad.service datad@2222 datad@3333 datad@4444 \
  datad@2222.socket datad@3333.socket datad@4444.socket
ct_check "systemctl start replfs.target" 'systemctl start replfs.target'
check "replfs.target started each enabled unit" \
  ct_all_active metad.socket datad@2222 datad@3333 datad@4444
ct_wait "fsctl status: HEALTHY, exit 0" 60 'fsctl status'
note "# echo '127.0.0.1:9190 /mnt/auto fuse.replfs defaults,_netdev,x-systemd.automount 0 0' >> /etc/fstab"
ct_sh "echo '127.0.0.1:9190 /mnt/auto fuse.replfs defaults,_netdev,x-systemd.automount 0 0' >> /etc/fstab"
# A persistent journal, to read the shutdown order after the reboot (under
# the same machine id: the copy's /etc/machine-id starts empty).
ct_sh 'systemd-machine-id-setup --commit >/dev/null 2>&1 && mkdir -p /var/log/journal && journalctl --flush'
ct systemctl reboot || true
wait_down
ok "container went down (systemctl reboot)"
boot
ct_check "no ordering cycle at boot" '! journalctl -b -o cat | grep -i "ordering cycle"'
ct_check "at shutdown /mnt/replfs was unmounted before metad and the datads stopped" \
  'journalctl -b -1 -o cat _PID=1 | grep -E "multi-user.target|mnt-replfs|metad|datad@" | tail -n 40 > /root/shutdown.log
   journalctl -b -1 -o cat _PID=1 | awk "
     /^Stopped target multi-user.target/ { s = 1; u = 0; d = 0 }
     s && /^Unmounted mnt-replfs[.]mount/ { if (!u) u = NR }
     s && /^Stopping (metad|datad@[0-9]+)[.]service/ { if (!d) d = NR }
     END { exit !(u && d && u < d) }" || { sed "s/^/    | /" /root/shutdown.log; exit 1; }'
ct_wait "the fstab mount is back" 60 "grep -q '^127.0.0.1:9190 $MNT fuse.replfs ' /proc/mounts"
ct_check "data intact after the reboot" \
  "cmp /root/ref $MNT/f && [ \"\$(cat $MNT/hello)\" = hello ] && cmp /usr/bin/bash $MNT/dir/bash"
ct_wait "fsctl status: HEALTHY after the reboot" 60 'fsctl status'
if [ -c /dev/autofs ]; then
  ct_check "x-systemd.automount: /mnt/auto is an autofs trigger" "grep -q ' /mnt/auto autofs ' /proc/mounts"
  ct_check "x-systemd.automount: the first access mounts the cluster" \
    "[ \"\$(cat /mnt/auto/hello)\" = hello ] && grep -q '^127.0.0.1:9190 /mnt/auto fuse.replfs ' /proc/mounts"
else
  echo "SKIP x-systemd.automount checks: no /dev/autofs on this host"
fi
ct_check "metad came back socket-activated (metad.socket enabled)" 'systemctl is-active -q metad.socket'

step "11. upgrade to $v2 with data present"
check "running before the upgrade" ct_all_active metad datad@2222 datad@3333 datad@4444
declare -A pid_was
for u in metad datad@2222 datad@3333 datad@4444; do pid_was[$u]="$(ct systemctl show -P MainPID "$u")"; done
metad_sock="$(socket_id metad.socket 9190)"
datad_sock="$(socket_id datad@2222.socket 2222)"
if ct_net sh -c "cd /root && apt-get install -y -q ./$(basename "${debs[1]}")" >>"$run_dir/apt.log" 2>&1; then
  ok "apt install ./$(basename "${debs[1]}")"
else
  tail -30 "$run_dir/apt.log"
  fail "upgrade"
fi
ct_check "dpkg says $v2 is installed" "[ \"\$(dpkg-query -W -f='\${Version}' replfs)\" = '$v2' ]"
ct_check "the operator's conffile change survived" 'grep -q "^dead_after_ms = 3000$" /etc/replfs/replfs.conf'
for u in metad datad@2222 datad@3333 datad@4444; do
  ct_check "$u was restarted on the new binary" \
    "systemctl is-active -q $u && [ \"\$(systemctl show -P MainPID $u)\" != '${pid_was[$u]}' ]"
done
check "metad.socket stayed open through the upgrade ($metad_sock)" \
  same_socket metad.socket 9190 "$metad_sock"
check "datad@2222.socket stayed open through the upgrade's try-restart ($datad_sock)" \
  same_socket datad@2222.socket 2222 "$datad_sock"
ct_wait "fsctl status: HEALTHY after the upgrade" 60 'fsctl status'
ct_check "data intact after the upgrade" "cmp /root/ref $MNT/f && cmp /usr/bin/bash $MNT/dir/bash"

step "12. apt remove, then purge"
ct_check "umount $MNT /mnt/auto" "umount $MNT && { ! grep -q ' /mnt/auto fuse.replfs ' /proc/mounts || umount /mnt/auto; }"
if ct_net apt-get remove -y -q replfs >>"$run_dir/apt.log" 2>&1; then ok "apt remove replfs"; else
  tail -30 "$run_dir/apt.log"
  fail "apt remove"
fi
check "every replfs unit stopped" \
  ct_none_active metad.service metad.socket datad@2222.service datad@3333.service \
  datad@4444.service datad@2222.socket datad@3333.socket datad@4444.socket
ct_check "nothing listens on 9190 any more" '! grep -qEi ":23E6 0+:0000 0A" /proc/net/tcp6 /proc/net/tcp'
ct_check "data kept in /var/lib/replfs" \
  'test -n "$(ls -A /var/lib/replfs/metad)" -a -n "$(ls -A /var/lib/replfs/datad-2222)"'
ct_check "config kept after remove" 'test -f /etc/replfs/replfs.conf'
if ct_net apt-get purge -y -q replfs >>"$run_dir/apt.log" 2>&1; then ok "apt purge replfs"; else
  tail -30 "$run_dir/apt.log"
  fail "apt purge"
fi
ct_check "config removed by purge" '! test -e /etc/replfs'
ct_check "data still kept after purge (remove it by hand)" 'test -n "$(ls -A /var/lib/replfs/datad-2222)"'
ct_check "no enablement links left" '! ls /etc/systemd/system/*.wants/ 2>/dev/null | grep -q "metad\|datad@"'

step "13. power off"
ct systemctl poweroff || true
wait_down
ok "container stopped"
summary
