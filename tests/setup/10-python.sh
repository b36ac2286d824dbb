# Python: the MIME oracle of the differential tests (standard library `email`),
# smtplib as a real client, and aiosmtpd as a real server.
pip_module aiosmtpd aiosmtpd
python3 - <<'PY' || preflight_fail "Python lacks ssl, smtplib, email or aiosmtpd (packages: python3, python3-pip; pip: aiosmtpd)"
import ssl, smtplib, email, email.policy, hmac, aiosmtpd.controller, aiosmtpd.smtp
assert ssl.OPENSSL_VERSION
PY
