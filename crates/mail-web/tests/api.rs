//! The JSON API through Python's `http.client` and `urllib`, with mail
//! sent through SMTP into the Maildir; hostile input included.

mod support;

use std::time::Duration;
use support::{plain, python, sample, Rig};

#[test]
fn json_api_with_python_clients() {
    let limits = mail_web::Limits::default()
        .with_head_timeout(Duration::from_secs(2))
        .with_write_timeout(Duration::from_secs(2))
        .with_max_connections(8)
        .with_max_parsed_message_bytes(4 * 1024 * 1024);
    let rig = Rig::start_with("api", limits);
    rig.send(sample());
    rig.send(plain(
        ("Alice Example", "alice@example.com"),
        ("", "bob@example.com"),
        "hello one",
    ));
    rig.send(plain(
        ("", "shop@example.com"),
        ("Bob", "bob@example.com"),
        "invoice two",
    ));
    rig.send(plain(
        ("Händler", "haendler@example.de"),
        ("", "bob@example.com"),
        "Rechnung 3",
    ));
    let out = python(
        "api_client.py",
        &[&rig.base_url(), rig.maildir.0.to_str().unwrap()],
    );
    assert!(out.contains("api checks passed"), "{out}");
    // Every connection the hostile clients opened was closed again.
    let web = rig.web.as_ref().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while web.active_connections() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(web.active_connections(), 0);
}
