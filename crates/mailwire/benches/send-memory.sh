#!/usr/bin/env bash
# Peak memory of a client sending one large attachment over loopback SMTP:
# `mailwire send --attach`, swaks `--attach @FILE` and Python smtplib with
# email.message, each to Postfix's smtp-sink (which keeps nothing), in the
# same run. Peak RSS is GNU time's "Maximum resident set size".
#
#   cargo build --release -p mailwire
#   bash crates/mailwire/benches/send-memory.sh [SIZE_MB]   (default 100)
#
# Needs: smtp-sink (postfix), swaks, python3, /usr/bin/time.
set -euo pipefail
size_mb=${1:-100}
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=${MAILWIRE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/mailwire}
[ -x "$bin" ] || { echo "build first: cargo build --release -p mailwire ($bin)" >&2; exit 1; }
for tool in smtp-sink swaks python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
work=$(mktemp -d)
sink_pid=
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$work/big.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=()
[ "$(id -u)" = 0 ] && user=(-u nobody)
smtp-sink "${user[@]}" 127.0.0.1:"$port" 100 &
sink_pid=$!
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port)).close()" 2>/dev/null && break
    sleep 0.1
done

peak() { # label, command...
    local label=$1; shift
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -v "$@" > "$work/out" 2> "$work/time" || { cat "$work/out" "$work/time" >&2; echo "$label failed" >&2; exit 1; }
    end=$(date +%s.%N)
    local kb
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
    printf '| %-28s | %8.1f MB | %6.2f s |\n' "$label" "$(echo "$kb / 1024" | bc -l)" "$(echo "$end - $start" | bc -l)"
}

cat > "$work/smtplib_send.py" <<'PY'
import sys, smtplib, email.message
port, path = int(sys.argv[1]), sys.argv[2]
msg = email.message.EmailMessage()
msg["From"] = "a@b.example"; msg["To"] = "c@d.example"; msg["Subject"] = "big"
msg.set_content("see attached")
with open(path, "rb") as f:
    msg.add_attachment(f.read(), maintype="application", subtype="octet-stream", filename="big.bin")
with smtplib.SMTP("127.0.0.1", port) as s:
    s.send_message(msg)
PY

echo "attachment: $size_mb MiB of random bytes; server: smtp-sink on 127.0.0.1:$port"
echo "| client                       | peak RSS    | time     |"
echo "|---|---|---|"
peak "mailwire send --attach" "$bin" send --server 127.0.0.1:"$port" --security none \
    --from a@b.example --to c@d.example --subject big --text "see attached" --attach "$work/big.bin"
peak "swaks --attach @FILE" swaks --server 127.0.0.1:"$port" --from a@b.example --to c@d.example \
    --header "Subject: big" --body "see attached" --attach-type application/octet-stream \
    --attach @"$work/big.bin" --suppress-data
peak "Python smtplib (email pkg)" python3 "$work/smtplib_send.py" "$port" "$work/big.bin"
