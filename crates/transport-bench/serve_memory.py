#!/usr/bin/env python3
"""Peak memory of SMTP servers receiving one very large message, and of
`mailwire serve` under clients that announce huge BDAT chunks and trickle.

Usage (from the workspace root):

    cargo build --release -p mailwire
    python3 crates/transport-bench/serve_memory.py target/release/mailwire [MiB]

Each server is started fresh on a free loopback port, one message of MiB
(default 100) is streamed to it over plain SMTP by DATA (the client never
holds the message: it is generated line by line), and the server's peak
resident set (VmHWM in /proc/PID/status) is read before it is stopped.
Peers in the same run: Postfix's smtp-sink (discards), aiosmtpd with its
Sink handler (discards; it buffers each message, as its API hands the
handler whole messages), and `mailwire serve --discard`.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

LINE = b"x" * 76 + b"\r\n"
BLOCK = LINE * (64 * 1024 // len(LINE))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, limit=20.0):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


class Smtp:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.file = self.sock.makefile("rb")
        self.reply()

    def reply(self):
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError(f"closed after {lines}")
            lines.append(line)
            if line[3:4] == b" ":
                return b"".join(lines).decode("latin-1")

    def command(self, line):
        self.sock.sendall(line)
        return self.reply()

    def envelope(self):
        assert self.command(b"EHLO bench.example\r\n").startswith("250")
        assert self.command(b"MAIL FROM:<a@example.com>\r\n").startswith("250")
        assert self.command(b"RCPT TO:<b@example.org>\r\n").startswith("250")


def send_big(port, mib):
    smtp = Smtp(port)
    smtp.envelope()
    assert smtp.command(b"DATA\r\n").startswith("354")
    smtp.sock.sendall(b"Subject: big\r\n\r\n")
    left = mib << 20
    while left > 0:
        chunk = BLOCK[: min(len(BLOCK), left)]
        smtp.sock.sendall(chunk)
        left -= len(chunk)
    final = smtp.command(b"\r\n.\r\n")
    smtp.command(b"QUIT\r\n")
    return final.strip()


def run(name, argv, port, mib, env=None):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_port(port, proc)
        idle = peak_kib(proc.pid)
        start = time.time()
        final = send_big(port, mib)
        took = time.time() - start
        peak = peak_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    print(f"| {name} | {final[:34]} | {idle / 1024:.1f} | {peak / 1024:.1f} | {mib / took:.0f} |")


def hostile(mailwire, work):
    """64 clients each in the middle of a 20 MB BDAT chunk (under the
    25 MiB limit), trickling a byte a second; one announces
    BDAT 999999999999 LAST and tries to send 100 MiB of it."""
    port = free_port()
    maildir = os.path.join(work, "hostile")
    proc = subprocess.Popen(
        [mailwire, "serve", "--listen", f"127.0.0.1:{port}", "--maildir", maildir,
         "--max-connections", "80", "--max-connections-per-ip", "80"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        idle = peak_kib(proc.pid)
        clients = []
        for _ in range(64):
            smtp = Smtp(port)
            smtp.envelope()
            smtp.sock.sendall(b"BDAT 20000000 LAST\r\n" + BLOCK)
            clients.append(smtp)
        huge = Smtp(port)
        huge.envelope()
        huge.sock.sendall(b"BDAT 999999999999 LAST\r\n")
        taken = 0
        try:
            for _ in range((100 << 20) // len(BLOCK)):
                huge.sock.sendall(BLOCK)
                taken += len(BLOCK)
        except OSError:
            pass  # refused for its size, and closed after a bounded discard
        for _ in range(3):
            for smtp in clients:
                smtp.sock.sendall(b"x")
            time.sleep(1)
        peak = peak_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    print(f"| `mailwire serve`, 64 clients trickling inside a 20 MB BDAT chunk + one "
          f"`BDAT 999999999999 LAST` ({taken >> 10} KiB taken before it was closed) "
          f"| {idle / 1024:.1f} | {peak / 1024:.1f} |")


def main():
    mailwire = os.path.abspath(sys.argv[1])
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    work = tempfile.mkdtemp(prefix="serve-memory-")
    try:
        print(f"One {mib} MiB message by DATA; peak RSS (VmHWM) of the server process.\n")
        print("| server | final reply | idle MiB | peak MiB | MiB/s |")
        print("|---|---|---|---|---|")
        port = free_port()
        run("`mailwire serve` (Maildir, fsync)",
            [mailwire, "serve", "--listen", f"127.0.0.1:{port}", "--maildir",
             os.path.join(work, "mail"), "--max-size", str((mib + 1) << 20)], port, mib)
        port = free_port()
        run("`mailwire serve --discard`",
            [mailwire, "serve", "--listen", f"127.0.0.1:{port}", "--discard",
             "--max-size", str((mib + 1) << 20)], port, mib)
        smtp_sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if os.path.exists(smtp_sink):
            port = free_port()
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            run("Postfix smtp-sink (discards)", [smtp_sink, *user, f"127.0.0.1:{port}", "10"],
                port, mib)
        port = free_port()
        run("aiosmtpd 1.4 `Sink` handler (discards)",
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
             "-c", "aiosmtpd.handlers.Sink", "-s", "0"], port, mib)
        print()
        print("| scenario | idle MiB | peak MiB |")
        print("|---|---|---|")
        hostile(mailwire, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
