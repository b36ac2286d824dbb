"""The JSON API driven by Python's http.client and urllib (clients we did
not write), including hostile input. Run by tests/api.rs:

    python3 api_client.py BASE_URL MAILDIR

Exits non-zero with the failed check on any failure."""

import http.client
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE, MAILDIR = sys.argv[1], sys.argv[2]
HOST, PORT = urllib.parse.urlsplit(BASE).hostname, urllib.parse.urlsplit(BASE).port
SUBJECT = "季度报告：你好，世界"
ATTACHMENT_NAME = "报告 2026.bin"


def attachment_bytes():
    return bytes((((i * 2654435761) & 0xFFFFFFFF) >> 13) & 0xFF for i in range(70000)) + bytes(range(256))


def request(method, path, headers=None):
    conn = http.client.HTTPConnection(HOST, PORT, timeout=10)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def get_json(path):
    with urllib.request.urlopen(BASE + path, timeout=10) as r:
        assert r.headers["Content-Type"] == "application/json", r.headers["Content-Type"]
        return json.load(r)


_last = [time.monotonic()]


def check(cond, what):
    now = time.monotonic()
    if now - _last[0] > 1 and os.environ.get("API_TIMING"):
        print("slow: %.1f s before %r" % (now - _last[0], str(what)[:80]), file=sys.stderr)
    _last[0] = now
    if not cond:
        raise AssertionError(what)


def raw_exchange(data, read_timeout=10):
    """Sends bytes as they are and returns what the server answers before closing."""
    s = socket.create_connection((HOST, PORT), timeout=read_timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return out


def deliver(data):
    name = "%d.M%dP%d.pytest" % (time.time(), time.time_ns() % 1000000, os.getpid())
    tmp = os.path.join(MAILDIR, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(MAILDIR, "new", name))
    return name


def file_of(msg_id):
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(MAILDIR, sub)):
            if n.split(":")[0] == msg_id:
                return os.path.join(MAILDIR, sub, n)
    return None


# --- the list, newest first, with paging
listing = get_json("/api/messages")
check(listing["total"] == 4 and listing["count"] == 4, listing)
subjects = [m["subject"] for m in listing["messages"]]
check(subjects == ["Rechnung 3", "invoice two", "hello one", SUBJECT], subjects)
for m in listing["messages"]:
    for key in ("id", "from", "to", "subject", "date", "size", "received"):
        check(key in m, (key, m))
    check(m["size"] == os.path.getsize(file_of(m["id"])), m)
page = get_json("/api/messages?limit=2&start=1")
check([m["subject"] for m in page["messages"]] == subjects[1:3], page)
check(page["start"] == 1 and page["count"] == 2 and page["total"] == 4, page)
status, _, _ = request("GET", "/api/messages?limit=x")
check(status == 400, status)

# --- one message: Chinese subject and names decoded, parts listed
sample = listing["messages"][3]
check(sample["from"] == {"name": "张三", "address": "zhang@example.com"}, sample["from"])
check(sample["to"] == [{"name": "李四", "address": "li@example.org"}], sample["to"])
sid = sample["id"]
detail = get_json("/api/messages/" + urllib.parse.quote(sid))
check(detail["subject"] == SUBJECT, detail["subject"])
check(detail["from"]["name"] == "张三", detail["from"])
check(detail["text"].startswith("你好！见附件。"), detail["text"])
check("cid:logo@mailwire.test" in detail["html"], detail["html"])
check(detail["remoteContent"] is True, "remote content not flagged")
check(any(h["name"] == "Subject" and h["value"] == SUBJECT for h in detail["headers"]), detail["headers"])
check(len(detail["attachments"]) == 1, detail["attachments"])
att = detail["attachments"][0]
check(att["fileName"] == ATTACHMENT_NAME and att["size"] == len(attachment_bytes()), att)
check(len(detail["inline"]) == 1 and detail["inline"][0]["contentType"] == "image/png", detail["inline"])

status, headers, body = request("GET", att["url"])
check(status == 200 and body == attachment_bytes(), (status, len(body)))
check(headers["content-type"] == "application/octet-stream", headers)
check(headers["content-disposition"].startswith("attachment;"), headers)
check("filename*=UTF-8''" + urllib.parse.quote(ATTACHMENT_NAME, safe="") in headers["content-disposition"], headers)
check("sandbox" in headers["content-security-policy"], headers)
status, headers, body = request("GET", detail["inline"][0]["url"])
check(status == 200 and body.startswith(b"\x89PNG") and headers["content-type"] == "image/png", headers)
status, _, _ = request("GET", "/api/messages/%s/parts/9" % urllib.parse.quote(sid))
check(status == 404, status)

