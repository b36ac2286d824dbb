# PostgreSQL for the shared spool's tests: a private cluster made with initdb
# in this run's directory, listening on 127.0.0.1 on a free port, trusting
# local connections (nothing else can reach it), stopped by pg_ctl at the end.
need_packages postgresql postgresql-client
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
  preflight_fail "PostgreSQL's initdb and pg_ctl are missing: install the postgresql package"
else
  pg_dir="$run_dir/postgres"
  mkdir -p "$pg_dir"
  chown postgres "$pg_dir"
  pg_port=$(free_port)
  if runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >"$pg_dir/initdb.log" 2>&1 \
    && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
         -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >/dev/null; then
    register_cleanup "runuser -u postgres -- '$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast stop >/dev/null 2>&1"
    export MAILWIRE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
  else
    preflight_fail "PostgreSQL did not start (see $pg_dir/initdb.log and $pg_dir/server.log): install the postgresql package"
  fi
fi
