//! `mailwire probe`: connects to a server and reports each step (DNS, TCP,
//! greeting, TLS with the certificate, EHLO extensions, AUTH, and a login
//! test when a user is given), explaining each failure with its likely cause
//! and fix.

use crate::connect::{self, ConnectArgs};
use crate::Failure;
use anyhow::anyhow;
use clap::Args;
use mailer::{Context, MailerBuilder, Security};
use smtp_blocking::{Client, Error};
use smtp_proto::transcript::{escape_control, Speaker, Transcript};
use smtp_proto::{Capabilities, TlsInfo};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// The server, `host` or `host:port` (or give --provider).
    #[arg(required_unless_present_any = ["provider", "domain"])]
    server: Option<String>,
    /// Show the SMTP dialogue on stderr (AUTH redacted).
    #[arg(long)]
    transcript: bool,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    doctor: crate::doctor::DoctorArgs,
}

/// Prints one step's outcome.
/// Prints one step's outcome. What the server sent (its greeting, names,
/// certificate fields, replies inside errors) may hold terminal control
/// sequences: they are escaped.
fn step(ok: bool, name: &str, detail: impl AsRef<str>) {
    let mark = if ok { " ok " } else { "FAIL" };
    out!("[{mark}] {name:<9} {}", escape_control(detail.as_ref()));
}

