//! Presets for the big mail providers: where their submission server is,
//! how it is secured, and what each wants instead of the account password.

use smtp_proto::TlsPolicy;

/// How the connection to the server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// Implicit TLS from the first byte (port 465).
    Tls,
    /// Plaintext, then STARTTLS, which must succeed (port 587).
    StartTls,
    /// STARTTLS when the server offers it, plaintext otherwise (port 25).
    /// No credentials are sent when STARTTLS did not happen, unless
    /// plaintext logins are allowed.
    StartTlsOpportunistic,
    /// No encryption at all (local sinks and tests).
    None,
}

impl Security {
    /// The usual port of each mode.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 465,
            Security::StartTls => 587,
            Security::StartTlsOpportunistic | Security::None => 25,
        }
    }

    /// The usual mode of a port: 465 is implicit TLS, 25 opportunistic
    /// STARTTLS, anything else (587 first) required STARTTLS.
    pub fn for_port(port: u16) -> Security {
        match port {
            465 => Security::Tls,
            25 => Security::StartTlsOpportunistic,
            _ => Security::StartTls,
        }
    }

    /// The client session's TLS policy.
    pub fn policy(self) -> TlsPolicy {
        match self {
            Security::Tls => TlsPolicy::Implicit,
            Security::StartTls => TlsPolicy::Required,
            Security::StartTlsOpportunistic => TlsPolicy::Opportunistic,
            Security::None => TlsPolicy::None,
        }
    }

    /// In words: `implicit TLS`, `STARTTLS, required`, ...
    pub fn name(self) -> &'static str {
        match self {
            Security::Tls => "implicit TLS",
            Security::StartTls => "STARTTLS, required",
            Security::StartTlsOpportunistic => "STARTTLS when offered",
            Security::None => "no encryption",
        }
    }
}

/// A mail provider with a preset.
///
/// ```
/// use mailer::{Provider, Security};
/// let qq = Provider::Qq.settings();
/// assert_eq!((qq.host, qq.port, qq.security), ("smtp.qq.com", 465, Security::Tls));
/// assert_eq!(Provider::by_name("163"), Some(Provider::NetEase163));
/// assert_eq!(Provider::by_host("smtp.office365.com"), Some(Provider::Outlook));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// Gmail.
    Gmail,
    /// Outlook.com and Microsoft 365.
    Outlook,
    /// QQ Mail.
    Qq,
    /// NetEase 163 Mail.
    NetEase163,
    /// NetEase 126 Mail.
    NetEase126,
    /// Yahoo Mail.
    Yahoo,
    /// iCloud Mail.
    ICloud,
}

/// One provider's submission settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderSettings {
    /// The short name (`gmail`, `qq`, `163`, ...).
    pub name: &'static str,
    /// The name people know it by.
    pub display: &'static str,
    /// The submission server.
    pub host: &'static str,
    /// Its port.
    pub port: u16,
    /// How that port is secured.
    pub security: Security,
    /// Other host names that mean this provider.
    pub aliases: &'static [&'static str],
    /// What the password must be: said before a login and again when one
    /// fails.
    pub password_hint: &'static str,
}

