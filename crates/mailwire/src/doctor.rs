//! `mailwire probe --domain D`: the domain doctor. Checks what decides whether a domain's mail
//! lands in the inbox — MX hosts (SMTP, STARTTLS, certificate), SPF, DKIM, DMARC, MTA-STS and
//! TLS-RPT — and says each problem in plain words with the record to publish. The MTA-STS
//! policy file is fetched over HTTPS (`doctor/mta_sts.rs`).

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use mailwire_auth::dkim::{KeyError, KeyRecord, PublicKey};
use mailwire_auth::dmarc::{discover, Alignment, Policy};
use mailwire_auth::spf::{
    check_mail_from, is_spf_record, Mechanism, Qualifier, SpfQuery, SpfRecord, SpfResult,
};
use mailwire_auth::{DnsError, Resolver};

use crate::Failure;

mod mta_sts;

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Check a domain's mail setup (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT) instead of one
    /// server: why its mail lands in spam, and the records that fix it.
    #[arg(long, value_name = "DOMAIN")]
    pub(crate) domain: Option<String>,
    /// The DKIM selector to check (with --domain); without it, common selectors are tried.
    #[arg(long, requires = "domain")]
    selector: Option<String>,
    /// With --domain: check that SPF allows mail sent from this IP (your server or relay).
    #[arg(long, value_name = "IP", requires = "domain")]
    sender_ip: Option<IpAddr>,
    /// The DNS server to ask, HOST:PORT (default: the system's resolver); also for the
    /// server's name when probing one server.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) dns: Option<SocketAddr>,
    /// The SMTP port probed on each MX host (25; another port is for tests).
    #[arg(long, default_value_t = 25, hide = true)]
    mx_port: u16,
    /// The HTTPS port of the MTA-STS policy host (443; another port is for tests).
    #[arg(long, default_value_t = 443, hide = true)]
    mta_sts_port: u16,
}

/// Selectors that common providers and tools use, tried when none is given.
const COMMON_SELECTORS: &[&str] = &[
    "default",
    "mail",
    "dkim",
    "selector1",
    "selector2",
    "google",
    "k1",
    "s1",
    "s2",
    "mxvault",
];

#[derive(Debug, Default)]
struct Report {
    problems: usize,
    warnings: usize,
}

impl Report {
    fn ok(&mut self, topic: &str, text: impl AsRef<str>) {
        out!("[ ok ] {topic:<8} {}", text.as_ref());
    }
    fn info(&mut self, topic: &str, text: impl AsRef<str>) {
        out!("[info] {topic:<8} {}", text.as_ref());
    }
    fn warn(&mut self, topic: &str, text: impl AsRef<str>) {
        self.warnings += 1;
        out!("[WARN] {topic:<8} {}", text.as_ref());
    }
    fn fail(&mut self, topic: &str, text: impl AsRef<str>) {
        self.problems += 1;
        out!("[FAIL] {topic:<8} {}", text.as_ref());
    }
    fn more(&mut self, text: impl AsRef<str>) {
        out!("                {}", text.as_ref());
    }
}

pub(crate) fn run(
    args: &DoctorArgs,
    domain: &str,
    timeout: Duration,
    ca_file: Option<&PathBuf>,
) -> Result<(), Failure> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let config = match args.dns {
        Some(server) => mail_dns::DnsConfig::server(server),
        None => mail_dns::DnsConfig::default(),
    };
    let dns = mail_dns::Resolver::new(config.with_timeout(timeout))
        .map_err(|e| Failure::other(anyhow!(e)))?;
    let roots = root_store(ca_file)?;
    out!("Checking the mail setup of {domain}");
    let mut report = Report::default();
    let mx_hosts = mx(&mut report, &dns, &domain, args.mx_port, timeout, &roots);
    spf(&mut report, &dns, &domain, args.sender_ip);
    dkim(&mut report, &dns, &domain, args.selector.as_deref());
    dmarc(&mut report, &dns, &domain);
    let fetch = mta_sts::Fetch {
        dns: &dns,
        port: args.mta_sts_port,
        timeout,
        roots: &roots,
    };
    mta_sts::check(&mut report, &fetch, &domain, &mx_hosts);
    tls_rpt(&mut report, &dns, &domain);
    out!();
    if report.problems == 0 {
        out!("No problems found ({} warnings).", report.warnings);
        Ok(())
    } else {
        Err(Failure::other(anyhow!(
            "{} problem(s) and {} warning(s) found for {domain}",
            report.problems,
            report.warnings
        )))
    }
}

