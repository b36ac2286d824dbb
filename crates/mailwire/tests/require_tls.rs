//! `deliver --require-tls DOMAIN` against a real certificate: a private CA
//! (openssl, tests/setup/40-openssl.sh) signs a certificate for
//! `mx.strict.test`; dnsmasq (tests/setup/25-dnsmasq.sh) gives
//! `strict.test` and `wrong.test` MX hosts at the same loopback
//! `mailwire serve`. Without the CA nothing verifies, so both wait; with
//! `--ca-file` the strict domain's mail goes over verified TLS, while the
//! domain whose MX name the certificate does not carry keeps waiting —
//! deferred, never failed, never sent in the clear.

use mail_dns::testing::{Dnsmasq, Records};
use std::path::Path;
use std::process::Command;

mod common;

use common::{mailwire, run, Serve, TempDir};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (installed by tests/setup/40-openssl.sh; run tests/run-all.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// A CA (`ca.pem`) and a leaf for `mx.strict.test` it signed (`leaf.pem`, `leaf.key`).
fn private_ca(dir: &Path) {
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend([
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
    ]);
    args.extend(["-subj", "/CN=mailwire test CA"]);
    openssl(dir, &args);
    let mut args = vec!["req", "-new"];
    args.extend(EC);
    args.extend(["-nodes", "-keyout", "leaf.key", "-out", "leaf.csr"]);
    args.extend(["-subj", "/CN=mx.strict.test"]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:mx.strict.test\nbasicConstraints=critical,CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "30",
            "-extfile",
            "leaf.ext",
        ],
    );
}

fn queue(dir: &Path, to: &str, subject: &str) {
    let mut cmd = mailwire(dir);
    cmd.args(["send", "--queue", "--from", "ann@example.test", "--to", to])
        .args(["--subject", subject, "--text", "only over verified TLS"]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn required_tls_delivers_only_to_a_certificate_that_verifies_for_the_mx_name() {
    let dir = TempDir::new("require-tls");
    private_ca(&dir.0);
    let dns = Dnsmasq::start(
        Records::new()
            .mx("strict.test", "mx.strict.test", 10)
            .a("mx.strict.test", [127, 0, 0, 1].into())
            .mx("wrong.test", "mx.wrong.test", 10)
            .a("mx.wrong.test", [127, 0, 0, 1].into()),
    )
    .unwrap_or_else(|e| panic!("dnsmasq could not start ({e}); run through tests/run-all.sh"));
    let dns_addr = dns.addr().to_string();
    let (cert, key) = (
        dir.0.join("leaf.pem").display().to_string(),
        dir.0.join("leaf.key").display().to_string(),
    );
    let serve = Serve::start(&dir.0, &["--tls-cert", &cert, "--tls-key", &key], &[]);
    queue(&dir.0, "bob@strict.test", "to the strict domain");
    queue(&dir.0, "bob@wrong.test", "to the misnamed MX");
    let port = serve.plain.port().to_string();
    let deliver = |extra: &[&str]| {
        let mut cmd = mailwire(&dir.0);
        cmd.args([
            "deliver",
            "--dns",
            &dns_addr,
            "--mx-port",
            &port,
            "--until-idle",
        ])
        .args([
            "--require-tls",
            "strict.test",
            "--require-tls",
            "wrong.test",
        ])
        .args(["--timeout", "10"])
        .args(extra);
        let out = run(cmd);
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    // The public roots do not know the private CA: both wait.
    let said = deliver(&[]);
    assert!(said.contains("delivered 0, deferred 2, failed 0"), "{said}");
    assert!(serve.stored().is_empty(), "nothing may go out unverified");

    let mut retry = mailwire(&dir.0);
    retry.args(["queue", "retry", "--all"]);
    let out = run(retry);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let ca = dir.0.join("ca.pem").display().to_string();
    let said = deliver(&["--ca-file", &ca]);
    assert!(said.contains("delivered 1, deferred 1, failed 0"), "{said}");
    let stored: Vec<String> = serve.stored().iter().map(|m| text(m)).collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        stored[0].contains("Subject: to the strict domain"),
        "{}",
        stored[0]
    );
    assert!(
        stored[0].contains("with ESMTPS"),
        "sent over TLS: {}",
        stored[0]
    );

    // The misnamed one waits, with the certificate named as the reason.
    let mut list = mailwire(&dir.0);
    list.args(["queue", "list"]);
    let listing = text(&run(list).stdout);
    let lines: Vec<&str> = listing.lines().collect();
    let waiting = lines
        .windows(2)
        .find(|w| w[1].trim() == "1 deferred")
        .and_then(|w| w[0].split_whitespace().next())
        .unwrap_or_else(|| panic!("no deferred message in {listing}"));
    let mut show = mailwire(&dir.0);
    show.args(["queue", "show", waiting]);
    let shown = text(&run(show).stdout);
    assert!(shown.contains("bob@wrong.test"), "{shown}");
    assert!(
        shown.to_ascii_lowercase().contains("certificate"),
        "the reason names the certificate: {shown}"
    );
}
