# swaks: a real SMTP client (tests/peers_swaks.rs). Its TLS and AUTH support come
# from Perl modules that Debian only recommends, so each is installed by name:
#   libnet-ssleay-perl, libio-socket-ssl-perl  STARTTLS and implicit TLS
#   libauthen-sasl-perl                        AUTH
#   libdigest-hmac-perl                        AUTH CRAM-MD5
need_packages swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl
# `swaks --support` lists each feature as "=== NAME supported" or
# "*** NAME not available: requires MODULE".
swaks_support=$(swaks --support 2>&1 || true)
swaks_supports() {
  local feature=$1 package=$2
  grep -qx "=== $feature supported" <<<"$swaks_support" \
    || preflight_fail "swaks lacks $feature: install $package ($(grep -F "$feature" <<<"$swaks_support" | head -1))"
}
swaks_supports TLS "libnet-ssleay-perl and libio-socket-ssl-perl"
swaks_supports "Basic AUTH" libauthen-sasl-perl
swaks_supports "AUTH CRAM-MD5" libdigest-hmac-perl
