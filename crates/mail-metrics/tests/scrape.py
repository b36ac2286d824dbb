"""A scraper we did not write: urllib fetches, prometheus_client's text
parser reads. Prints what it understood, one record per line, strings as
UTF-8 hex so nothing in them can be mistaken for the record's structure.

  scrape.py metrics URL  ->  T name type / H name hex(help) /
                             S name k=hex(v);k=hex(v) value
  scrape.py status URL   ->  status hex(body)
"""
import sys
import urllib.error
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client missing: install python3-prometheus-client "
          "(tests/run-all.sh does)", file=sys.stderr)
    sys.exit(3)


def hexed(s):
    return s.encode("utf-8").hex()


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


mode, url = sys.argv[1], sys.argv[2]
status, headers, body = fetch(url)
if mode == "status":
    print(status, hexed(body.decode("utf-8")))
    sys.exit(0)
assert status == 200, status
assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"]
for family in text_string_to_metric_families(body.decode("utf-8")):
    print("T", family.name, family.type)
    print("H", family.name, hexed(family.documentation))
    for sample in family.samples:
        labels = ";".join(f"{k}={hexed(v)}" for k, v in sorted(sample.labels.items()))
        print("S", sample.name, labels or "-", repr(float(sample.value)))
