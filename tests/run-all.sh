#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian packages, running `apt-get update` once at most.
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# python3 is the MIME oracle for the differential tests (standard library only),
# and its smtplib a real client of `mailwire serve`.
command -v python3 >/dev/null || apt_install python3

# aiosmtpd is the real SMTP server the smtp-blocking client is tested against.
python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
python3 -c 'import aiosmtpd' 2>/dev/null \
  || python3 -m pip install --quiet aiosmtpd \
  || python3 -m pip install --quiet --break-system-packages aiosmtpd

# swaks is a real client of `mailwire serve` (tests/peers_swaks.rs).
command -v swaks >/dev/null || apt_install swaks

# Postfix's smtp-sink and smtp-source are a real server for our client and a load
# generator. Only those two tools are used: the Postfix mail system is installed
# unconfigured and never started.
if ! command -v smtp-sink >/dev/null && [ ! -x /usr/sbin/smtp-sink ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt_install postfix
fi

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
