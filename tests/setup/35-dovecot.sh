# Dovecot: the reference IMAP server whose ENVELOPE and BODYSTRUCTURE answers
# imap-blocking's tests/dovecot.rs compares with ours, and the reader that
# maildrop's tests/dovecot.rs checks the mailbox store's files with. The test starts its own
# private instance (dovecot -F -c PRIVATE.conf) on a loopback port; only the
# package is needed here. Its packaged service is never started.
need_packages dovecot-core dovecot-imapd
dovecot_bin=$(command -v dovecot || echo /usr/sbin/dovecot)
"$dovecot_bin" --version >/dev/null 2>&1 || preflight_fail "dovecot does not run: install dovecot-imapd"
getent passwd dovecot >/dev/null || preflight_fail "the dovecot user is missing: install dovecot-core"
