# ClamAV's clamd: a real virus scanner for mail-filter's tests (crates/
# mail-filter/tests/clamd.rs). freshclam cannot reach the network on a test
# machine, so the signature database is ours: one .ndb file with two body
# signatures, the EICAR test string and a project pattern
# (MAILWIRE-CLAMD-TEST-SIGNATURE), written here into a private
# DatabaseDirectory. clamd listens on a free loopback port with a 1 MiB
# StreamMaxLength (so the size-limit error is cheap to provoke).
need_packages clamav-daemon
clamd_bin=$(command -v clamd || echo /usr/sbin/clamd)
if ! "$clamd_bin" --version >/dev/null 2>&1; then
  preflight_fail "clamd does not run: install the clamav-daemon package"
else
  clamd_dir="$run_dir/clamd"
  mkdir -p "$clamd_dir/db" "$clamd_dir/tmp"
  clamd_port=$(free_port)
  clamd_hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
  clamd_eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
  printf 'Mailwire.Test.Eicar:0:*:%s\nMailwire.Test.Pattern:0:*:%s\n' \
    "$(clamd_hex "$clamd_eicar")" "$(clamd_hex 'MAILWIRE-CLAMD-TEST-SIGNATURE')" \
    > "$clamd_dir/db/mailwire-test.ndb"
  cat > "$clamd_dir/clamd.conf" <<EOF
Foreground yes
TCPSocket $clamd_port
TCPAddr 127.0.0.1
DatabaseDirectory $clamd_dir/db
TemporaryDirectory $clamd_dir/tmp
LogFile $clamd_dir/clamd.log
StreamMaxLength 1M
MaxThreads 4
SelfCheck 3600
EOF
  "$clamd_bin" -c "$clamd_dir/clamd.conf" >"$clamd_dir/stdout.log" 2>&1 &
  clamd_pid=$!
  register_pid "$clamd_pid"
  clamd_up=""
  for _ in $(seq 300); do
    if [ "$(python3 - "$clamd_port" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"zPING\0")
print(s.recv(16).rstrip(b"\0").decode())
EOF
)" = PONG ]; then
      clamd_up=1
      break
    fi
    kill -0 "$clamd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$clamd_up" ]; then
    export MAILWIRE_TEST_CLAMD_ADDR="127.0.0.1:$clamd_port"
  else
    preflight_fail "clamd did not answer PING within 30 s (see $clamd_dir/clamd.log): install the clamav-daemon package"
  fi
fi
