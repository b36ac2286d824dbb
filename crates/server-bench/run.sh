#!/usr/bin/env bash
# Mail server load (issue 14), recorded in docs/benchmarks.md: builds the
# release binaries, then loads every server with the same parameters in one
# run and prints a table per mode, with ratios against Postfix.
#
#   bash crates/server-bench/run.sh                # sink and Postfix
#   SERVERS=sink,postfix,accounts bash crates/server-bench/run.sh
#
# Environment (defaults in brackets): SERVERS [sink,postfix], CONNECTIONS
# [1000], MESSAGES [10000], USERS [100], SIZE [3072], RAMP_MS [0: every
# connection opened at once], KILL_CONNECTIONS [1000], KILL_MESSAGES
# [10000], KILL_AFTER [2000].
#
# Needs root (Postfix's master runs as root and drops privileges; the
# private instance lives in a temporary directory and is started and stopped
# with `postfix -c` on it) and the postfix package installed, not started
# (tests/setup/30-postfix-tools.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "run.sh needs root (Postfix's master)" >&2; exit 1; }
command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] \
  || { echo "postfix is missing: install the postfix package (tests/setup/30-postfix-tools.sh)" >&2; exit 1; }
export PATH="$PATH:/usr/sbin"
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
servers=${SERVERS:-sink,postfix}
# 1,000 client sockets, 1,000 server sockets and Postfix's own descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open files limit: $(ulimit -n); $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release -p mailwire
# The harness is its own workspace: built into the same target directory.
(cd crates/server-bench && CARGO_TARGET_DIR="$target" cargo build --release)
bench=("$target/release/server-bench" --mailwire "$target/release/mailwire" --servers "$servers"
  --users "${USERS:-100}" --size "${SIZE:-3072}" --ramp-ms "${RAMP_MS:-0}")
"${bench[@]}" load --connections "${CONNECTIONS:-1000}" --messages "${MESSAGES:-10000}" || status=$?
echo
"${bench[@]}" kill --connections "${KILL_CONNECTIONS:-1000}" --messages "${KILL_MESSAGES:-10000}" \
  --kill-after "${KILL_AFTER:-2000}" || status=$?
exit "${status:-0}"
