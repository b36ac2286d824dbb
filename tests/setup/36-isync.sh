# isync's mbsync: a real IMAP sync tool (OpenSSL, Cyrus SASL) for
# imap-blocking's tests/mbsync.rs, which pulls folders over STARTTLS.
need_packages isync
mbsync --version >/dev/null 2>&1 || preflight_fail "mbsync does not run: install isync"
