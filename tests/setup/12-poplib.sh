# Python's poplib: the real POP3 client of pop3-blocking's end-to-end tests
# (standard library; needs Python with ssl and hashlib).
python3 - <<'PY' || preflight_fail "Python lacks poplib, ssl or hashlib (package: python3)"
import poplib, ssl, hashlib
assert hasattr(poplib, "POP3_SSL")
PY
