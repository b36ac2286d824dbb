# OpenSSL's command line: certificates made the usual way (`openssl req -x509`)
# for the TLS tests, and `openssl s_client` as a TLS peer.
need_packages openssl ca-certificates
openssl version >/dev/null 2>&1 || preflight_fail "openssl does not run: install the openssl package"