# raw: byte for byte the stored file
status, headers, body = request("GET", "/api/messages/%s/raw" % urllib.parse.quote(sid))
with open(file_of(sid), "rb") as f:
    check(status == 200 and body == f.read(), "raw differs")
check(headers["content-type"].startswith("text/plain"), headers)

# the HTML for the sandboxed frame: cid: pointed at the part, remote blocked
status, headers, body = request("GET", "/api/messages/%s/html" % urllib.parse.quote(sid))
csp = headers["content-security-policy"]
check(status == 200 and "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp, csp)
check("http:" not in csp, csp)
check(detail["inline"][0]["url"].encode() in body, body)
status, headers, body = request("GET", "/api/messages/%s/html?remote=1" % urllib.parse.quote(sid))
check("img-src 'self' data: http: https:" in headers["content-security-policy"], headers)

# --- search
def search(q):
    return [m["subject"] for m in get_json("/api/search?" + urllib.parse.urlencode({"query": q}))["messages"]]

check(search("from:张三") == [SUBJECT], search("from:张三"))
check(search("to:li@example.org") == [SUBJECT], search("to:li@example.org"))
check(search("subject:invoice") == ["invoice two"], search("subject:invoice"))
check(search("INVOICE") == ["invoice two"], search("INVOICE"))
check(search('from:"Alice Example"') == ["hello one"], search('from:"Alice Example"'))
check(search("to:boss@example.net") == [SUBJECT], "cc is a recipient")
check(sorted(search("-invoice")) == sorted(s for s in subjects if s != "invoice two"), search("-invoice"))
check(search("nothing-matches-this") == [], "no match")
check(get_json("/api/search?query=example.com&limit=1")["messagesCount"] >= 2, "count of all matches")

# --- hostile input: ids that try to leave the Maildir, bad encodings, methods, hosts
secret = os.path.join(MAILDIR, "..", "secret.txt")
for bad in ["..", "...", ".hidden", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "a%2fb", "..%5c..%5cwin.ini", "%00", "x%ZZ", "%C0%AE%C0%AE", "a" * 71, "tmp", "new",
            "..%2fsecret.txt", "%2e%2e%2fsecret.txt", "%2Fetc%2Fpasswd"]:
    for suffix in ("", "/raw", "/parts/1", "/html"):
        status, _, body = request("GET", "/api/messages/" + bad + suffix)
        check(status in (400, 404), (bad, suffix, status, body[:200]))
        check(b"root:" not in body, (bad, suffix))
# an unencoded traversal as a raw request line (clients normalise it away)
out = raw_exchange(b"GET /api/messages/../../../../etc/passwd/raw HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
check(out.startswith(b"HTTP/1.1 400") or out.startswith(b"HTTP/1.1 404"), out[:100])
check(b"root:" not in out, "traversal leaked a file")
out = raw_exchange(("GET /api/messages/%s/../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % sid).encode())
check(out.startswith(b"HTTP/1.1 404") or out.startswith(b"HTTP/1.1 400"), out[:100])

status, headers, _ = request("POST", "/api/messages")
check(status == 405 and "DELETE" in headers["allow"], (status, headers))
status, _, _ = request("PUT", "/api/messages/" + urllib.parse.quote(sid))
check(status == 405, status)
status, _, _ = request("GET", "/nowhere")
check(status == 404, status)
status, _, _ = request("GET", "/api/messages", headers={"Host": "evil.example"})
check(status == 421, "a foreign Host name is refused (DNS rebinding)")

# malformed and oversized heads
check(raw_exchange(b"\x16\x03\x01\x00\xa5garbage\r\n\r\n").startswith(b"HTTP/1.1 400"), "garbage")
check(raw_exchange(b"GET / HTTP/1.1\r\nX: " + b"a" * 100000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431"), "huge header")
many = b"".join(b"X-%d: y\r\n" % i for i in range(200))
check(raw_exchange(b"GET / HTTP/1.1\r\n" + many + b"\r\n").startswith(b"HTTP/1.1 431"), "many headers")
check(raw_exchange(b"DELETE /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999\r\n\r\n").startswith(b"HTTP/1.1 413"), "big body")
check(raw_exchange(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n").startswith(b"HTTP/1.1 501"), "chunked")
check(get_json("/api/messages")["total"] == 4, "nothing was deleted by the hostile requests")

# a client trickling its head is cut off (head timeout: 2 s in this test)
s = socket.create_connection((HOST, PORT), timeout=10)
started = time.monotonic()
answer = b""
try:
    for b in b"GET /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
        s.send(bytes([b]))
        time.sleep(0.1)
except (BrokenPipeError, ConnectionResetError):
    pass
try:
    answer = s.recv(1000)
except (ConnectionResetError, socket.timeout):
    pass
s.close()
elapsed = time.monotonic() - started
check(answer.startswith(b"HTTP/1.1 408") or answer == b"", answer)
check(elapsed < 9, "trickling client held on for %.1f s" % elapsed)

# --- a large message is streamed; a client that never reads is dropped
big_body = b"".join(b"line %07d of a large message, padding padding padding padding\r\n" % i for i in range(200000))
big_id = deliver(b"From: big@example.com\r\nSubject: big\r\n\r\n" + big_body)
big_size = os.path.getsize(file_of(big_id))
status, _, body = request("GET", "/api/messages/%s/raw" % big_id)
check(status == 200 and len(body) == big_size, (status, len(body), big_size))
status, _, body = request("GET", "/api/messages/%s" % big_id)
check(status == 413, "the detail of a message over the parse limit is refused (%d)" % status)
# A small receive buffer, set before connecting: what the kernels can hold
# between the two ends (this buffer and the server's send buffer, which
# loopback autotuning can grow to megabytes) then stays well under the
# message, so a whole message read after the timeout means the server never
# stopped writing.
stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
stuck.settimeout(10)
stuck.connect((HOST, PORT))
stuck.sendall(("GET /api/messages/%s/raw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % big_id).encode())
time.sleep(0.5)
check(get_json("/api/messages")["total"] == 5, "others are served while a client does not read")
# Past the 2 s write timeout of this test: the server's send buffer grows
# (loopback autotuning, up to 4 MiB) for about 4 s before its writes stop
# making progress, and only then does the timeout run.
time.sleep(9.5)
got = 0
try:
    while True:
        chunk = stuck.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
except (ConnectionResetError, socket.timeout):
    pass
stuck.close()
check(got < big_size, "the server kept writing to a client that did not read (%d of %d)" % (got, big_size))

# --- the connection limit (8 in this test): more get 503, then service resumes
idle = [socket.create_connection((HOST, PORT), timeout=10) for _ in range(8)]
time.sleep(0.3)
out = raw_exchange(b"GET /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
check(out.startswith(b"HTTP/1.1 503"), out[:60])
for s in idle:
    s.close()
time.sleep(0.5)
check(get_json("/api/messages")["total"] == 5, "served again after the idle clients left")

# --- live updates: an event when mail arrives
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
buf = b""
while b'"total":5' not in buf:
    buf += s.recv(4096)
check(b"text/event-stream" in buf, buf)
deliver(b"From: live@example.com\r\nSubject: live\r\n\r\nhi\r\n")
started = time.monotonic()
while b'"total":6' not in buf:
    chunk = s.recv(4096)
    check(chunk, "event stream closed")
    buf += chunk
check(time.monotonic() - started < 3, "the event came late")
s.close()

# --- delete one, then all
status, _, body = request("DELETE", "/api/messages/" + urllib.parse.quote(sid))
check(status == 200 and json.loads(body) == {"deleted": 1}, body)
check(file_of(sid) is None, "the file is still there")
status, _, _ = request("GET", "/api/messages/" + urllib.parse.quote(sid))
check(status == 404, status)
status, _, _ = request("DELETE", "/api/messages/" + urllib.parse.quote(sid))
check(status == 404, status)
status, _, body = request("DELETE", "/api/messages")
check(status == 200 and json.loads(body) == {"deleted": 5}, body)
check(os.listdir(os.path.join(MAILDIR, "new")) == [] and os.listdir(os.path.join(MAILDIR, "cur")) == [], "files left")
check(get_json("/api/messages")["total"] == 0, "list not empty")
check(os.path.exists(os.path.join(MAILDIR, "tmp")), "tmp/ kept")
print("api checks passed")
