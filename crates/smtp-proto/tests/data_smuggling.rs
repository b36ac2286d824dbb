//! SMTP smuggling: DATA must end only on CR LF `.` CR LF.
//!
//! A sender that hides `<LF>.<LF>` (or another look-alike) inside a message
//! hopes that some hop reads it as the end of DATA and the rest as new
//! commands. Every variant below must stay content, under each policy, with
//! the policy deciding only what the content holds and whether the message is
//! refused; a later real CR LF `.` CR LF must still end it.

use smtp_proto::data::{
    BareLineEndingPolicy, DataViolation, DotUnstuffer, UnstuffProgress, UnstufferConfig,
};

/// A look-alike terminator and what it must become.
struct Case {
    name: &'static str,
    /// Sits between `a` and `b\r\n`.
    smuggled: &'static [u8],
    /// Its content under `Keep` (and under `Reject`, which passes bytes through).
    keep: &'static [u8],
    /// Its content under `ConvertToCrlf`.
    convert: &'static [u8],
    /// The first violation under `Reject`.
    violation: DataViolation,
}

const CASES: &[Case] = &[
    Case {
        name: "<LF>.<LF>",
        smuggled: b"\n.\n",
        keep: b"\n.\n",
        convert: b"\r\n.\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<LF>.<CR><LF>",
        smuggled: b"\n.\r\n",
        keep: b"\n.\r\n",
        convert: b"\r\n.\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<CR><LF>.<LF>",
        smuggled: b"\r\n.\n",
        keep: b"\r\n\n",
        convert: b"\r\n\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<CR>.<CR>",
        smuggled: b"\r.\r",
        keep: b"\r.\r",
        convert: b"\r\n.\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<CR><LF>.<CR> then a non-LF",
        smuggled: b"\r\n.\r",
        keep: b"\r\n\r",
        convert: b"\r\n\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<CR><CR><LF>.<CR><CR><LF>",
        smuggled: b"\r\r\n.\r\r\n",
        keep: b"\r\r\n\r\r\n",
        convert: b"\r\n\r\n\r\n\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<LF>..<CR><LF>",
        smuggled: b"\n..\r\n",
        keep: b"\n..\r\n",
        convert: b"\r\n..\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<LF>.<CR> then a non-LF",
        smuggled: b"\n.\r",
        keep: b"\n.\r",
        convert: b"\r\n.\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<CR>.<LF>",
        smuggled: b"\r.\n",
        keep: b"\r.\n",
        convert: b"\r\n.\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<CR>.<CR><LF>",
        smuggled: b"\r.\r\n",
        keep: b"\r.\r\n",
        convert: b"\r\n.\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<CR><LF>.<CR><CR><LF>",
        smuggled: b"\r\n.\r\r\n",
        keep: b"\r\n\r\r\n",
        convert: b"\r\n\r\n\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<CR><LF><LF>.<LF>",
        smuggled: b"\r\n\n.\n",
        keep: b"\r\n\n.\n",
        convert: b"\r\n\r\n.\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<CR><LF>..<LF>",
        smuggled: b"\r\n..\n",
        keep: b"\r\n.\n",
        convert: b"\r\n.\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<CR><LF>.<CR><CR> then a non-LF",
        smuggled: b"\r\n.\r\r",
        keep: b"\r\n\r\r",
        convert: b"\r\n\r\n\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<LF><LF>.<LF><LF>",
        smuggled: b"\n\n.\n\n",
        keep: b"\n\n.\n\n",
        convert: b"\r\n\r\n.\r\n\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<CR><LF><CR>.<CR><LF>",
        smuggled: b"\r\n\r.\r\n",
        keep: b"\r\n\r.\r\n",
        // The converted content holds CRLF.CRLF: it is content, and a relay
        // stuffs it again before sending it on.
        convert: b"\r\n\r\n.\r\n",
        violation: DataViolation::BareCr,
    },
    Case {
        name: "<CR><LF>.<LF>.<CR><LF>",
        smuggled: b"\r\n.\n.\r\n",
        keep: b"\r\n\n.\r\n",
        convert: b"\r\n\r\n.\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<LF><CR>.<CR><LF>",
        smuggled: b"\n\r.\r\n",
        keep: b"\n\r.\r\n",
        convert: b"\r\n\r\n.\r\n",
        violation: DataViolation::BareLf,
    },
    Case {
        name: "<CR><CR>.<CR><CR>",
        smuggled: b"\r\r.\r\r",
        keep: b"\r\r.\r\r",
        convert: b"\r\n\r\n.\r\n\r\n",
        violation: DataViolation::BareCr,
    },
];

const POLICIES: [BareLineEndingPolicy; 3] = [
    BareLineEndingPolicy::Reject,
    BareLineEndingPolicy::ConvertToCrlf,
    BareLineEndingPolicy::Keep,
];

