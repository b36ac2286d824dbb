# mpop: a real POP3 client (GnuTLS, GNU SASL) for pop3-blocking's tests/mpop.rs.
need_packages mpop
mpop --version 2>/dev/null | grep -q "plain" \
    || preflight_fail "mpop lacks SASL PLAIN support (package: mpop)"
