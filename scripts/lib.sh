# Shared by scripts/quickstart and scripts/test. Source it; do not run it.

REPLFS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLFS_BUILD="${REPLFS_BUILD:-$REPLFS_ROOT/build}"

# Every Debian package the build, the tests and the quick start need.
REPLFS_PACKAGES=(
  build-essential cmake pkg-config
  thrift-compiler libthrift-dev libboost-dev
  libfuse3-dev fuse3
  libkyotocabinet-dev libsystemd-dev libssl-dev
  libgtest-dev libgmock-dev
  libcli11-dev nlohmann-json3-dev libinih-dev
  attr diffutils coreutils procps
  systemd-container debootstrap
  iproute2 util-linux
  fio python3
  clang libclang-rt-14-dev
)

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs whatever is missing, quickly when everything is present.
install_deps() {
  local missing=()
  local p
  for p in "${REPLFS_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}): run as root or install them"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}

# Configures (once) and builds everything into $REPLFS_BUILD.
build_all() {
  local jobs
  jobs="$(nproc)"
  if [ ! -f "$REPLFS_BUILD/CMakeCache.txt" ]; then
    log "configuring in $REPLFS_BUILD"
    cmake -S "$REPLFS_ROOT" -B "$REPLFS_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  log "building with $jobs jobs"
  cmake --build "$REPLFS_BUILD" -j "$jobs"
}
