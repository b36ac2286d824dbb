//! Addresses as the directory compares them: the local part exactly as
//! written, the domain in its lowercase A-label (IDNA) form, so that
//! `Bob@EXAMPLE.org`, `Bob@example.org` and `Bob@bücher.example` /
//! `Bob@xn--bcher-kva.example` each meet their one user.

/// The longest local part RFC 5321 §4.5.3.1.1 allows.
const MAX_LOCAL: usize = 64;
/// The longest domain RFC 5321 §4.5.3.1.2 allows.
const MAX_DOMAIN: usize = 255;

/// The separator of sub-addressing: `bob+lists@example.org` is delivered
/// to `bob@example.org`.
pub const DETAIL_SEPARATOR: char = '+';

/// `domain` in the form the directory compares: lowercase, IDNA A-labels,
/// no trailing dot. `None` when it is empty or not a domain (an address
/// literal such as `[192.0.2.1]` is kept, lowercased, as written).
pub fn canonical_domain(domain: &str) -> Option<String> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() || domain.len() > MAX_DOMAIN {
        return None;
    }
    if domain.starts_with('[') {
        let ok = domain.ends_with(']')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '[' | ']' | ':' | '.' | '-'));
        return ok.then(|| domain.to_ascii_lowercase());
    }
    let ascii = idna::domain_to_ascii(domain).ok()?;
    let valid = !ascii.is_empty()
        && ascii.len() <= MAX_DOMAIN
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        });
    valid.then_some(ascii)
}

/// True when `local` may be the local part of an account or alias: not
/// empty, at most 64 octets, no space, control character, colon (the users
/// file's separator) or `@`.
fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '@'))
}

/// An address split at its last `@`, with the domain made canonical; `None`
/// when it is not `local@domain`.
pub(crate) fn split_address(address: &str) -> Option<(&str, String)> {
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() {
        return None;
    }
    Some((local, canonical_domain(domain)?))
}

/// `address` in the form the directory compares (see the module docs), or
/// `None` when it cannot name an account: `local@domain` with a local part
/// of at most 64 octets holding no space, control character, colon or `@`.
///
/// ```
/// use mail_accounts::canonical_address;
/// assert_eq!(canonical_address("Bob@Example.ORG").as_deref(), Some("Bob@example.org"));
/// assert_eq!(
///     canonical_address("ana@bücher.example").as_deref(),
///     Some("ana@xn--bcher-kva.example")
/// );
/// assert_eq!(canonical_address("no-domain"), None);
/// ```
pub fn canonical_address(address: &str) -> Option<String> {
    let (local, domain) = split_address(address)?;
    valid_local(local).then(|| format!("{local}@{domain}"))
}

/// The base address of a sub-address: `bob+lists@example.org` gives
/// `bob@example.org`; `None` when the local part has no detail (or nothing
/// before the separator). `address` must be canonical already.
pub(crate) fn without_detail(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    let (base, _detail) = local.split_once(DETAIL_SEPARATOR)?;
    (!base.is_empty()).then(|| format!("{base}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_compare_in_lowercase_a_label_form() {
        assert_eq!(
            canonical_domain("EXAMPLE.org.").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            canonical_domain("Bücher.Example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            canonical_domain("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            canonical_domain("[192.0.2.1]").as_deref(),
            Some("[192.0.2.1]")
        );
        for bad in ["", ".", "a..b", "a b.example", "exa/mple.org", "[1.2.3.4"] {
            assert_eq!(canonical_domain(bad), None, "{bad:?}");
        }
        assert_eq!(canonical_domain(&"a".repeat(64)), None);
    }

    #[test]
    fn local_parts_stay_exact_and_bad_ones_are_refused() {
        assert_eq!(
            canonical_address("Bob.Smith+x@EXAMPLE.org").as_deref(),
            Some("Bob.Smith+x@example.org")
        );
        // The last @ splits; a (quoted) local part holding one is refused.
        assert_eq!(canonical_address("\"a@b\"@x.example"), None);
        for bad in [
            "@example.org",
            "bob@",
            "bob",
            "b ob@example.org",
            "b:ob@example.org",
            "bob\n@example.org",
        ] {
            assert_eq!(canonical_address(bad), None, "{bad:?}");
        }
        assert_eq!(
            canonical_address(&format!("{}@x.example", "a".repeat(65))),
            None
        );
    }

    #[test]
    fn sub_addresses_map_to_their_base() {
        assert_eq!(
            without_detail("bob+lists@example.org").as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(
            without_detail("bob+a+b@example.org").as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(without_detail("bob@example.org"), None);
        assert_eq!(without_detail("+x@example.org"), None);
    }
}
