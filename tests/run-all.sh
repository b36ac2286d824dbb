#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3 is the MIME oracle for the differential tests (standard library only).
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }

# aiosmtpd is the real SMTP server the smtp-blocking client is tested against.
python3 -m pip install --quiet aiosmtpd

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
