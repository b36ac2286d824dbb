# Mail authentication peers (crates/mailwire-auth/tests/peers_dkim.rs); DNS for
# the SPF/DMARC and domain doctor tests comes from 25-dnsmasq.sh.
#   opendkim        the OpenDKIM filter; its test mode (`opendkim -t`) signs and verifies
#   dkimpy (PyPI)   a second DKIM implementation (its Python API signs and verifies), with
#   pynacl (PyPI)   which dkimpy needs for ed25519-sha256
#   authres (PyPI)  which dkimpy needs to seal ARC sets (tests/peers_arc.rs)
need_packages opendkim
pip_module dkim dkimpy
pip_module nacl pynacl
pip_module authres authres
opendkim_bin=$(command -v opendkim || echo /usr/sbin/opendkim)
"$opendkim_bin" -V 2>/dev/null | grep -q "ed25519" \
  || preflight_fail "opendkim is missing or lacks ed25519-sha256: install the opendkim package"
python3 -c 'import dkim, nacl.signing, authres; assert hasattr(dkim, "arc_sign")' 2>/dev/null \
  || preflight_fail "Python lacks dkim, nacl or authres (pip: dkimpy, pynacl, authres)"
export MAILWIRE_TEST_OPENDKIM=$opendkim_bin
