# dnsmasq: a real DNS server for the tests that resolve (MX routing, SPF, DKIM,
# DMARC). Each test starts its own on a loopback port with its own records
# (mail-dns's `testing` module); only the package is needed here.
need_packages dnsmasq-base
dnsmasq_bin=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
"$dnsmasq_bin" --version >/dev/null 2>&1 || preflight_fail "dnsmasq does not run: install dnsmasq-base"
