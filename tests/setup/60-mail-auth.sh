# Mail authentication peers (crates/mailwire-auth/tests/peers_*.rs, the domain doctor's tests):
#   opendkim        the OpenDKIM filter; its test mode (`opendkim -t`) signs and verifies
#   dnsmasq-base    a real DNS server on a loopback port, serving each test's own records
#   dkimpy (PyPI)   a second DKIM implementation (its Python API signs and verifies), with
#   pynacl (PyPI)   which dkimpy needs for ed25519-sha256
need_packages opendkim dnsmasq-base
pip_module dkim dkimpy
pip_module nacl pynacl
opendkim_bin=$(command -v opendkim || echo /usr/sbin/opendkim)
"$opendkim_bin" -V 2>/dev/null | grep -q "ed25519" \
  || preflight_fail "opendkim is missing or lacks ed25519-sha256: install the opendkim package"
dnsmasq_bin=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$dnsmasq_bin" ] || preflight_fail "dnsmasq is missing: install the dnsmasq-base package"
python3 -c 'import dkim, nacl.signing; assert hasattr(dkim, "sign")' 2>/dev/null \
  || preflight_fail "Python lacks dkim or nacl (pip: dkimpy, pynacl)"
export MAILWIRE_TEST_OPENDKIM=$opendkim_bin
export MAILWIRE_TEST_DNSMASQ=$dnsmasq_bin
