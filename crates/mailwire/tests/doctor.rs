//! `mailwire probe --domain` (the domain doctor) and `mailwire dkim keygen`, against a real
//! DNS server (dnsmasq with each test's records; tests/setup/25-dnsmasq.sh installs it) and
//! SMTP servers on loopback: one with STARTTLS and a certificate from a test CA, one without.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use mail_dns::testing::{Dnsmasq, Records};

mod common;

use common::{mailwire, run, TempDir};

/// A minimal SMTP server on 127.0.0.1 that answers each connection: greeting, EHLO (with
/// STARTTLS when it has a certificate), STARTTLS, QUIT.
fn smtp_server(tls: Option<Arc<rustls::ServerConfig>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tls = tls.clone();
            thread::spawn(move || {
                let _ = serve_one(stream, tls);
            });
        }
    });
    port
}

fn serve_one(mut stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<()> {
    stream.write_all(b"220 mx.example.test ESMTP test\r\n")?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        let command = line.trim_end().to_ascii_uppercase();
        line.clear();
        if command.starts_with("EHLO") {
            let ext = if tls.is_some() {
                "250-mx.example.test\r\n250 STARTTLS\r\n"
            } else {
                "250-mx.example.test\r\n250 8BITMIME\r\n"
            };
            stream.write_all(ext.as_bytes())?;
        } else if command == "STARTTLS" {
            if let Some(config) = tls.clone() {
                stream.write_all(b"220 go ahead\r\n")?;
                let mut conn =
                    rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
                while conn.is_handshaking() {
                    conn.complete_io(&mut stream)?;
                }
                let mut tls_stream = rustls::Stream::new(&mut conn, &mut stream);
                let mut buf = [0u8; 64];
                let _ = std::io::Read::read(&mut tls_stream, &mut buf);
                let _ = tls_stream.write_all(b"221 bye\r\n");
                return Ok(());
            }
        } else if command == "QUIT" {
            stream.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            stream.write_all(b"502 no\r\n")?;
        }
    }
    Ok(())
}

/// An HTTPS server on 127.0.0.1 that answers every request with `answer` (the status line,
/// head and body as given) and records the requests' first lines.
fn https_server(
    tls: Arc<rustls::ServerConfig>,
    answer: Vec<u8>,
) -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let tls = Arc::clone(&tls);
            let answer = answer.clone();
            let seen = Arc::clone(&seen);
            thread::spawn(move || -> std::io::Result<()> {
                let mut conn = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
                let mut tls_stream = rustls::Stream::new(&mut conn, &mut stream);
                let mut reader = BufReader::new(&mut tls_stream);
                let mut head = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                        break;
                    }
                    head.push(line.trim_end().to_owned());
                }
                seen.lock().unwrap().extend(head);
                tls_stream.write_all(&answer)?;
                tls_stream.conn.send_close_notify();
                tls_stream.flush()
            });
        }
    });
    (port, requests)
}

/// An HTTP answer with a Content-Length.
fn http(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A test CA (written to `dir/ca.pem`) and a server config with a certificate it issued for
/// mx.example.test and mta-sts.example.test.
fn tls_config(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![
        "mx.example.test".to_owned(),
        "mta-sts.example.test".to_owned(),
    ])
    .unwrap()
    .signed_by(&leaf_key, &ca)
    .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap(),
    )
}