fn txt_records(
    report: &mut Report,
    dns: &dyn Resolver,
    topic: &str,
    name: &str,
) -> Option<Vec<String>> {
    match dns.txt(name) {
        Ok(t) => Some(t),
        Err(DnsError::Temporary(e)) => {
            report.fail(topic, format!("could not look up TXT {name}: {e}"));
            report.more("receivers that fail this lookup answer temperror and may defer your mail");
            None
        }
        Err(_) => Some(Vec::new()),
    }
}

// ---------------------------------------------------------------------------------- MX

fn mx(
    report: &mut Report,
    dns: &mail_dns::Resolver,
    domain: &str,
    port: u16,
    timeout: Duration,
    roots: &Arc<rustls::RootCertStore>,
) -> Vec<String> {
    let records = match mail_dns::Resolver::mx(dns, domain).wait() {
        Ok(r) => r,
        Err(e) if e.is_negative() => {
            report.warn(
                "MX",
                format!("{domain} has no MX record; senders fall back to its A/AAAA record"),
            );
            report.more(format!("fix: publish `{domain}. IN MX 10 mail.{domain}.` naming the host that receives mail"));
            return Vec::new();
        }
        Err(e) => {
            report.fail("MX", format!("could not look up MX {domain}: {e}"));
            return Vec::new();
        }
    };
    if records.iter().any(|m| m.is_null()) {
        report.info(
            "MX",
            format!("{domain} publishes a null MX (RFC 7505): it receives no mail"),
        );
        return Vec::new();
    }
    let mut records = records;
    records.sort();
    let names: Vec<String> = records
        .iter()
        .map(|m| format!("{} {}", m.preference, m.exchange))
        .collect();
    report.ok("MX", names.join(", "));
    for record in records.iter().take(5) {
        let host = &record.exchange;
        let ips = match dns.ips(host).wait() {
            Ok(ips) if !ips.is_empty() => ips,
            _ => {
                report.fail(
                    "MX",
                    format!("{host} has no A or AAAA record: nobody can deliver to it"),
                );
                report.more(format!(
                    "fix: publish `{host}. IN A <address>` or point the MX at a host that has one"
                ));
                continue;
            }
        };
        let ip = ips.iter().find(|ip| ip.is_ipv4()).unwrap_or(&ips[0]);
        smtp(report, host, *ip, port, timeout, roots);
    }
    records.into_iter().map(|m| m.exchange).collect()
}

fn read_reply(reader: &mut BufReader<TcpStream>) -> Result<(u16, Vec<String>), String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader
            .by_ref()
            .take(2048)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed".into());
        }
        let line = line.trim_end().to_owned();
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("not SMTP: {line:?}"))?;
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").to_owned());
        if last {
            return Ok((code, lines));
        }
        if lines.len() > 100 {
            return Err("reply longer than 100 lines".into());
        }
    }
}

