# rspamd: a real spam scanner for mail-filter's tests (crates/mail-filter/
# tests/rspamd.rs). A private instance: Debian's rules with a local
# configuration of ours under $run_dir (no redis, no network: DNS goes to a
# closed loopback port so lookups fail at once; modules that need the network
# are off; a three-line TLD list instead of the public suffix list, whose
# hyperscan compilation alone takes 10-20 s). Only the normal worker runs, on
# a free loopback port. GTUBE makes it reject; two test rules of ours
# (MAILWIRE-RSPAMD-SPAMMY, MAILWIRE-RSPAMD-VERY-SPAMMY in the body) make it
# add a header or rewrite the subject, and MAILWIRE-RSPAMD-SOFT-REJECT makes
# it soft-reject.
need_packages rspamd curl
rspamd_bin=$(command -v rspamd || echo /usr/bin/rspamd)
if ! "$rspamd_bin" --version >/dev/null 2>&1 || [ ! -f /etc/rspamd/common.conf ]; then
  preflight_fail "rspamd does not run: install the rspamd package"
else
  rspamd_dir="$run_dir/rspamd"
  mkdir -p "$rspamd_dir/local/local.d" "$rspamd_dir/run" "$rspamd_dir/db" "$rspamd_dir/log"
  rspamd_port=$(free_port)
  printf 'com\norg\nnet\nexample\ntest\ninvalid\n' > "$rspamd_dir/tld.dat"
  cat > "$rspamd_dir/rspamd.conf" <<EOF
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "file";
    filename = "\$LOGDIR/rspamd.log";
    level = "warning";
}
worker "normal" {
    bind_socket = "127.0.0.1:$rspamd_port";
    .include "\$CONFDIR/worker-normal.inc"
    count = 1;
}
EOF
  cat > "$rspamd_dir/local/local.d/options.inc" <<EOF
dns {
  nameserver = ["127.0.0.1:9"];
  timeout = 0.2s;
  retransmits = 1;
}
url_tld = "$rspamd_dir/tld.dat";
gtube_patterns = "all";
EOF
  for module in rbl spf dkim dmarc asn fuzzy_check phishing url_reputation neural ratelimit \
    greylist replies dcc mx_check emails hfilter; do
    echo 'enabled = false;' > "$rspamd_dir/local/local.d/$module.conf"
  done
  cat > "$rspamd_dir/local/local.d/actions.conf" <<'EOF'
reject = 15;
rewrite_subject = 10;
add_header = 6;
greylist = null;
subject = "[SPAM] %s";
EOF
  cat > "$rspamd_dir/local/rspamd.local.lua" <<'EOF'
config['regexp']['MAILWIRE_TEST_SPAMMY'] = {
  re = '/MAILWIRE-RSPAMD-SPAMMY/{sa_body}',
  score = 7.0,
  description = 'mailwire test pattern: add a header',
}
config['regexp']['MAILWIRE_TEST_VERY_SPAMMY'] = {
  re = '/MAILWIRE-RSPAMD-VERY-SPAMMY/{sa_body}',
  score = 12.0,
  description = 'mailwire test pattern: rewrite the subject',
}
rspamd_config:register_symbol({
  name = 'MAILWIRE_TEST_SOFT_REJECT',
  type = 'prefilter',
  priority = 10,
  callback = function(task)
    local content = tostring(task:get_content())
    if content:find('MAILWIRE-RSPAMD-SOFT-REJECT', 1, true) then
      task:set_pre_result('soft reject', 'mailwire test: try again later')
    end
  end,
})
EOF
  "$rspamd_bin" -f -u root -g root -c "$rspamd_dir/rspamd.conf" \
    --var CONFDIR=/etc/rspamd --var "LOCAL_CONFDIR=$rspamd_dir/local" --var "RUNDIR=$rspamd_dir/run" \
    --var "DBDIR=$rspamd_dir/db" --var "LOGDIR=$rspamd_dir/log" \
    >"$rspamd_dir/stdout.log" 2>&1 &
  rspamd_pid=$!
  register_pid "$rspamd_pid"
  rspamd_up=""
  for _ in $(seq 300); do
    if curl -s -m 1 "http://127.0.0.1:$rspamd_port/ping" 2>/dev/null | grep -q pong; then
      rspamd_up=1
      break
    fi
    kill -0 "$rspamd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$rspamd_up" ]; then
    export MAILWIRE_TEST_RSPAMD_URL="http://127.0.0.1:$rspamd_port"
  else
    preflight_fail "rspamd did not answer /ping within 30 s (see $rspamd_dir/log/rspamd.log): install the rspamd package"
  fi
fi
