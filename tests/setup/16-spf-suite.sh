# The public SPF test suite for RFC 7208 (the openspf.org suite), run by
# crates/mailwire-auth/tests/spf_suite.rs. It is not copied into this repository: its license
# asks that its notice travel with it, so it is taken, unchanged, from the pyspf source release
# on PyPI that distributes it (test/rfc7208-tests.yml), checked against a pinned hash, and
# exported as MAILWIRE_TEST_SPF_SUITE.
spf_suite_sha256=901f561a6e2b1c1590a40a61b1ac7601226fd7045a7aae591a4d25421358d6f9
spf_suite_cache=${MAILWIRE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mailwire-tests}
spf_suite_file=$spf_suite_cache/rfc7208-tests.yml
if ! echo "$spf_suite_sha256  $spf_suite_file" | sha256sum --check --status 2>/dev/null; then
  mkdir -p "$spf_suite_cache" "$run_dir/pyspf"
  python3 -m pip --version >/dev/null 2>&1 || need_packages python3-pip
  if python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$run_dir/pyspf" pyspf==2.0.14 >/dev/null 2>&1 \
    && tar -xzf "$run_dir/pyspf/pyspf-2.0.14.tar.gz" -C "$run_dir/pyspf" pyspf-2.0.14/test/rfc7208-tests.yml; then
    cp "$run_dir/pyspf/pyspf-2.0.14/test/rfc7208-tests.yml" "$spf_suite_file.tmp" && mv "$spf_suite_file.tmp" "$spf_suite_file"
  fi
fi
if echo "$spf_suite_sha256  $spf_suite_file" | sha256sum --check --status 2>/dev/null; then
  export MAILWIRE_TEST_SPF_SUITE=$spf_suite_file
else
  preflight_fail "the RFC 7208 SPF test suite could not be fetched: pip download pyspf==2.0.14 (needs python3-pip and network access to PyPI)"
fi