fn smtp(
    report: &mut Report,
    host: &str,
    ip: IpAddr,
    port: u16,
    timeout: Duration,
    roots: &Arc<rustls::RootCertStore>,
) {
    let addr = SocketAddr::new(ip, port);
    let stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) => {
            report.fail("SMTP", format!("{host} ({addr}): {e}"));
            report.more("senders cannot reach it: check that the server runs and port 25 is open in its firewall");
            return;
        }
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let Ok(write_half) = stream.try_clone() else {
        report.fail("SMTP", format!("{host}: could not use the connection"));
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    let greeting = match read_reply(&mut reader) {
        Ok((220, lines)) => lines.join(" "),
        Ok((code, lines)) => {
            report.fail(
                "SMTP",
                format!("{host} ({addr}) greets with {code} {}", lines.join(" ")),
            );
            return;
        }
        Err(e) => {
            report.fail("SMTP", format!("{host} ({addr}) did not greet: {e}"));
            return;
        }
    };
    report.ok("SMTP", format!("{host} ({addr}) answers: 220 {greeting}"));
    let ehlo = writer
        .write_all(b"EHLO mailwire-doctor.invalid\r\n")
        .map_err(|e| e.to_string())
        .and_then(|()| read_reply(&mut reader));
    let starttls = match ehlo {
        Ok((250, lines)) => lines.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")),
        Ok((code, lines)) => {
            report.fail(
                "SMTP",
                format!("{host} refuses EHLO: {code} {}", lines.join(" ")),
            );
            return;
        }
        Err(e) => {
            report.fail("SMTP", format!("{host}: EHLO failed: {e}"));
            return;
        }
    };
    if !starttls {
        report.fail(
            "TLS",
            format!("{host} does not offer STARTTLS: mail to you travels unencrypted"),
        );
        report.more(
            "fix: configure a certificate for this host in the mail server (e.g. Let's Encrypt)",
        );
        let _ = writer.write_all(b"QUIT\r\n");
        return;
    }
    match writer
        .write_all(b"STARTTLS\r\n")
        .map_err(|e| e.to_string())
        .and_then(|()| read_reply(&mut reader))
    {
        Ok((220, _)) => {}
        Ok((code, lines)) => {
            report.fail(
                "TLS",
                format!(
                    "{host} offers STARTTLS but answers {code} {}",
                    lines.join(" ")
                ),
            );
            return;
        }
        Err(e) => {
            report.fail("TLS", format!("{host}: STARTTLS failed: {e}"));
            return;
        }
    }
    match handshake(host, reader.into_inner(), roots) {
        Ok(detail) => report.ok(
            "TLS",
            format!("{host}: STARTTLS with a valid certificate ({detail})"),
        ),
        Err(e) => {
            report.fail(
                "TLS",
                format!("{host}: the certificate is not valid for senders: {e}"),
            );
            report.more(format!(
                "fix: install a certificate issued for {host} by a public CA, with its chain"
            ));
        }
    }
}

fn handshake(
    host: &str,
    mut tcp: TcpStream,
    roots: &Arc<rustls::RootCertStore>,
) -> Result<String, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(Arc::clone(roots))
        .with_no_client_auth();
    let name =
        rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    let version = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let _ = tls.write_all(b"QUIT\r\n");
    Ok(version.replace("TLSv1_", "TLS 1."))
}

fn root_store(ca_file: Option<&PathBuf>) -> Result<Arc<rustls::RootCertStore>, Failure> {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| Failure::usage(anyhow!("--ca-file {}: {e}", path.display())))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| Failure::usage(anyhow!("--ca-file {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| Failure::usage(anyhow!("--ca-file {}: {e}", path.display())))?;
        }
    }
    Ok(Arc::new(roots))
}

// ---------------------------------------------------------------------------------- SPF

/// Counts the DNS-querying terms a receiver evaluates, following include and redirect.
fn spf_lookups(
    dns: &dyn Resolver,
    domain: &str,
    depth: u32,
    includes: &mut Vec<String>,
) -> Result<u32, String> {
    if depth > 10 {
        return Err("include loop".into());
    }
    let records: Vec<String> = dns
        .txt(domain)
        .unwrap_or_default()
        .into_iter()
        .filter(|t| is_spf_record(t))
        .collect();
    let [record] = records.as_slice() else {
        return Err(format!("{domain} has {} SPF records", records.len()));
    };
    let parsed = SpfRecord::parse(record).map_err(|e| format!("{domain}: {e}"))?;
    let mut count = 0;
    let literal = |m: &mailwire_auth::spf::MacroString| -> Option<String> {
        match m.0.as_slice() {
            [mailwire_auth::spf::MacroToken::Literal(s)] => Some(s.clone()),
            _ => None,
        }
    };
    for (_, mechanism) in &parsed.directives {
        if mechanism.counts_as_lookup() {
            count += 1;
        }
        if let Mechanism::Include(target) = mechanism {
            if let Some(target) = literal(target) {
                includes.push(target.clone());
                count += spf_lookups(dns, &target, depth + 1, includes)?;
            }
        }
    }
    if let Some(target) = parsed.redirect.as_ref().and_then(literal) {
        count += 1 + spf_lookups(dns, &target, depth + 1, includes)?;
    }
    Ok(count)
}

