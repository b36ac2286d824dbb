# postsrsd: the Sender Rewriting Scheme daemon Postfix sites run (libsrs2's
# format), the real peer the mail server's SRS addresses are checked against
# (crates/mail-server/tests/srs_postsrsd.rs starts its own instance with a
# test secret and domain). Debian's package only starts a service under
# systemd; the test runs the binary itself.
need_packages postsrsd
command -v postsrsd >/dev/null 2>&1 || [ -x /usr/sbin/postsrsd ] \
  || preflight_fail "postsrsd is missing: install the postsrsd package"
