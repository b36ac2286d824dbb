//! Listing and searching a Maildir of 100,000 messages: the server time of
//! `GET /api/messages` (first page of 50) and of a search, measured on the
//! request as the server handles it (index already built, as in a running
//! server), over a loopback HTTP connection kept alive.
//!
//! ```text
//! cargo bench -p mail-web --bench list
//! ```
//! `MAIL_WEB_BENCH_MESSAGES` changes the count (default 100,000).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    divan::main();
}

struct Fixture {
    _dir: PathBuf,
    web: mail_web::WebHandle,
    stream: TcpStream,
}

fn count() -> usize {
    std::env::var("MAIL_WEB_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("mail-web-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let n = count();
    for i in 0..n {
        let body = format!(
            "From: =?UTF-8?B?5byg5LiJ?= <sender{i}@example.com>\r\nTo: user{}@example.org\r\n\
Subject: =?UTF-8?B?5L2g5aW9?= message {i}\r\nDate: Tue, 1 Jul 2025 10:52:37 +0800\r\n\
Message-ID: <{i}@bench>\r\n\r\nbody {i}\r\n",
            i % 100
        );
        std::fs::write(
            dir.join("new")
                .join(format!("{}.M{i}P1.bench", 1_700_000_000 + i)),
            body,
        )
        .unwrap();
    }
    let started = Instant::now();
    let web = mail_web::serve("127.0.0.1:0", &dir).unwrap();
    eprintln!("index of {n} messages built in {:?}", started.elapsed());
    let stream = TcpStream::connect(web.local_addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    Fixture {
        _dir: dir,
        web,
        stream,
    }
}

/// Sends one request on the kept-alive connection and reads the answer whole.
fn get(stream: &mut TcpStream, path: &str) -> usize {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reader = BufReader::new(&mut *stream);
    let mut len = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    assert!(body.starts_with(b"{\"total\":"));
    len
}

#[divan::bench(sample_count = 50)]
fn list_first_page(bencher: divan::Bencher) {
    let mut f = fixture();
    bencher.bench_local(|| get(&mut f.stream, "/api/messages?limit=50"));
    f.web.shutdown(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&f._dir);
}

#[divan::bench(sample_count = 50)]
fn list_last_page(bencher: divan::Bencher) {
    let mut f = fixture();
    let start = count().saturating_sub(50);
    bencher.bench_local(|| {
        get(
            &mut f.stream,
            &format!("/api/messages?limit=50&start={start}"),
        )
    });
    f.web.shutdown(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&f._dir);
}

#[divan::bench(sample_count = 20)]
fn search_subject(bencher: divan::Bencher) {
    let mut f = fixture();
    bencher.bench_local(|| {
        get(
            &mut f.stream,
            "/api/search?query=subject:%E4%BD%A0%E5%A5%BD+to:user7%40&limit=50",
        )
    });
    f.web.shutdown(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&f._dir);
}
