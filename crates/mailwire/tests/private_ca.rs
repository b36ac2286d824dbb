//! Certificates of private servers: `--ca-file` with a self-signed
//! certificate made by `openssl req -x509` (CA:TRUE, the default, and
//! CA:FALSE), by rcgen (`serve --self-signed`), and a leaf signed by a
//! private CA; the server's name is still checked; a refused certificate
//! is explained in words, with advice other than the flag already given.
//! Needs `openssl` (tests/setup/40-openssl.sh).

mod common;

use common::{mailwire, run_to_end, Serve, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (installed by tests/setup/40-openssl.sh; run tests/run-all.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// `openssl req -x509` for `names` (a subjectAltName value), with extra
/// arguments; returns (certificate, key).
fn self_signed(dir: &Path, stem: &str, names: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (cert, key) = (format!("{stem}.pem"), format!("{stem}.key"));
    let san = format!("subjectAltName={names}");
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend(["-nodes", "-keyout", &key, "-out", &cert, "-days", "30"]);
    args.extend(["-subj", "/CN=localhost", "-addext", &san]);
    args.extend(extra);
    openssl(dir, &args);
    (dir.join(cert), dir.join(key))
}

fn serve_with(dir: &TempDir, cert: &Path, key: &Path) -> Serve {
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    Serve::start(
        &dir.0,
        &["--tls-cert", &cert, "--tls-key", &key, "--discard"],
        &[],
    )
}

fn send(dir: &TempDir, serve: &Serve, trust: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = mailwire(&dir.0);
    cmd.args(["send", "--from", "a@b.example", "--to", "c@d.example"])
        .args(["--text", "x", "--security", "starttls", "--timeout", "10"])
        .arg("--server")
        .arg(serve.plain.to_string())
        .args(trust);
    run_to_end(cmd)
}

#[test]
fn an_openssl_self_signed_certificate_with_ca_true_is_trusted_by_ca_file() {
    let dir = TempDir::new("ca-true");
    let (cert, key) = self_signed(&dir.0, "server", "DNS:localhost,IP:127.0.0.1", &[]);
    let serve = serve_with(&dir, &cert, &key);
    let (code, out, err) = send(&dir, &serve, &["--ca-file", cert.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    // The same file as the only trust.
    let serve = serve_with(&dir, &cert, &key);
    let (code, out, err) = send(&dir, &serve, &["--ca-file-only", cert.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn an_openssl_self_signed_certificate_with_ca_false_is_trusted_by_ca_file() {
    let dir = TempDir::new("ca-false");
    let (cert, key) = self_signed(
        &dir.0,
        "server",
        "DNS:localhost,IP:127.0.0.1",
        &["-addext", "basicConstraints=critical,CA:FALSE"],
    );
    let serve = serve_with(&dir, &cert, &key);
    let (code, out, err) = send(&dir, &serve, &["--ca-file", cert.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn an_rcgen_self_signed_certificate_is_trusted_by_ca_file() {
    let dir = TempDir::new("rcgen");
    let serve = Serve::start(&dir.0, &["--self-signed", "--discard"], &[]);
    let cert = serve.cert.clone().expect("--self-signed names its file");
    let (code, out, err) = send(&dir, &serve, &["--ca-file", cert.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn a_leaf_signed_by_a_private_ca_is_trusted_by_the_cas_certificate() {
    let dir = TempDir::new("private-ca");
    let (ca, ca_key) = self_signed(&dir.0, "ca", "DNS:ca.invalid", &[]);
    let mut args = vec!["req", "-new"];
    args.extend(EC);
    args.extend(["-nodes", "-keyout", "leaf.key", "-out", "leaf.csr"]);
    args.extend(["-subj", "/CN=localhost"]);
    openssl(&dir.0, &args);
    std::fs::write(
        dir.0.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n",
    )
    .unwrap();
    let (ca_s, ca_key_s) = (ca.display().to_string(), ca_key.display().to_string());
    openssl(
        &dir.0,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            &ca_s,
            "-CAkey",
            &ca_key_s,
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "30",
            "-extfile",
            "leaf.ext",
        ],
    );
    let serve = serve_with(&dir, &dir.0.join("leaf.pem"), &dir.0.join("leaf.key"));
    let (code, out, err) = send(&dir, &serve, &["--ca-file", &ca_s]);
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn a_pinned_certificate_must_still_carry_the_name_connected_to() {
    let dir = TempDir::new("pinned-name");
    let (cert, key) = self_signed(&dir.0, "other", "DNS:other.example", &[]);
    let serve = serve_with(&dir, &cert, &key);
    let (code, _, err) = send(&dir, &serve, &["--ca-file", cert.to_str().unwrap()]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("not valid for the name 127.0.0.1"), "{err}");
    assert!(err.contains("other.example"), "{err}");
}

#[test]
fn the_wrong_ca_file_is_explained_without_debug_text_or_the_same_flag() {
    let dir = TempDir::new("wrong-ca");
    let (cert, key) = self_signed(&dir.0, "server", "DNS:localhost,IP:127.0.0.1", &[]);
    let (wrong, _) = self_signed(&dir.0, "wrong", "DNS:localhost,IP:127.0.0.1", &[]);
    let serve = serve_with(&dir, &cert, &key);
    let (code, _, err) = send(&dir, &serve, &["--ca-file", wrong.to_str().unwrap()]);
    assert_eq!(code, Some(6), "{err}");
    // webpki's CaUsedAsEndEntity, in words.
    assert!(err.contains("CA:TRUE"), "{err}");
    assert!(err.contains("holds neither"), "{err}");
    assert!(!err.contains("give its CA"), "{err}");
    for debug in ["Other(", "CaUsedAsEndEntity", "OtherError", "UnknownIssuer"] {
        assert!(!err.contains(debug), "{err}");
    }
    // Without any --ca-file, the advice is to give one.
    let serve = serve_with(&dir, &cert, &key);
    let (code, _, err) = send(&dir, &serve, &[]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("--ca-file"), "{err}");
}
