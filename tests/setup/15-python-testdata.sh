# Python's own email test messages (test/test_email/data in a CPython installation): the corpus
# of crates/mime-codec/tests/corpus_differential.rs, which exports where they are as
# MAILWIRE_PYTHON_EMAIL_DATA. A python3 built from source has them; Debian's keeps them in
# libpython3.X-testsuite, under /usr/lib/python3.X/test.
python_email_data() {
  python3 - <<'PY' 2>/dev/null
import os, test.test_email
d = os.path.join(os.path.dirname(test.test_email.__file__), 'data')
assert os.path.isfile(os.path.join(d, 'msg_01.txt'))
print(d)
PY
}
python_email_data_dir=$(python_email_data || true)
if [ -z "$python_email_data_dir" ]; then
  python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  testsuite="libpython${python_version}-testsuite"
  # Install it only where the distribution has it (a fresh machine may have no package lists).
  if apt-cache show "$testsuite" >/dev/null 2>&1 \
    || { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 && apt-cache show "$testsuite" >/dev/null 2>&1; }; then
    need_packages "$testsuite"
  fi
  python_email_data_dir=$(python_email_data || true)
  # A python3 that is not Debian's (pyenv, say) does not see Debian's copy; use it directly.
  for d in "/usr/lib/python${python_version}/test/test_email/data" /usr/lib/python3*/test/test_email/data; do
    [ -z "$python_email_data_dir" ] && [ -f "$d/msg_01.txt" ] && python_email_data_dir=$d
  done
fi
if [ -n "$python_email_data_dir" ]; then
  export MAILWIRE_PYTHON_EMAIL_DATA="$python_email_data_dir"
else
  preflight_fail "Python's email test messages (test/test_email/data/msg_01.txt) are missing for python3 ${python_version:-?}: install libpython${python_version:-3.X}-testsuite"
fi