fn spf(report: &mut Report, dns: &mail_dns::Resolver, domain: &str, sender_ip: Option<IpAddr>) {
    let Some(txt) = txt_records(report, dns, "SPF", domain) else {
        return;
    };
    let records: Vec<&String> = txt.iter().filter(|t| is_spf_record(t)).collect();
    let suggestion = format!("`{domain}. IN TXT \"v=spf1 mx -all\"` (add `include:` for each provider that sends for you)");
    let record = match records.as_slice() {
        [] => {
            report.fail("SPF", format!("{domain} publishes no SPF record: receivers cannot tell your servers from forgers"));
            report.more(format!("fix: publish {suggestion}"));
            return;
        }
        [one] => *one,
        _ => {
            report.fail(
                "SPF",
                format!(
                    "{domain} publishes {} SPF records; receivers treat that as permerror",
                    records.len()
                ),
            );
            report.more("fix: merge them into one record");
            return;
        }
    };
    let parsed = match SpfRecord::parse(record) {
        Ok(p) => p,
        Err(e) => {
            report.fail(
                "SPF",
                format!("the record does not parse ({e}): receivers treat it as permerror"),
            );
            report.more(format!("record: {record}"));
            return;
        }
    };
    report.ok("SPF", record);
    let mut includes = Vec::new();
    match spf_lookups(dns, domain, 0, &mut includes) {
        Ok(n) if n > 10 => {
            report.fail("SPF", format!("{n} DNS lookups; more than 10 makes receivers answer permerror (RFC 7208 §4.6.4)"));
            report.more("fix: remove providers you no longer use, or replace include: with ip4:/ip6: ranges");
        }
        Ok(n) => report.ok("SPF", format!("{n} of at most 10 DNS lookups")),
        Err(e) => {
            report.fail("SPF", format!("an included record is broken: {e}"));
        }
    }
    if !includes.is_empty() {
        report.info("SPF", format!("includes: {}", includes.join(", ")));
    }
    match parsed.directives.iter().find(|(_, m)| *m == Mechanism::All) {
        Some((Qualifier::Pass, _)) => {
            report.fail("SPF", "ends with +all: anyone may send as you");
            report.more("fix: end the record with -all (or ~all while you test)");
        }
        Some((Qualifier::Fail, _)) | Some((Qualifier::SoftFail, _)) => {}
        _ if parsed.redirect.is_some() => {}
        _ => {
            report.warn("SPF", "does not end with -all or ~all, so it does not say that other hosts are not allowed");
            report.more("fix: end the record with -all");
        }
    }
    if let Some(ip) = sender_ip {
        let outcome = check_mail_from(
            dns,
            &SpfQuery {
                ip,
                helo: domain,
                sender: &format!("postmaster@{domain}"),
            },
        );
        if outcome.result == SpfResult::Pass {
            report.ok(
                "SPF",
                format!("{ip} may send for {domain} ({})", outcome.reason),
            );
        } else {
            report.fail(
                "SPF",
                format!(
                    "{ip} is not allowed to send for {domain}: {} ({})",
                    outcome.result.keyword(),
                    outcome.reason
                ),
            );
            report.more(format!(
                "fix: add ip4:{ip} (or ip6:) or your provider's include: to the record"
            ));
        }
    }
}

// --------------------------------------------------------------------------------- DKIM

