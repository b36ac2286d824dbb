//! Presets for the big mail providers: where their submission server is, how
//! it is secured, and what each wants instead of the account password.

use crate::connect::Security;

/// One provider's submission settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Provider {
    /// The `--provider` name.
    pub(crate) name: &'static str,
    /// The name people know it by.
    pub(crate) display: &'static str,
    pub(crate) host: &'static str,
    pub(crate) port: u16,
    pub(crate) security: Security,
    /// Other host names that mean this provider (for hints with --server).
    pub(crate) aliases: &'static [&'static str],
    /// What the password must be, said once before connecting and again
    /// when the login fails.
    pub(crate) password_hint: &'static str,
}

/// Every preset, in the order `--help` lists them.
pub(crate) const PROVIDERS: &[Provider] = &[
    Provider {
        name: "gmail",
        display: "Gmail",
        host: "smtp.gmail.com",
        port: 465,
        security: Security::Tls,
        aliases: &["smtp.googlemail.com"],
        password_hint: "Gmail needs an app password (Google Account > Security > 2-Step \
                        Verification > App passwords), not the account password; or an OAuth2 \
                        token with --oauth-token-env",
    },
    Provider {
        name: "outlook",
        display: "Outlook.com / Microsoft 365",
        host: "smtp-mail.outlook.com",
        port: 587,
        security: Security::Starttls,
        aliases: &["smtp.office365.com", "smtp.live.com"],
        password_hint: "Microsoft has turned off password logins (basic auth) for most \
                        accounts: use an OAuth2 access token with --oauth-token-env, or an app \
                        password where your account still allows one",
    },
    Provider {
        name: "qq",
        display: "QQ Mail",
        host: "smtp.qq.com",
        port: 465,
        security: Security::Tls,
        aliases: &["smtp.exmail.qq.com"],
        password_hint: "QQ Mail needs an authorization code (授权码), not the account \
                        password: turn on the POP3/SMTP service in QQ Mail's settings (Account) \
                        and generate one there",
    },
    Provider {
        name: "163",
        display: "NetEase 163 Mail",
        host: "smtp.163.com",
        port: 465,
        security: Security::Tls,
        aliases: &[],
        password_hint: "163 Mail needs a client authorization code (授权码), not the account \
                        password: turn on the SMTP service in the mailbox settings \
                        (POP3/SMTP/IMAP) and generate one there",
    },
    Provider {
        name: "126",
        display: "NetEase 126 Mail",
        host: "smtp.126.com",
        port: 465,
        security: Security::Tls,
        aliases: &[],
        password_hint: "126 Mail needs a client authorization code (授权码), not the account \
                        password: turn on the SMTP service in the mailbox settings \
                        (POP3/SMTP/IMAP) and generate one there",
    },
    Provider {
        name: "yahoo",
        display: "Yahoo Mail",
        host: "smtp.mail.yahoo.com",
        port: 465,
        security: Security::Tls,
        aliases: &[],
        password_hint: "Yahoo Mail needs an app password (Account Security > Generate app \
                        password), not the account password",
    },
    Provider {
        name: "icloud",
        display: "iCloud Mail",
        host: "smtp.mail.me.com",
        port: 587,
        security: Security::Starttls,
        aliases: &[],
        password_hint: "iCloud Mail needs an app-specific password (appleid.apple.com > \
                        Sign-In and Security > App-Specific Passwords), and --from must be your \
                        iCloud address or one of its aliases",
    },
];

/// The preset called `name` (case does not matter).
pub(crate) fn by_name(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The preset whose server is `host`, for hints when --server names one.
pub(crate) fn by_host(host: &str) -> Option<&'static Provider> {
    let host = host.trim_end_matches('.');
    PROVIDERS.iter().find(|p| {
        p.host.eq_ignore_ascii_case(host) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(host))
    })
}

/// The names, for error messages: `gmail, outlook, ...`.
pub(crate) fn names() -> String {
    PROVIDERS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_found_by_name_and_host() {
        assert_eq!(by_name("QQ").map(|p| p.host), Some("smtp.qq.com"));
        assert_eq!(
            by_host("smtp.office365.com").map(|p| p.name),
            Some("outlook")
        );
        assert_eq!(by_host("SMTP.GMAIL.COM.").map(|p| p.name), Some("gmail"));
        assert!(by_name("nosuch").is_none());
        assert!(by_host("mail.example.com").is_none());
    }

    #[test]
    fn ports_match_their_security() {
        for p in PROVIDERS {
            let expected = match p.security {
                Security::Tls => 465,
                _ => 587,
            };
            assert_eq!(p.port, expected, "{}", p.name);
            assert!(!p.password_hint.is_empty());
        }
    }
}
