# Prometheus's own Python client (Debian: python3-prometheus-client): its
# text parser is the scraper of crates/mail-metrics/tests/endpoint.rs, which
# fetches /metrics with urllib. python3-yaml reads docs/alerts.yml for
# crates/mail-metrics/tests/alerts.rs. Debian installs both for Debian's
# Python, which need not be the python3 first on PATH (pyenv, say): the
# tests run the one exported here.
need_packages python3-prometheus-client python3-yaml
prometheus_python=""
for candidate in "$(command -v python3)" /usr/bin/python3; do
  if [ -n "$candidate" ] && "$candidate" -c 'import prometheus_client.parser, yaml, urllib.request' 2>/dev/null; then
    prometheus_python=$candidate
    break
  fi
done
if [ -n "$prometheus_python" ]; then
  export MAILWIRE_TEST_PROMETHEUS_PYTHON="$prometheus_python"
else
  preflight_fail "no Python imports prometheus_client.parser and yaml: install python3-prometheus-client and python3-yaml"
fi
