# Postfix's smtp-sink and smtp-source: a fast real server for our client and a
# load generator. The Postfix package is installed unconfigured; the mail system
# is started only by tests that start a private instance of their own.
if ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q "install ok installed"; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  need_packages postfix
fi
for tool in smtp-sink smtp-source; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] \
    || preflight_fail "$tool is missing: install the postfix package"
done