fn dnsmasq(records: Records) -> Dnsmasq {
    Dnsmasq::start(records)
        .unwrap_or_else(|e| panic!("dnsmasq could not start ({e}); run through tests/run-all.sh (tests/setup/25-dnsmasq.sh)"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_healthy_domain_passes_every_check() {
    let dir = TempDir::new("doctor-ok");
    // The key comes from `mailwire dkim keygen`, and its printed record is what we publish.
    let mut keygen = mailwire(&dir.0);
    keygen.args([
        "dkim",
        "keygen",
        "--domain",
        "example.test",
        "--selector",
        "mail",
        "--algorithm",
        "ed25519",
    ]);
    let out = run(keygen);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let record = stdout
        .lines()
        .find_map(|l| l.strip_prefix("mail._domainkey.example.test. IN TXT \""))
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no record in {stdout}"));
    let key_file = dir.0.join("mail.example.test.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let tls = tls_config(&dir.0);
    let port = smtp_server(Some(Arc::clone(&tls)));
    // The MTA-STS policy, served in chunks as many web servers do.
    let policy = "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 604800\n";
    let (https_port, requests) = https_server(
        tls,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Transfer-Encoding: chunked\r\n\r\n10\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            &policy[..16],
            policy.len() - 16,
            &policy[16..]
        )
        .into_bytes(),
    );
    let dns = dnsmasq(
        Records::new()
            .mx("example.test", "mx.example.test", 10)
            .a("mx.example.test", "127.0.0.1".parse().unwrap())
            .a("mta-sts.example.test", "127.0.0.1".parse().unwrap())
            .txt("example.test", "v=spf1 mx -all")
            .txt("mail._domainkey.example.test", record)
            .txt(
                "_dmarc.example.test",
                "v=DMARC1; p=reject; rua=mailto:dmarc@example.test",
            )
            .txt("_mta-sts.example.test", "v=STSv1; id=20261206")
            .txt(
                "_smtp._tls.example.test",
                "v=TLSRPTv1; rua=mailto:tls@example.test",
            ),
    );
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "probe",
        "--domain",
        "example.test",
        "--selector",
        "mail",
        "--sender-ip",
        "127.0.0.1",
    ])
    .arg("--dns")
    .arg(dns.addr().to_string())
    .arg("--mx-port")
    .arg(port.to_string())
    .arg("--mta-sts-port")
    .arg(https_port.to_string())
    .arg("--ca-file")
    .arg(dir.0.join("ca.pem"))
    .args(["--timeout", "5"]);
    let out = run(cmd);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for expected in [
        "[ ok ] MX       10 mx.example.test",
        "[ ok ] SMTP     mx.example.test (127.0.0.1:",
        "[ ok ] TLS      mx.example.test: STARTTLS with a valid certificate",
        "[ ok ] SPF      v=spf1 mx -all",
        "[ ok ] SPF      1 of at most 10 DNS lookups",
        "[ ok ] SPF      127.0.0.1 may send for example.test",
        "[ ok ] DKIM     mail._domainkey.example.test: Ed25519",
        "[ ok ] DMARC    p=reject",
        "[ ok ] MTA-STS  v=STSv1; id=20261206",
        "[ ok ] MTA-STS  policy: mode enforce, max_age 604800 (7 days), mx *.example.test",
        "[ ok ] MTA-STS  MX host mx.example.test matches the policy",
        "[ ok ] TLS-RPT  v=TLSRPTv1",
        "No problems found",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
    let requests = requests.lock().unwrap().clone();
    assert_eq!(
        requests.first().map(String::as_str),
        Some("GET /.well-known/mta-sts.txt HTTP/1.1"),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|l| l == "Host: mta-sts.example.test"),
        "{requests:?}"
    );
}

/// Each way an MTA-STS policy goes wrong gives a [FAIL] (or [WARN]) with the reason and the
/// fix; the other checks are the same as for a healthy domain.
#[test]
fn mta_sts_policy_problems_are_explained() {
    let dir = TempDir::new("doctor-sts");
    let tls = tls_config(&dir.0);
    let smtp_port = smtp_server(Some(Arc::clone(&tls)));
    let dns = dnsmasq(
        Records::new()
            .mx("example.test", "mx.example.test", 10)
            .a("mx.example.test", "127.0.0.1".parse().unwrap())
            .a("mta-sts.example.test", "127.0.0.1".parse().unwrap())
            .txt("example.test", "v=spf1 mx -all")
            .txt(
                "_dmarc.example.test",
                "v=DMARC1; p=reject; rua=mailto:d@example.test",
            )
            .txt("_mta-sts.example.test", "v=STSv1; id=2026"),
    );
    let doctor = |answer: Vec<u8>, trust: bool| {
        let (https_port, _) = https_server(Arc::clone(&tls), answer);
        let mut cmd = mailwire(&dir.0);
        cmd.args(["probe", "--domain", "example.test", "--selector", "none"])
            .arg("--dns")
            .arg(dns.addr().to_string())
            .arg("--mx-port")
            .arg(smtp_port.to_string())
            .arg("--mta-sts-port")
            .arg(https_port.to_string())
            .args(["--timeout", "5"]);
        if trust {
            cmd.arg("--ca-file").arg(dir.0.join("ca.pem"));
        }
        let out = run(cmd);
        let stdout = text(&out.stdout);
        let sts: Vec<&str> = stdout
            .lines()
            .skip_while(|l| !l.contains("MTA-STS"))
            .take_while(|l| !l.contains("] TLS-RPT"))
            .collect();
        (out.status.code(), sts.join("\n"))
    };
    let policy = |mode: &str, mx: &str, max_age: u32| {
        format!("version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: {max_age}\n")
    };
    let cases: Vec<(Vec<u8>, bool, &[&str])> = vec![
        (
            http("200 OK", "text/plain", &policy("enforce", "mail.other.test", 604_800)),
            true,
            &[
                "[FAIL] MTA-STS  MX host mx.example.test matches no mx: line of the policy: senders that enforce MTA-STS do not deliver to it",
                "fix: add `mx: mx.example.test` to the policy file, then change id= in the _mta-sts.example.test record",
            ],
        ),
        (
            http("200 OK", "text/plain", &policy("testing", "mail.other.test", 3600)),
            true,
            &[
                "[info] MTA-STS  mode testing",
                "[WARN] MTA-STS  max_age 3600 is under a day",
                "[WARN] MTA-STS  MX host mx.example.test matches no mx: line of the policy: under enforce",
            ],
        ),
        (
            http("200 OK", "text/html", &policy("enforce", "mx.example.test", 604_800)),
            true,
            &["[FAIL] MTA-STS  the policy at https://mta-sts.example.test/.well-known/mta-sts.txt could not be fetched: the Content-Type is \"text/html\", not text/plain"],
        ),
        (
            b"HTTP/1.1 301 Moved\r\nLocation: https://www.example.test/sts.txt\r\nContent-Length: 0\r\n\r\n".to_vec(),
            true,
            &["HTTP 301, a redirect to https://www.example.test/sts.txt: senders do not follow redirects"],
        ),
        (
            http("404 Not Found", "text/plain", "no"),
            true,
            &["could not be fetched: HTTP 404 Not Found", "fix: serve the policy file at https://mta-sts.example.test/.well-known/mta-sts.txt over HTTPS"],
        ),
        (
            http("200 OK", "text/plain", &"x".repeat(70 * 1024)),
            true,
            &["could not be fetched: the policy is longer than 64 KiB"],
        ),
        (
            http("200 OK", "text/plain", "version: STSv1\nmode: Enforce\nmx: mx.example.test\nmax_age: 86400\n"),
            true,
            &["does not parse (mode is \"Enforce\", not enforce, testing or none): senders ignore it"],
        ),
        (
            http("200 OK", "text/plain", &policy("enforce", "mx.example.test", 604_800)),
            false,
            &["could not be fetched: the certificate is not valid for senders"],
        ),
    ];
    for (answer, trust, expected) in cases {
        let (code, sts) = doctor(answer, trust);
        for e in expected {
            assert!(sts.contains(e), "missing {e:?} in\n{sts}");
        }
        if sts.contains("[FAIL]") {
            assert_eq!(code, Some(1), "{sts}");
        }
    }
    let (code, sts) = doctor(
        http(
            "200 OK",
            "text/plain",
            &policy("enforce", "mx.example.test", 604_800),
        ),
        true,
    );
    assert!(
        sts.contains("[ ok ] MTA-STS  MX host mx.example.test matches the policy"),
        "{sts}"
    );
    assert!(!sts.contains("[FAIL]") && !sts.contains("[WARN]"), "{sts}");
    // The doctor passes overall only if nothing else fails (the DKIM selector has no key).
    assert_eq!(code, Some(1));
}

#[test]
fn a_broken_domain_gets_each_problem_and_its_fix() {
    let dir = TempDir::new("doctor-bad");
    let port = smtp_server(None);
    let mut records = Records::new()
        .mx("example.test", "mx.example.test", 10)
        .mx("example.test", "gone.example.test", 20)
        .a("mx.example.test", "127.0.0.1".parse().unwrap())
        .txt("example.test", "v=spf1 +all")
        .txt("old._domainkey.example.test", "v=DKIM1; k=rsa; p=");
    // Eleven includes: more than the 10 lookups receivers allow.
    let mut chain = String::from("v=spf1");
    for i in 0..11 {
        chain.push_str(&format!(" include:s{i}.example.test"));
        records = records.txt(&format!("s{i}.example.test"), "v=spf1 ip4:192.0.2.1 -all");
    }
    records = records.txt("many.example.test", &format!("{chain} -all"));
    let dns = dnsmasq(records);
    let probe = |domain: &str, selector: &str| {
        let mut cmd = mailwire(&dir.0);
        cmd.args(["probe", "--domain", domain, "--selector", selector])
            .arg("--dns")
            .arg(dns.addr().to_string())
            .arg("--mx-port")
            .arg(port.to_string())
            .args(["--timeout", "3"]);
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let stdout = probe("example.test", "old");
    for expected in [
        "[FAIL] TLS      mx.example.test does not offer STARTTLS",
        "[FAIL] MX       gone.example.test has no A or AAAA record",
        "[FAIL] SPF      ends with +all: anyone may send as you",
        "[FAIL] DKIM     old._domainkey.example.test: the key is revoked",
        "[FAIL] DMARC    example.test publishes no DMARC record",
        "fix: publish `_dmarc.example.test. IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@example.test\"`",
        "[info] MTA-STS  not published",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
    let stdout = probe("many.example.test", "nokey");
    for expected in [
        "[FAIL] SPF      11 DNS lookups; more than 10",
        "[FAIL] DKIM     no key at nokey._domainkey.many.example.test",
        "mailwire dkim keygen --domain many.example.test --selector nokey",
        "[WARN] MX       many.example.test has no MX record",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    let stdout = probe("nospf.example.test", "x");
    assert!(
        stdout.contains("[FAIL] SPF      nospf.example.test publishes no SPF record"),
        "{stdout}"
    );
    assert!(stdout.contains("v=spf1 mx -all"), "{stdout}");
}

/// A policy host that takes the connection and never answers (nor finishes the TLS
/// handshake) costs the doctor its timeout, not a hang.
#[test]
fn a_silent_policy_host_times_out() {
    let dir = TempDir::new("doctor-sts-silent");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let https_port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let dns = dnsmasq(
        Records::new()
            .a("mta-sts.example.test", "127.0.0.1".parse().unwrap())
            .txt("_mta-sts.example.test", "v=STSv1; id=1"),
    );
    let started = std::time::Instant::now();
    let mut cmd = mailwire(&dir.0);
    cmd.args(["probe", "--domain", "example.test", "--selector", "x"])
        .arg("--dns")
        .arg(dns.addr().to_string())
        .arg("--mta-sts-port")
        .arg(https_port.to_string())
        .args(["--timeout", "2"]);
    let out = run(cmd);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("[FAIL] MTA-STS  the policy at https://mta-sts.example.test/.well-known/mta-sts.txt could not be fetched"),
        "{stdout}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}
