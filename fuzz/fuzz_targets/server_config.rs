//! The mail server's TOML configuration: never panics; an error names a
//! line inside the text; a configuration that parses keeps its rules
//! (a listener, a local domain or a users file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_server::config::{ConfigError, ServerConfig};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match ServerConfig::parse(&text, "fuzz.toml") {
        Ok(config) => {
            let l = &config.listeners;
            assert!(l.smtp.is_some() || l.submission.is_some() || l.submissions.is_some());
            assert!(!config.directory.domains.is_empty() || config.users_file.is_some());
        }
        Err(ConfigError::Invalid { line, .. }) => assert!(line <= text.lines().count() + 1),
        Err(_) => {}
    }
});