/// Prints an indented detail line under a step.
fn more(detail: impl AsRef<str>) {
    out!("            {}", escape_control(detail.as_ref()));
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub(crate) fn run(args: ProbeArgs) -> Result<(), Failure> {
    if let Some(domain) = &args.doctor.domain {
        return crate::doctor::run(
            &args.doctor,
            domain,
            args.connect.timeout(),
            args.connect.ca_file.as_ref(),
        );
    }
    let where_to = args
        .connect
        .target(args.server.as_deref())?
        .ok_or_else(|| Failure::usage(anyhow!("give a server or --provider")))?;
    let mut plain = args
        .connect
        .configure(where_to, args.server.as_deref(), false, false)?;
    if let Some(server) = args.doctor.dns {
        plain = plain.resolver(connect::dns_server(server, args.connect.timeout())?);
    }
    let target = connect::build(plain.clone())?.context().clone();
    out!(
        "Probing {} with {}{}",
        target.address(),
        target.security.name(),
        target
            .provider
            .map(|p| format!(" ({})", p.settings().display))
            .unwrap_or_default()
    );
    let addrs = dns(&target, args.doctor.dns, args.connect.timeout())?;
    tcp(&target, &addrs, args.connect.timeout())?;
    let mut failure = None;
    let session = session(&args, &plain, &target, &mut failure)?;
    if let Some(client) = session {
        let _ = client.quit();
    }
    if args.connect.user.is_some() {
        if let Err(f) = login(&args, &target) {
            failure.get_or_insert(f);
        }
    }
    match failure {
        Some(f) => Err(f),
        None => {
            out!("Everything checked works.");
            Ok(())
        }
    }
}

/// Looks the server's name up: through `server` (`--dns`) when given, else the system.
fn dns(
    target: &Context,
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Failure> {
    let started = Instant::now();
    let host = target.host.trim_matches(|c| c == '[' || c == ']');
    let found = match server {
        Some(server) if host.parse::<std::net::IpAddr>().is_err() => {
            let resolver = connect::dns_server(server, timeout)?;
            mailer::HostResolver::resolve(&resolver, host)
                .map(|ips| {
                    ips.into_iter()
                        .map(|ip| SocketAddr::new(ip, target.port))
                        .collect::<Vec<_>>()
                })
                .map_err(std::io::Error::other)
        }
        _ => (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map(Iterator::collect::<Vec<_>>),
    };
    match found {
        Ok(addrs) => {
            let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            step(
                true,
                "DNS",
                format!(
                    "{} -> {} ({})",
                    target.host,
                    shown.join(", "),
                    millis(started.elapsed())
                ),
            );
            Ok(addrs)
        }
        Err(e) => {
            step(false, "DNS", format!("{}: {e}", target.host));
            more("cause: the name does not resolve (a typo, or no network / DNS here)");
            more("fix: check the server name; try `getent hosts NAME`");
            Err(Failure::connect(anyhow!("could not resolve {}: {e}", target.host)).shown())
        }
    }
}

fn tcp(target: &Context, addrs: &[SocketAddr], timeout: Duration) -> Result<(), Failure> {
    let mut last = None;
    for addr in addrs {
        let started = Instant::now();
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                drop(stream);
                step(
                    true,
                    "TCP",
                    format!("connected to {addr} in {}", millis(started.elapsed())),
                );
                return Ok(());
            }
            Err(e) => last = Some((*addr, e)),
        }
    }
    let Some((addr, source)) = last else {
        step(false, "TCP", "no address to connect to");
        return Err(Failure::connect(anyhow!("{} has no address", target.host)).shown());
    };
    let error = mailer::Error::from(Error::Connect { addr, source });
    let failure = connect::failure_in(&error, target, &connect::PROBE_WORDS);
    step(false, "TCP", format!("{:#}", failure.error));
    Err(failure.shown())
}

/// What the observer saw: (speaker, text) lines.
type Seen = Arc<Mutex<Vec<(Speaker, String)>>>;

fn observed(
    show: bool,
    builder: MailerBuilder,
) -> (Result<Client, mailer::Error>, Vec<(Speaker, String)>) {
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let builder = builder.observer(move || {
        let sink = Arc::clone(&sink);
        Box::new(Transcript::client(move |line| {
            if show {
                eprintln!("{line}");
            }
            if let Ok(mut seen) = sink.lock() {
                seen.push((line.speaker, line.text.to_owned()));
            }
        }))
    });
    let result = builder.build().and_then(|mailer| mailer.connect());
    // The transcript flushes a partial line when dropped, with the client.
    let lines = seen.lock().map(|s| s.clone()).unwrap_or_default();
    (result, lines)
}

/// Greeting, TLS and EHLO without logging in. A certificate that does not
/// verify is reported, then looked at anyway over an unverified connection.
fn session(
    args: &ProbeArgs,
    plain: &MailerBuilder,
    target: &Context,
    failure: &mut Option<Failure>,
) -> Result<Option<Client>, Failure> {
    let started = Instant::now();
    let (result, lines) = observed(args.transcript, plain.clone());
    let elapsed = started.elapsed();
    greeting(&lines);
    match result {
        Ok(client) => {
            report_session(&client, target, elapsed);
            Ok(Some(client))
        }
        Err(error) => {
            let f = connect::failure_in(&error, target, &connect::PROBE_WORDS);
            let certificate = matches!(
                &error,
                mailer::Error::Transport(e)
                    if matches!(e.as_ref(), Error::Tls { kind, .. } if kind.is_certificate())
            );
            let phase = match f.code {
                crate::EXIT_TLS => "TLS",
                crate::EXIT_AUTH => "AUTH",
                _ if matches!(error, mailer::Error::ImplicitTlsPort { .. }) => "greeting",
                _ => "SMTP",
            };
            step(false, phase, format!("{:#}", f.error));
            let f = f.shown();
            if !certificate {
                ehlo_from_lines(&lines);
                return Err(f);
            }
            failure.get_or_insert(f);
            // Look at the certificate anyway, without trusting it.
            let unverified = plain
                .clone()
                .tls(mailer::TlsSettings::new().dangerous_accept_invalid_certs());
            match observed(args.transcript, unverified).0 {
                Ok(client) => {
                    more("looked again without verifying, to show the certificate:");
                    report_session(&client, target, started.elapsed());
                    Ok(Some(client))
                }
                Err(_) => Ok(None),
            }
        }
    }
}

fn greeting(lines: &[(Speaker, String)]) {
    let greeting: Vec<&str> = lines
        .iter()
        .take_while(|(s, _)| *s == Speaker::Server)
        .map(|(_, t)| t.as_str())
        .collect();
    if let Some(first) = greeting.first() {
        step(first.starts_with("220"), "greeting", greeting.join(" / "));
    }
}

fn report_session(client: &Client, target: &Context, elapsed: Duration) {
    if let Some(tls) = client.tls() {
        report_tls(tls, target);
    } else if target.security != Security::None {
        step(
            false,
            "TLS",
            "not in use: the server offers no STARTTLS; mail and passwords would cross the \
             network readable",
        );
    }
    report_ehlo(client.capabilities(), client.tls().is_some());
    more(format!("session set up in {}", millis(elapsed)));
}

fn report_tls(tls: &TlsInfo, target: &Context) {
    step(
        tls.verified,
        "TLS",
        format!(
            "{} {}{}",
            tls.protocol,
            tls.cipher,
            if tls.verified {
                format!(", certificate valid for {}", target.host)
            } else {
                ", certificate NOT verified".to_owned()
            }
        ),
    );
    let Some(leaf) = tls.peer_certificates.first() else {
        more("the server sent no certificate");
        return;
    };
    match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, cert)) => {
            more(format!("subject: {}", cert.subject()));
            more(format!("issuer:  {}", cert.issuer()));
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                let names: Vec<String> = san
                    .value
                    .general_names
                    .iter()
                    .map(|n| match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => (*d).to_owned(),
                        x509_parser::extensions::GeneralName::IPAddress(ip) => ip_text(ip),
                        other => other.to_string(),
                    })
                    .collect();
                more(format!("names:   {}", names.join(", ")));
            }
            let not_after = cert.validity().not_after;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let days = (not_after.timestamp() - now) / 86_400;
            let expiry = match days {
                d if d < 0 => format!("EXPIRED {} days ago", -d),
                d if d < 14 => format!("expires in {d} days: renew soon"),
                d => format!("expires in {d} days"),
            };
            more(format!("valid until {not_after} ({expiry})"));
            more(format!(
                "chain:   {} certificate(s) sent",
                tls.peer_certificates.len()
            ));
        }
        Err(e) => more(format!("the certificate could not be read: {e}")),
    }
}

fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return std::net::Ipv6Addr::from(v6).to_string();
    }
    format!("{bytes:?}")
}

fn report_ehlo(caps: &Capabilities, tls: bool) {
    let reply = caps.to_reply();
    let extensions: Vec<&str> = reply.text_lines().skip(1).collect();
    step(
        true,
        "EHLO",
        format!(
            "{} offers {}",
            caps.server_name(),
            if extensions.is_empty() {
                "no extensions".to_owned()
            } else {
                extensions.join(", ")
            }
        ),
    );
    if let Some(max) = caps.max_size().filter(|&m| m > 0) {
        more(format!(
            "largest message: {max} bytes ({:.1} MB)",
            max as f64 / 1e6
        ));
    }
    let mechanisms = caps.auth_mechanisms();
    if mechanisms.is_empty() {
        more(if tls {
            "AUTH: none offered (this server does not take logins here)"
        } else {
            "AUTH: none offered before TLS (most servers offer it only after STARTTLS)"
        });
    } else {
        let names: Vec<&str> = mechanisms.iter().map(|m| m.as_str()).collect();
        more(format!("AUTH: {}", names.join(" ")));
        if !tls {
            more("warning: logins offered without TLS; a password sent now could be read");
        }
    }
}

/// Without a session, what EHLO said (from the transcript) still helps.
fn ehlo_from_lines(lines: &[(Speaker, String)]) {
    let ehlo: Vec<&str> = lines
        .iter()
        .skip_while(|(s, t)| !(*s == Speaker::Client && t.to_ascii_uppercase().starts_with("EHLO")))
        .skip(1)
        .take_while(|(s, _)| *s == Speaker::Server)
        .map(|(_, t)| t.get(4..).unwrap_or_default())
        .collect();
    if !ehlo.is_empty() {
        step(true, "EHLO", ehlo.join(", "));
    }
}

fn login(args: &ProbeArgs, target: &Context) -> Result<(), Failure> {
    let where_to = args
        .connect
        .target(args.server.as_deref())?
        .ok_or_else(|| Failure::usage(anyhow!("give a server or --provider")))?;
    let mut builder = args
        .connect
        .configure(where_to, args.server.as_deref(), true, false)?;
    if let Some(server) = args.doctor.dns {
        builder = builder.resolver(connect::dns_server(server, args.connect.timeout())?);
    }
    match observed(args.transcript, builder).0 {
        Ok(client) => {
            let user = args.connect.user.as_deref().unwrap_or_default();
            step(true, "login", format!("{user} logged in"));
            let _ = client.quit();
            Ok(())
        }
        Err(error) => {
            let f = connect::failure_in(&error, target, &connect::PROBE_WORDS);
            step(false, "login", format!("{:#}", f.error));
            Err(f.shown())
        }
    }
}