const SETTINGS: &[(Provider, ProviderSettings)] = &[
    (
        Provider::Gmail,
        ProviderSettings {
            name: "gmail",
            display: "Gmail",
            host: "smtp.gmail.com",
            port: 465,
            security: Security::Tls,
            aliases: &["smtp.googlemail.com"],
            password_hint: "Gmail needs an app password (Google Account > Security > 2-Step \
                            Verification > App passwords), not the account password; or an \
                            OAuth2 access token (XOAUTH2)",
        },
    ),
    (
        Provider::Outlook,
        ProviderSettings {
            name: "outlook",
            display: "Outlook.com / Microsoft 365",
            host: "smtp-mail.outlook.com",
            port: 587,
            security: Security::StartTls,
            aliases: &["smtp.office365.com", "smtp.live.com"],
            password_hint: "Microsoft has turned off password logins (basic auth) for most \
                            accounts: use an OAuth2 access token (XOAUTH2), or an app password \
                            where your account still allows one",
        },
    ),
    (
        Provider::Qq,
        ProviderSettings {
            name: "qq",
            display: "QQ Mail",
            host: "smtp.qq.com",
            port: 465,
            security: Security::Tls,
            aliases: &["smtp.exmail.qq.com"],
            password_hint: "QQ Mail needs an authorization code (授权码), not the account \
                            password: turn on the POP3/SMTP service in QQ Mail's settings \
                            (Account) and generate one there",
        },
    ),
    (
        Provider::NetEase163,
        ProviderSettings {
            name: "163",
            display: "NetEase 163 Mail",
            host: "smtp.163.com",
            port: 465,
            security: Security::Tls,
            aliases: &[],
            password_hint: "163 Mail needs a client authorization code (授权码), not the \
                            account password: turn on the SMTP service in the mailbox settings \
                            (POP3/SMTP/IMAP) and generate one there",
        },
    ),
    (
        Provider::NetEase126,
        ProviderSettings {
            name: "126",
            display: "NetEase 126 Mail",
            host: "smtp.126.com",
            port: 465,
            security: Security::Tls,
            aliases: &[],
            password_hint: "126 Mail needs a client authorization code (授权码), not the \
                            account password: turn on the SMTP service in the mailbox settings \
                            (POP3/SMTP/IMAP) and generate one there",
        },
    ),
    (
        Provider::Yahoo,
        ProviderSettings {
            name: "yahoo",
            display: "Yahoo Mail",
            host: "smtp.mail.yahoo.com",
            port: 465,
            security: Security::Tls,
            aliases: &[],
            password_hint: "Yahoo Mail needs an app password (Account Security > Generate app \
                            password), not the account password",
        },
    ),
    (
        Provider::ICloud,
        ProviderSettings {
            name: "icloud",
            display: "iCloud Mail",
            host: "smtp.mail.me.com",
            port: 587,
            security: Security::StartTls,
            aliases: &[],
            password_hint: "iCloud Mail needs an app-specific password (appleid.apple.com > \
                            Sign-In and Security > App-Specific Passwords), and the sender must \
                            be your iCloud address or one of its aliases",
        },
    ),
];

impl Provider {
    /// Every provider with a preset, in the order help texts list them.
    pub const ALL: [Provider; 7] = [
        Provider::Gmail,
        Provider::Outlook,
        Provider::Qq,
        Provider::NetEase163,
        Provider::NetEase126,
        Provider::Yahoo,
        Provider::ICloud,
    ];

    /// The preset.
    pub fn settings(self) -> &'static ProviderSettings {
        let found = SETTINGS.iter().find(|(p, _)| *p == self);
        match found {
            Some((_, settings)) => settings,
            // Every variant has a row (a test holds it).
            None => &SETTINGS[0].1,
        }
    }

    /// The provider called `name` (`gmail`, `QQ`, `163`: case does not
    /// matter).
    pub fn by_name(name: &str) -> Option<Provider> {
        SETTINGS
            .iter()
            .find(|(_, s)| s.name.eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
    }

    /// The provider whose server is `host`, for hints when a server is
    /// named directly.
    pub fn by_host(host: &str) -> Option<Provider> {
        let host = host.trim_end_matches('.');
        SETTINGS
            .iter()
            .find(|(_, s)| {
                s.host.eq_ignore_ascii_case(host)
                    || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(host))
            })
            .map(|(p, _)| *p)
    }

    /// The names, for messages: `gmail, outlook, qq, ...`.
    pub fn names() -> String {
        SETTINGS
            .iter()
            .map(|(_, s)| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_settings_whose_port_fits_its_security() {
        for provider in Provider::ALL {
            let s = provider.settings();
            assert!(SETTINGS.iter().any(|(p, _)| *p == provider));
            assert_eq!(Provider::by_name(s.name), Some(provider));
            assert_eq!(Provider::by_host(s.host), Some(provider));
            assert_eq!(s.port, s.security.default_port(), "{}", s.name);
            assert!(!s.password_hint.is_empty());
        }
        assert_eq!(Provider::by_host("SMTP.GMAIL.COM."), Some(Provider::Gmail));
        assert!(Provider::by_name("nosuch").is_none());
        assert_eq!(
            Provider::names(),
            "gmail, outlook, qq, 163, 126, yahoo, icloud"
        );
    }
}
