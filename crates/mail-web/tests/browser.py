"""Drives headless Chromium through chromedriver (WebDriver over plain HTTP
JSON, standard library only). Run by tests/browser.rs:

    python3 browser.py BASE_URL SMTP_PORT MESSAGE_FILE DOWNLOAD_DIR SCREENSHOT

Opens the page, sends MESSAGE_FILE through SMTP (smtplib) while the page is
open, waits for it to appear live, opens it, checks the Chinese subject and
sender, that the inline image rendered and the remote one stayed blocked,
and downloads the attachment into DOWNLOAD_DIR. Prints the downloaded
file's path; exits non-zero on any failure."""

import base64
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BASE, SMTP_PORT, MESSAGE_FILE, DOWNLOAD_DIR, SCREENSHOT = sys.argv[1:6]
SUBJECT = "季度报告：你好，世界"
ATTACHMENT_NAME = "报告 2026.bin"

driver_bin = shutil.which("chromedriver")
browser_bin = shutil.which("chromium")
if not driver_bin or not browser_bin:
    sys.exit("chromium and chromedriver are needed: run the tests through tests/run-all.sh "
             "(tests/setup/60-chromium.sh installs the Debian packages chromium and chromium-driver)")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
profile = tempfile.mkdtemp(prefix="mail-web-chromium-")
driver = subprocess.Popen([driver_bin, "--port=%d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
WD = "http://127.0.0.1:%d" % port


def wd(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(WD + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)["value"]
    except urllib.error.HTTPError as e:
        raise RuntimeError("%s %s: %s" % (method, path, e.read()[:500]))


def wait_for(what, fn, timeout=15):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (RuntimeError, OSError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


session = None
try:
    wait_for("chromedriver", lambda: wd("GET", "/status")["ready"])
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": browser_bin,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000", "--user-data-dir=" + profile],
        "prefs": {"download.default_directory": DOWNLOAD_DIR, "download.prompt_for_download": False},
    }}}}
    session = wd("POST", "/session", caps)["sessionId"]
    S = "/session/" + session

    def js(script, *args):
        return wd("POST", S + "/execute/sync", {"script": script, "args": list(args)})

    def find(css):
        return list(wd("POST", S + "/element", {"using": "css selector", "value": css}).values())[0]

    wd("POST", S + "/goog/cdp/execute", {"cmd": "Browser.setDownloadBehavior",
                                         "params": {"behavior": "allow", "downloadPath": DOWNLOAD_DIR}})
    wd("POST", S + "/url", {"url": BASE + "/"})
    wait_for("the empty list", lambda: js("return document.querySelector('#list-status').textContent") == "0 messages")
    wait_for("the live-update stream", lambda: js("return document.querySelector('#live').classList.contains('on')"))

    # Mail arrives through SMTP while the page is open: it shows up by itself.
    with open(MESSAGE_FILE, "rb") as f:
        message = f.read()
    with smtplib.SMTP("127.0.0.1", int(SMTP_PORT), timeout=10) as smtp:
        smtp.sendmail("zhang@example.com", ["li@example.org"], message)
    subject = wait_for("the message in the list",
                       lambda: js("const c = document.querySelector('#list tbody tr .subject'); return c && c.textContent"))
    assert subject == SUBJECT, subject
    sender = js("return document.querySelector('#list tbody tr .from').textContent")
    assert sender == "张三 <zhang@example.com>", sender

    wd("POST", S + "/element/%s/click" % find("#list tbody tr"), {})
    wait_for("the message view", lambda: js("return document.querySelector('#subject').textContent") == SUBJECT)
    meta = js("return document.querySelector('#meta').textContent")
    assert "张三" in meta and "李四" in meta, meta
    assert js("return !document.querySelector('#remote-bar').hidden"), "the remote-content bar is not shown"

    # Inside the sandboxed frame: the cid: image rendered, the remote one blocked.
    wait_for("the frame", lambda: js("return document.querySelector('#frame').src.endsWith('/html')"))
    wd("POST", S + "/frame", {"id": 0})  # the page's only frame
    logo = wait_for("the inline image", lambda: js(
        "const i = document.getElementById('logo'); return i && i.complete && i.naturalWidth"))
    assert logo == 16, logo
    tracker = js("const i = document.getElementById('tracker'); return [i.complete, i.naturalWidth]")
    assert tracker[1] == 0, tracker
    scripts_blocked = js("return document.scripts.length === 0")
    wd("POST", S + "/frame/parent", {})

    # The attachment downloads byte for byte (compared by the Rust test).
    wd("POST", S + "/element/%s/click" % find("#attachments a.attachment"), {})
    target = os.path.join(DOWNLOAD_DIR, ATTACHMENT_NAME)
    wait_for("the download", lambda: os.path.exists(target) and not any(
        n.endswith(".crdownload") for n in os.listdir(DOWNLOAD_DIR)), timeout=20)

    # The text, headers and raw tabs.
    wd("POST", S + "/element/%s/click" % find("#tabs button[data-tab=text]"), {})
    assert "你好！见附件。" in js("return document.querySelector('#tab-text').textContent")
    wd("POST", S + "/element/%s/click" % find("#tabs button[data-tab=raw]"), {})
    wait_for("the raw source", lambda: "Subject: =?" in js("return document.querySelector('#tab-raw').textContent"))
    wd("POST", S + "/element/%s/click" % find("#tabs button[data-tab=html]"), {})

    # Search narrows the list.
    wd("POST", S + "/element/%s/value" % find("#search"), {"text": "from:nobody-here"})
    wait_for("an empty search", lambda: js("return document.querySelectorAll('#list tbody tr').length") == 0)
    wd("POST", S + "/element/%s/clear" % find("#search"), {})
    wd("POST", S + "/element/%s/value" % find("#search"), {"text": "subject:季度"})
    wait_for("a matching search", lambda: js("return document.querySelectorAll('#list tbody tr').length") == 1)

    with open(SCREENSHOT, "wb") as f:
        f.write(base64.b64decode(wd("GET", S + "/screenshot")))

    # Delete it from the page.
    wd("POST", S + "/element/%s/click" % find("#delete-one"), {})
    wait_for("the list to empty", lambda: js("return document.querySelectorAll('#list tbody tr').length") == 0)
    print(json.dumps({"download": target}))
finally:
    if session:
        try:
            wd("DELETE", "/session/" + session)
        except Exception:
            pass
    driver.terminate()
    try:
        driver.wait(10)
    except subprocess.TimeoutExpired:
        driver.kill()
    shutil.rmtree(profile, ignore_errors=True)
