#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3 is the MIME oracle for the differential tests (standard library only).
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }

# aiosmtpd is the real SMTP server the smtp-blocking client is tested against.
python3 -m pip --version >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-pip; }
python3 -c 'import aiosmtpd' 2>/dev/null \
  || python3 -m pip install --quiet aiosmtpd \
  || python3 -m pip install --quiet --break-system-packages aiosmtpd

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
