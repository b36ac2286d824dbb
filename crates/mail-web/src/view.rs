//! One message shown: its detail as JSON (headers, text, HTML, attachments
//! with part ids), its parts by id, and its HTML made ready for the
//! sandboxed frame (`cid:` references pointed at the parts).

use crate::index::{mailbox_json, mailboxes, mailboxes_json, Summary};
use crate::query::{percent_decode, percent_encode};
use crate::{json, time};
use mime_codec::{Body, Message, Part};

/// A leaf part and its id: the IMAP section number (`1`, `2.1`, ...), or `1`
/// for a message that is not multipart.
pub(crate) fn leaves<'m, 'a>(message: &'m Message<'a>) -> Vec<(String, &'m Part<'a>)> {
    let mut out = Vec::new();
    walk(message.root(), String::new(), &mut out);
    out
}

fn walk<'m, 'a>(part: &'m Part<'a>, id: String, out: &mut Vec<(String, &'m Part<'a>)>) {
    match part.body() {
        Body::Multipart { parts, .. } => {
            for (i, child) in parts.iter().enumerate() {
                let child_id = if id.is_empty() {
                    (i + 1).to_string()
                } else {
                    format!("{id}.{}", i + 1)
                };
                walk(child, child_id, out);
            }
        }
        _ => out.push((if id.is_empty() { "1".to_owned() } else { id }, part)),
    }
}

/// The leaf part with this id.
pub(crate) fn part<'m, 'a>(message: &'m Message<'a>, id: &str) -> Option<&'m Part<'a>> {
    leaves(message)
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, p)| p)
}

/// The part's Content-Type as served: its media type, with the charset for
/// text.
pub(crate) fn served_content_type(part: &Part<'_>) -> String {
    let ct = part.content_type();
    let essence = ct.essence();
    let safe = essence
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/.+-_".contains(&b));
    if !safe || !essence.contains('/') {
        return "application/octet-stream".to_owned();
    }
    match ct.param("charset") {
        Some(cs)
            if ct.media_type == "text"
                && cs
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            format!("{essence}; charset={cs}")
        }
        _ => essence,
    }
}

/// A Content-Disposition value (RFC 6266): an ASCII fallback name and the
/// UTF-8 name in RFC 8187 form.
pub(crate) fn content_disposition(kind: &str, file_name: Option<&str>) -> String {
    match file_name {
        None => kind.to_owned(),
        Some(name) => {
            let fallback: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!(
                "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
                percent_encode(name)
            )
        }
    }
}

fn part_url(id: &str, part_id: &str) -> String {
    format!("/api/messages/{}/parts/{part_id}", percent_encode(id))
}

fn part_json(out: &mut String, id: &str, part_id: &str, part: &Part<'_>) {
    let mut o = json::Object::new(out);
    o.str("partId", part_id)
        .opt_str("fileName", part.file_name())
        .str("contentType", &part.content_type().essence())
        .opt_str("contentId", part.content_id().as_deref())
        .num("size", part.decoded().len() as u64)
        .str("url", &part_url(id, part_id));
    o.end();
}

/// The detail of one message as JSON.
pub(crate) fn detail_json(summary: &Summary, message: &Message<'_>) -> String {
    let id = summary.id.as_str();
    let leaves = leaves(message);
    let find_id = |p: &Part<'_>| {
        leaves
            .iter()
            .find(|(_, l)| std::ptr::eq(*l, p))
            .map(|(i, _)| i.clone())
    };
    let html = message.html_body().map(|t| t.text.into_owned());
    let mut out = String::with_capacity(4096);
    let mut o = json::Object::new(&mut out);
    o.str("id", id)
        .opt_str("messageId", message.message_id().as_deref())
        .with("from", |out| match mailboxes(&message.from()).first() {
            Some(m) => mailbox_json(out, m),
            None => out.push_str("null"),
        })
        .with("to", |out| mailboxes_json(out, &mailboxes(&message.to())))
        .with("cc", |out| mailboxes_json(out, &mailboxes(&message.cc())))
        .with("bcc", |out| mailboxes_json(out, &mailboxes(&message.bcc())))
        .with("replyTo", |out| {
            mailboxes_json(out, &mailboxes(&message.reply_to()))
        })
        .str("subject", &message.subject().unwrap_or_default())
        .opt_str("date", message.date().map(|d| time::rfc3339(&d)).as_deref())
        .str("received", &time::rfc3339_utc(summary.received.0))
        .num("size", summary.size)
        .with("headers", |out| {
            json::array(out, message.headers(), |out, h| {
                let mut o = json::Object::new(out);
                o.str("name", h.name()).str("value", &h.text());
                o.end();
            })
        })
        .opt_str("text", message.text_body().map(|t| t.text).as_deref())
        .opt_str("html", html.as_deref())
        .bool(
            "remoteContent",
            html.as_deref().is_some_and(has_remote_content),
        )
        .with("attachments", |out| {
            json::array(out, message.attachments(), |out, p| {
                if let Some(part_id) = find_id(p) {
                    part_json(out, id, &part_id, p);
                } else {
                    out.push_str("null");
                }
            })
        })
        .with("inline", |out| {
            json::array(out, message.inline_parts(), |out, p| {
                if let Some(part_id) = find_id(p) {
                    part_json(out, id, &part_id, p);
                } else {
                    out.push_str("null");
                }
            })
        });
    o.end();
    out
}

