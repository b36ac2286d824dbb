# Python's imaplib: the real IMAP client of imap-blocking's end-to-end tests
# (standard library; needs Python with ssl).
python3 - <<'PY' || preflight_fail "Python lacks imaplib or ssl (package: python3)"
import imaplib, ssl
assert hasattr(imaplib, "IMAP4_SSL")
PY