fn dkim(report: &mut Report, dns: &mail_dns::Resolver, domain: &str, selector: Option<&str>) {
    let selectors: Vec<&str> = match selector {
        Some(s) => vec![s],
        None => COMMON_SELECTORS.to_vec(),
    };
    let mut found = 0;
    for s in &selectors {
        let name = format!("{s}._domainkey.{domain}");
        let records = match Resolver::txt(dns, &name) {
            Ok(r) => r,
            Err(DnsError::Temporary(e)) => {
                report.fail("DKIM", format!("could not look up {name}: {e}"));
                continue;
            }
            Err(_) => {
                if selector.is_some() {
                    report.fail(
                        "DKIM",
                        format!("no key at {name}: receivers cannot verify signatures with s={s}"),
                    );
                    report.more(format!("fix: `mailwire dkim keygen --domain {domain} --selector {s}` and publish the record it prints"));
                }
                continue;
            }
        };
        found += 1;
        let Some(record) = records.first() else {
            continue;
        };
        match KeyRecord::parse(record) {
            Ok(key) => {
                let kind = match &key.key {
                    PublicKey::Rsa(_) => format!("RSA {} bits", key.key.bits()),
                    PublicKey::Ed25519(_) => "Ed25519".to_owned(),
                };
                match &key.key {
                    PublicKey::Rsa(_) if key.key.bits() < 2048 => {
                        report.warn("DKIM", format!("{name}: {kind}; use 2048 bits (RFC 8301), some receivers distrust 1024"))
                    }
                    _ => report.ok("DKIM", format!("{name}: {kind}")),
                }
                if key.testing {
                    report.warn(
                        "DKIM",
                        format!("{name} has t=y (testing): receivers may ignore its signatures"),
                    );
                }
            }
            Err(KeyError::Revoked) => {
                report.fail("DKIM", format!("{name}: the key is revoked (empty p=)"))
            }
            Err(e) => {
                report.fail("DKIM", format!("{name}: the record does not parse: {e}"));
                report.more(format!("record: {record}"));
            }
        }
    }
    if found == 0 && selector.is_none() {
        report.warn(
            "DKIM",
            format!(
                "no key at the common selectors ({}); give --selector S to check yours",
                selectors.join(", ")
            ),
        );
        report.more(format!("fix (no key yet): `mailwire dkim keygen --domain {domain} --selector mail` and publish the record"));
    }
}

// -------------------------------------------------------------------------------- DMARC

fn dmarc(report: &mut Report, dns: &mail_dns::Resolver, domain: &str) {
    let suggestion = format!(
        "`_dmarc.{domain}. IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\"`"
    );
    match discover(dns, domain) {
        Ok(None) => {
            report.fail("DMARC", format!("{domain} publishes no DMARC record; Gmail and Yahoo require one from bulk senders"));
            report.more(format!(
                "fix: publish {suggestion}, read the reports, then move to p=quarantine"
            ));
        }
        Err(result) => {
            report.fail(
                "DMARC",
                format!(
                    "_dmarc.{domain} gives {}: receivers cannot read your policy",
                    result.keyword()
                ),
            );
            report.more(format!(
                "fix: keep exactly one valid record, e.g. {suggestion}"
            ));
        }
        Ok(Some((record, from_org))) => {
            let align = |a: Alignment| {
                if a == Alignment::Strict {
                    "strict"
                } else {
                    "relaxed"
                }
            };
            let source = if from_org {
                " (from the organizational domain)"
            } else {
                ""
            };
            report.ok(
                "DMARC",
                format!(
                    "p={} sp={} pct={} adkim={} aspf={}{source}",
                    record.policy.as_str(),
                    record.subdomain_policy.as_str(),
                    record.percent,
                    align(record.dkim_alignment),
                    align(record.spf_alignment)
                ),
            );
            if record.policy == Policy::None {
                report.warn(
                    "DMARC",
                    "p=none only monitors: forged mail in your name is still delivered",
                );
                report.more("fix: once the reports show all your mail passing, publish p=quarantine, later p=reject");
            }
            if record.percent < 100 {
                report.info(
                    "DMARC",
                    format!(
                        "pct={}: the policy applies to that share of failing mail",
                        record.percent
                    ),
                );
            }
            if record.aggregate_reports.is_empty() {
                report.warn(
                    "DMARC",
                    "no rua= address: you receive no reports of who sends as you",
                );
                report.more(format!(
                    "fix: add rua=mailto:dmarc-reports@{domain} to the record"
                ));
            } else {
                report.ok(
                    "DMARC",
                    format!("reports go to {}", record.aggregate_reports.join(", ")),
                );
            }
        }
    }
}

// ------------------------------------------------------------------------------ TLS-RPT

fn tls_rpt(report: &mut Report, dns: &mail_dns::Resolver, domain: &str) {
    if let Some(txt) = txt_records(report, dns, "TLS-RPT", &format!("_smtp._tls.{domain}")) {
        match txt.iter().find(|t| t.starts_with("v=TLSRPTv1")) {
            Some(r) if r.contains("rua=") => report.ok("TLS-RPT", r),
            Some(r) => report.fail("TLS-RPT", format!("{r}: the record has no rua=")),
            None => report.info("TLS-RPT", format!("not published (optional: `_smtp._tls.{domain}. IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@{domain}\"`)")),
        }
    }
}
