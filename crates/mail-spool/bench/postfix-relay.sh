#!/usr/bin/env bash
# The reference for docs/benchmarks.md ("Spool and delivery"): a private
# Postfix instance on loopback takes N messages of 2 KB from smtp-source
# (S sessions) into its fsync'd queue and relays them to smtp-sink; the time
# runs from the first injection until the sink has counted all N.
#
#   bash crates/mail-spool/bench/postfix-relay.sh N SESSIONS [CPU]
#
# Needs root (Postfix's master runs as root and drops privileges) and the
# postfix package installed but not started. CPU pins every process to one
# core (taskset -c CPU), as the other rows of the comparison are run.
set -euo pipefail
n=${1:?messages}
sessions=${2:?sessions}
pin=()
[ -n "${3:-}" ] && pin=(taskset -c "$3")
dir=$(mktemp -d /tmp/mailwire-postfix.XXXXXX)
chmod 755 "$dir"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
smtpd_port=$(free_port)
sink_port=$(free_port)
mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
cp /etc/postfix/master.cf "$dir/etc/master.cf"
cp /etc/postfix/dynamicmaps.cf "$dir/etc/" 2>/dev/null || true
sed -i "s/^smtp      inet  n       -       y       -       -       smtpd/127.0.0.1:$smtpd_port inet n - n - - smtpd/" "$dir/etc/master.cf"
# chroot off for every service
sed -i -E 's/^([a-z0-9:.]+ +[a-z]+ +[-ny] +[-ny] +)y/\1n/' "$dir/etc/master.cf"
cat > "$dir/etc/main.cf" <<CF
compatibility_level = 3.6
config_directory = $dir/etc
queue_directory = $dir/queue
data_directory = $dir/data
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
myhostname = bench.localdomain
relayhost = [127.0.0.1]:$sink_port
smtp_dns_support_level = disabled
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
default_destination_concurrency_limit = 20
smtp_destination_concurrency_limit = 20
CF
chown -R postfix "$dir/data"
cleanup() {
  postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
"${pin[@]}" smtp-sink -c -u nobody "127.0.0.1:$sink_port" 1000 > "$dir/sink.out" 2>&1 &
sink_pid=$!
postfix -c "$dir/etc" start >/dev/null
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $smtpd_port), 1)" 2>/dev/null && break
  sleep 0.1
done
# smtp-sink -c rewrites one counter line with CR (`sess=N quit=N mesg=N`):
# the last mesg= is the count of messages received.
count() { tr '\r' '\n' < "$dir/sink.out" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2; }
start=$(date +%s.%N)
"${pin[@]}" smtp-source -s "$sessions" -m "$n" -l 2048 -f bench@sender.test -t user@dest.test "127.0.0.1:$smtpd_port"
injected=$(date +%s.%N)
until [ "$(count)" -ge "$n" ] 2>/dev/null; do sleep 0.01; done
end=$(date +%s.%N)
python3 - "$n" "$sessions" "$start" "$injected" "$end" <<'PY'
import sys
n, s, a, b, c = int(sys.argv[1]), sys.argv[2], *map(float, sys.argv[3:])
print(f"postfix injection alone ({s} sessions): {n} in {b-a:.3f} s = {n/(b-a):.0f}/s")
print(f"postfix end to end, {s} sessions: {n} in {c-a:.3f} s = {n/(c-a):.0f}/s")
PY