/// Whether the HTML loads something from elsewhere: a `src`, `background`,
/// `srcset` or CSS `url(...)` pointing at `http:`, `https:` or `//`.
pub(crate) fn has_remote_content(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    ["src=", "background=", "srcset=", "url(", "href="]
        .iter()
        .filter(|needle| **needle != "href=" || lower.contains("<link"))
        .any(|needle| {
            lower.match_indices(needle).any(|(i, _)| {
                let rest = lower[i + needle.len()..]
                    .trim_start_matches([' ', '"', '\'', '\t', '\n', '\r']);
                rest.starts_with("http:") || rest.starts_with("https:") || rest.starts_with("//")
            })
        })
}

/// The HTML body with every `cid:` reference to one of its parts replaced
/// by that part's URL.
pub(crate) fn frame_html(summary: &Summary, message: &Message<'_>) -> Option<String> {
    let html = message.html_body()?.text.into_owned();
    let leaves = leaves(message);
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(pos) = find_ascii_ci(rest, "cid:") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 4..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>' | '<'))
            .unwrap_or(after.len());
        let cid = percent_decode(&after[..end], false).unwrap_or_else(|| after[..end].to_owned());
        let target = leaves
            .iter()
            .find(|(_, p)| p.content_id().as_deref() == Some(cid.trim_matches(['<', '>'])));
        match target {
            Some((part_id, _)) => out.push_str(&part_url(&summary.id, part_id)),
            None => out.push_str(&rest[pos..pos + 4 + end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    Some(out)
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"Subject: t\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
--o\r\nContent-Type: multipart/related; boundary=r\r\n\r\n\
--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<img src=\"cid:logo@x\"><img src=CID:none>\r\n\
--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--r--\r\n\
--o\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nPDF\r\n--o--\r\n";

    #[test]
    fn part_ids_follow_imap_sections() {
        let m = Message::parse(MIXED);
        let ids: Vec<String> = leaves(&m).into_iter().map(|(i, _)| i).collect();
        assert_eq!(ids, ["1.1", "1.2", "2"]);
        assert_eq!(part(&m, "1.2").unwrap().decoded().as_ref(), &[0, 1, 2]);
        assert!(part(&m, "3").is_none());
        let single = Message::parse(b"Subject: x\r\n\r\nhello");
        assert_eq!(part(&single, "1").unwrap().raw_body(), b"hello");
    }

    #[test]
    fn cid_references_point_at_parts() {
        let m = Message::parse(MIXED);
        let summary = Summary {
            id: "1.M1.h".into(),
            path: "x".into(),
            size: 1,
            received: (0, 0),
            search_from: String::new(),
            search_to: String::new(),
            search_subject: String::new(),
            json: String::new(),
        };
        let html = frame_html(&summary, &m).unwrap();
        assert!(
            html.contains("<img src=\"/api/messages/1.M1.h/parts/1.2\">"),
            "{html}"
        );
        assert!(html.contains("<img src=CID:none>"), "{html}");
        let detail = detail_json(&summary, &m);
        assert!(
            detail.contains(
                r#""attachments":[{"partId":"2","fileName":"a.pdf","contentType":"application/pdf""#
            ),
            "{detail}"
        );
        assert!(detail.contains(r#""inline":[{"partId":"1.2""#), "{detail}");
    }

    #[test]
    fn remote_content() {
        assert!(has_remote_content("<img src=\"https://t.example/p.gif\">"));
        assert!(has_remote_content(
            "<div style=\"background: url( //x/y)\">"
        ));
        assert!(has_remote_content("<td background='http://x/y'>"));
        assert!(!has_remote_content(
            "<a href=\"https://example.com\">x</a><img src=\"cid:a\">"
        ));
    }

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition("inline", None), "inline");
        assert_eq!(
            content_disposition("attachment", Some("报告 \"1\".pdf")),
            "attachment; filename=\"__ _1_.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%20%221%22.pdf"
        );
    }
}
