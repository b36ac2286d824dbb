//! The page in a real browser: headless Chromium driven through
//! chromedriver. A message sent through SMTP appears in the open page,
//! opens, shows its Chinese subject and inline image, and its attachment
//! downloads byte for byte.

mod support;

use support::{attachment_bytes, python, sample, Rig, TempMaildir};

#[test]
fn chromium_shows_and_downloads() {
    let rig = Rig::start("browser");
    let scratch = TempMaildir::new("browser-files");
    let message_file = scratch.0.join("message.eml");
    std::fs::write(&message_file, sample().build().unwrap().to_vec()).unwrap();
    let downloads = scratch.0.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let screenshot = std::env::var("MAIL_WEB_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| scratch.0.join("page.png"));
    let smtp_port = rig.smtp.as_ref().unwrap().local_addr().port().to_string();
    let out = python(
        "browser.py",
        &[
            &rig.base_url(),
            &smtp_port,
            message_file.to_str().unwrap(),
            downloads.to_str().unwrap(),
            screenshot.to_str().unwrap(),
        ],
    );
    let line = out.lines().last().unwrap_or_default();
    let path = line
        .strip_prefix("{\"download\": \"")
        .and_then(|s| s.strip_suffix("\"}"))
        .unwrap_or_else(|| panic!("no download path in {out:?}"));
    let downloaded = std::fs::read(downloads.join(support::ATTACHMENT_NAME)).unwrap();
    assert!(path.ends_with(".bin"), "{path}");
    assert_eq!(downloaded.len(), attachment_bytes().len());
    assert!(
        downloaded == attachment_bytes(),
        "the download differs from the attachment"
    );
    // The page deleted it.
    assert_eq!(
        std::fs::read_dir(rig.maildir.0.join("new"))
            .unwrap()
            .count(),
        0
    );
}