fn config(policy: BareLineEndingPolicy) -> UnstufferConfig {
    UnstufferConfig {
        bare_lf: policy,
        bare_cr: policy,
        ..UnstufferConfig::default()
    }
}

/// Feeds `chunks` in order and returns the content, the total consumed and
/// whether DATA ended.
fn feed_all(data: &mut DotUnstuffer, chunks: &[&[u8]]) -> (Vec<u8>, usize, bool) {
    let mut content = Vec::new();
    let mut consumed = 0;
    let mut done = false;
    for chunk in chunks {
        let progress = data.feed(chunk, &mut content);
        consumed += progress.consumed;
        done = progress.done;
    }
    (content, consumed, done)
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn look_alike_terminators_are_content_under_every_policy() {
    for case in CASES {
        let wire = concat(&[b"a", case.smuggled, b"b\r\n"]);
        for policy in POLICIES {
            let expected_middle = match policy {
                BareLineEndingPolicy::ConvertToCrlf => case.convert,
                _ => case.keep,
            };
            let expected = concat(&[b"a", expected_middle, b"b\r\n"]);
            let expected_violation = match policy {
                BareLineEndingPolicy::Reject => Some(case.violation),
                _ => None,
            };
            let what = format!("{} under {policy:?}", case.name);

            // In one piece, then one byte at a time: the same result.
            let one_piece: Vec<&[u8]> = vec![&wire];
            let bytewise: Vec<&[u8]> = wire.chunks(1).collect();
            for chunks in [one_piece, bytewise] {
                let mut data = DotUnstuffer::new(config(policy));
                let (content, consumed, done) = feed_all(&mut data, &chunks);
                assert!(!done, "{what}: must not end DATA");
                assert!(!data.is_done(), "{what}");
                assert_eq!(consumed, wire.len(), "{what}: all of it is content");
                assert_eq!(content, expected, "{what}: content");
                assert_eq!(data.violation(), expected_violation, "{what}: violation");

                // The real terminator still ends it; what follows is left.
                let mut rest = Vec::new();
                let progress = data.feed(b".\r\nQUIT\r\n", &mut rest);
                assert_eq!(
                    progress,
                    UnstuffProgress {
                        consumed: 3,
                        done: true
                    },
                    "{what}: real end"
                );
                assert!(rest.is_empty(), "{what}");
                assert_eq!(data.content_len(), expected.len() as u64, "{what}");
                assert_eq!(data.violation(), expected_violation, "{what}");
            }
        }
    }
}

#[test]
fn look_alike_terminators_at_the_very_start() {
    // DATA begins at a line start: only ".\r\n" ends an empty body.
    let cases = [
        Case {
            name: ".<LF> first",
            smuggled: b".\n",
            keep: b"\n",
            convert: b"\r\n",
            violation: DataViolation::BareLf,
        },
        Case {
            name: ".<CR> then a non-LF first",
            smuggled: b".\rx",
            keep: b"\rx",
            convert: b"\r\nx",
            violation: DataViolation::BareCr,
        },
        Case {
            name: "<LF>.<LF> first",
            smuggled: b"\n.\n",
            keep: b"\n.\n",
            convert: b"\r\n.\r\n",
            violation: DataViolation::BareLf,
        },
        Case {
            name: "<CR>.<CR><LF> first",
            smuggled: b"\r.\r\n",
            keep: b"\r.\r\n",
            convert: b"\r\n.\r\n",
            violation: DataViolation::BareCr,
        },
        Case {
            name: ".<CR><CR><LF> first",
            smuggled: b".\r\r\n",
            keep: b"\r\r\n",
            convert: b"\r\n\r\n",
            violation: DataViolation::BareCr,
        },
    ];
    for case in &cases {
        let wire = case.smuggled;
        for policy in POLICIES {
            let mut data = DotUnstuffer::new(config(policy));
            let (content, consumed, done) = feed_all(&mut data, &[wire]);
            let what = format!("{} under {policy:?}", case.name);
            assert!(!done, "{what}");
            assert_eq!(consumed, wire.len(), "{what}");
            let expected = if policy == BareLineEndingPolicy::ConvertToCrlf {
                case.convert
            } else {
                case.keep
            };
            assert_eq!(content, expected, "{what}");
            let expected_violation =
                (policy == BareLineEndingPolicy::Reject).then_some(case.violation);
            assert_eq!(data.violation(), expected_violation, "{what}");
            let mut rest = Vec::new();
            assert!(data.feed(b"\r\n.\r\n", &mut rest).done, "{what}");
        }
    }
}

#[test]
fn a_whole_smuggled_message_stays_inside_the_first() {
    let smuggled: &[u8] =
        b"From: a@example.org\r\n\r\nHello\n.\nMAIL FROM:<admin@bank.example>\r\n\
RCPT TO:<victim@example.com>\r\nDATA\r\nFrom: admin@bank.example\r\n\r\nPay now\r\n\n.\n";
    for policy in POLICIES {
        for chunk_len in [1, 2, 3, 7, 64, smuggled.len()] {
            let mut data = DotUnstuffer::new(config(policy));
            let chunks: Vec<&[u8]> = smuggled.chunks(chunk_len).collect();
            let (content, consumed, done) = feed_all(&mut data, &chunks);
            assert!(!done, "{policy:?} in chunks of {chunk_len}");
            assert_eq!(consumed, smuggled.len());
            assert!(content.windows(11).any(|w| w == b"MAIL FROM:<"));
            let expected_violation =
                (policy == BareLineEndingPolicy::Reject).then_some(DataViolation::BareLf);
            assert_eq!(data.violation(), expected_violation);
            let mut tail = Vec::new();
            let progress = data.feed(b"\r\n.\r\nRSET\r\n", &mut tail);
            assert_eq!(progress.consumed, 5);
            assert!(progress.done);
            assert_eq!(tail, b"\r\n");
        }
    }
}

#[test]
fn mixed_policies_apply_per_ending() {
    let config = UnstufferConfig {
        bare_lf: BareLineEndingPolicy::ConvertToCrlf,
        bare_cr: BareLineEndingPolicy::Reject,
        ..UnstufferConfig::default()
    };
    let mut data = DotUnstuffer::new(config);
    let (content, _, done) = feed_all(&mut data, &[b"a\n.\nb\rc\r\n"]);
    assert!(!done);
    assert_eq!(content, b"a\r\n.\r\nb\rc\r\n");
    assert_eq!(data.violation(), Some(DataViolation::BareCr));

    let config = UnstufferConfig {
        bare_lf: BareLineEndingPolicy::Keep,
        bare_cr: BareLineEndingPolicy::ConvertToCrlf,
        ..UnstufferConfig::default()
    };
    let mut data = DotUnstuffer::new(config);
    let (content, _, done) = feed_all(&mut data, &[b"a\r.\rb\n.\n\r\n.\r\n"]);
    assert!(done);
    assert_eq!(content, b"a\r\n.\r\nb\n.\n\r\n");
    assert_eq!(data.violation(), None);
}

#[test]
fn other_control_bytes_are_plain_content() {
    for wire in [
        &b"a\r\n\0.\r\n"[..],
        b"a\r\n .\r\n",
        b"a\r\n\t.\r\n",
        b"a\r\n.\0\r\n",
    ] {
        let mut data = DotUnstuffer::new(UnstufferConfig::default());
        let (_, consumed, done) = feed_all(&mut data, &[wire]);
        assert!(!done, "{wire:?}");
        assert_eq!(consumed, wire.len());
        assert_eq!(data.violation(), None);
    }
}

#[test]
fn line_limit_does_not_end_data() {
    let mut data = DotUnstuffer::new(UnstufferConfig::default());
    let long = vec![b'x'; 5000];
    let (content, _, done) = feed_all(&mut data, &[&long, b"\r\n"]);
    assert!(!done);
    assert_eq!(content.len(), 5002);
    assert_eq!(
        data.violation(),
        Some(DataViolation::LineTooLong { limit: 1000 })
    );
    let mut rest = Vec::new();
    assert!(data.feed(b".\r\n", &mut rest).done);
}

#[test]
fn bare_endings_end_a_line_for_the_limit() {
    // A broken sender using bare LF throughout is not also a long-line sender.
    let config = UnstufferConfig {
        bare_lf: BareLineEndingPolicy::ConvertToCrlf,
        ..UnstufferConfig::default()
    };
    let body = "word ".repeat(100) + "\n";
    let wire = body.repeat(50) + "\r\n.\r\n";
    let mut data = DotUnstuffer::new(config);
    let (_, consumed, done) = feed_all(&mut data, &[wire.as_bytes()]);
    assert!(done);
    assert_eq!(consumed, wire.len());
    assert_eq!(data.violation(), None);
}

#[test]
fn violation_order_follows_the_stream() {
    let limit = UnstufferConfig {
        max_line_len: Some(10),
        ..UnstufferConfig::default()
    };
    let wire: &[u8] = b"0123456789abc\nx\r\n.\r\n";
    for chunk_len in 1..wire.len() {
        let mut data = DotUnstuffer::new(limit);
        let chunks: Vec<&[u8]> = wire.chunks(chunk_len).collect();
        let (_, _, done) = feed_all(&mut data, &chunks);
        assert!(done);
        assert_eq!(
            data.violation(),
            Some(DataViolation::LineTooLong { limit: 10 })
        );
    }
    let mut data = DotUnstuffer::new(limit);
    feed_all(&mut data, &[b"01\n0123456789abc\r\n.\r\n"]);
    assert_eq!(data.violation(), Some(DataViolation::BareLf));
}
