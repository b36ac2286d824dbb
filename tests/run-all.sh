#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests
# need (by package name, never relying on Recommends), asks each peer what it
# supports and stops with the package to install when something is missing,
# starts the servers the tests use on loopback ports, runs the tests, and stops
# those servers by process id.
#
# Each file in tests/setup/ adds one peer or server: it installs its packages,
# checks them (preflight) and, for a server, starts it and exports where it
# listens. The files are sourced in name order.
#
#   bash tests/run-all.sh              every test
#   bash tests/run-all.sh CMD ARGS...  CMD instead, with the same servers up
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Installs Debian packages, running `apt-get update` once at most.
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null
}

# Installs Debian packages that are not installed yet (by exact package name).
need_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# Installs a Python module from PyPI unless `import MODULE` already works.
pip_module() {
  local module=$1 package=$2
  python3 -c "import $module" 2>/dev/null && return 0
  python3 -m pip --version >/dev/null 2>&1 || need_packages python3-pip
  python3 -m pip install --quiet "$package" \
    || python3 -m pip install --quiet --break-system-packages "$package"
}

# Stops the run with what is missing and the package that provides it.
preflight_failures=()
preflight_fail() {
  preflight_failures+=("$1")
}

# Servers started for the tests, stopped by process id when the run ends.
service_pids=()
service_cleanups=()
register_pid() { service_pids+=("$1"); }
register_cleanup() { service_cleanups+=("$1"); }
stop_services() {
  local c p
  for c in "${service_cleanups[@]+"${service_cleanups[@]}"}"; do eval "$c" || true; done
  for p in "${service_pids[@]+"${service_pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${service_pids[@]+"${service_pids[@]}"}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
trap stop_services EXIT

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A private directory for this run's servers, removed at the end.
run_dir=$(mktemp -d /tmp/mailwire-tests.XXXXXX)
chmod 755 "$run_dir"
register_cleanup "rm -rf '$run_dir'"
export MAILWIRE_TEST_RUN_DIR="$run_dir"

command -v python3 >/dev/null || need_packages python3

for setup in tests/setup/*.sh; do
  # shellcheck source=/dev/null
  source "$setup"
done

if [ "${#preflight_failures[@]}" -gt 0 ]; then
  echo "preflight: the tests cannot run on this machine:" >&2
  printf '  - %s\n' "${preflight_failures[@]}" >&2
  exit 1
fi
echo "preflight: every peer and server is ready"

cd "$root"
# With arguments, runs them instead of the whole suite, with every server up:
#   bash tests/run-all.sh cargo test -p mailwire --test serve
if [ "$#" -gt 0 ]; then
  "$@"
  exit
fi
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
# The front door's runtime features (smol, async-std) are off by default.
cargo test -p mailer --all-features --locked
