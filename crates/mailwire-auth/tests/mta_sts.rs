//! MTA-STS policies (RFC 8461) by proptest: what we write, we read back the same, whatever
//! line ends, blanks and unknown fields a server adds; wildcard patterns match exactly one
//! label.

use mailwire_auth::mta_sts::{Mode, MxPattern, StsPolicy, MAX_AGE_LIMIT};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 2..5).prop_map(|labels| labels.join("."))
}

fn pattern() -> impl Strategy<Value = MxPattern> {
    (any::<bool>(), domain()).prop_map(|(wildcard, domain)| MxPattern { wildcard, domain })
}

fn policy() -> impl Strategy<Value = StsPolicy> {
    (
        prop_oneof![Just(Mode::Enforce), Just(Mode::Testing), Just(Mode::None)],
        prop::collection::vec(pattern(), 1..6),
        0..=MAX_AGE_LIMIT,
    )
        .prop_map(|(mode, mx, max_age)| StsPolicy { mode, mx, max_age })
}

proptest! {
    #[test]
    fn written_policies_read_back(policy in policy()) {
        let text = policy.to_string();
        prop_assert_eq!(StsPolicy::parse(&text), Ok(policy));
    }

    /// A server's own layout: LF or CRLF, blanks around values, unknown fields anywhere,
    /// fields in another order. The policy read is the same.
    #[test]
    fn layout_does_not_change_the_policy(
        policy in policy(),
        crlf in any::<bool>(),
        blanks in prop::collection::vec(prop_oneof![Just(""), Just(" "), Just("\t"), Just("  ")], 8),
        extra in prop::collection::vec(("[a-z][a-z0-9_.-]{0,10}", "[!-~]{1,20}"), 0..3),
        reverse in any::<bool>(),
    ) {
        let mut lines = vec![
            format!("version:{}STSv1{}", blanks[0], blanks[1]),
            format!("mode:{}{}{}", blanks[2], policy.mode.as_str(), blanks[3]),
            format!("max_age:{}{}{}", blanks[4], policy.max_age, blanks[5]),
        ];
        lines.extend(policy.mx.iter().map(|p| format!("mx:{}{p}{}", blanks[6], blanks[7])));
        for (name, value) in &extra {
            // Not one of the known names (those would count).
            if !["version", "mode", "max_age", "mx"].contains(&name.as_str()) {
                lines.insert(1, format!("{name}: {value}"));
            }
        }
        if reverse {
            // mx order is kept: it is what the policy lists.
            lines.reverse();
            let mx: Vec<String> = lines.iter().filter(|l| l.starts_with("mx:")).cloned().collect();
            let mut mx = mx.into_iter().rev();
            for line in lines.iter_mut().filter(|l| l.starts_with("mx:")) {
                if let Some(next) = mx.next() {
                    *line = next;
                }
            }
        }
        let end = if crlf { "\r\n" } else { "\n" };
        let text = lines.join(end);
        prop_assert_eq!(StsPolicy::parse(&text), Ok(policy));
    }

    #[test]
    fn a_wildcard_stands_for_one_label(domain in domain(), first in label(), second in label()) {
        let wildcard = MxPattern { wildcard: true, domain: domain.clone() };
        let exact = MxPattern { wildcard: false, domain: domain.clone() };
        let host = format!("{first}.{domain}");
        prop_assert!(wildcard.matches(&host));
        prop_assert!(wildcard.matches(&host.to_ascii_uppercase()));
        prop_assert!(!wildcard.matches(&domain));
        let deeper = format!("{second}.{first}.{domain}");
        let dotted = format!("{domain}.");
        prop_assert!(!wildcard.matches(&deeper));
        prop_assert!(exact.matches(&dotted));
        prop_assert!(!exact.matches(&host));
        prop_assert_eq!(MxPattern::parse(&wildcard.to_string()), Some(wildcard));
    }

    #[test]
    fn any_text_is_read_without_panic(text in "\\PC{0,200}") {
        let _ = StsPolicy::parse(&text);
        let _ = mailwire_auth::mta_sts::StsRecord::parse(&text);
    }
}
