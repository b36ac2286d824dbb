//! The transcript at any split of the wire: credentials never shown,
//! whatever the server sends around its 334 challenges, and no terminal
//! control character ever printed.

use proptest::prelude::*;
use smtp_proto::transcript::{Direction, Transcript, WireObserver};

const SECRET: &str = "c2VjcmV0LXBhc3N3b3Jk";

/// Splits `bytes` at the given (sorted, deduplicated) cut points.
fn pieces(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        if cut > start {
            out.push(bytes[start..cut].to_vec());
            start = cut;
        }
    }
    out
}

proptest! {
    #[test]
    fn answers_to_334_are_redacted_at_any_split(
        cuts in proptest::collection::vec(0usize..200, 0..8),
        final_code in prop_oneof![Just("235"), Just("535"), Just("454"), Just("334")],
        early in any::<bool>(),
        junk in "[ -~\u{1b}\u{7}\u{85}\u{202e}]{0,20}",
    ) {
        // The server's challenge, and (when `early`) its final reply in the
        // same packet, before the client's answer.
        let challenge = format!("334 {junk}\r\n");
        let last = format!("{final_code} 5.7.8 {junk}\r\n");
        let mut wire: Vec<(Direction, Vec<u8>)> = vec![
            (Direction::Received, b"220 mx\r\n".to_vec()),
            (Direction::Sent, b"AUTH LOGIN\r\n".to_vec()),
        ];
        if early {
            wire.push((Direction::Received, format!("{challenge}{last}").into_bytes()));
            wire.push((Direction::Sent, format!("{SECRET}\r\n").into_bytes()));
        } else {
            wire.push((Direction::Received, challenge.into_bytes()));
            wire.push((Direction::Sent, format!("{SECRET}\r\n").into_bytes()));
            wire.push((Direction::Received, last.into_bytes()));
        }
        let mut lines = Vec::new();
        {
            let mut t = Transcript::client(|line| lines.push(line.to_string()));
            for (direction, bytes) in &wire {
                for piece in pieces(bytes, &cuts) {
                    t.observe(*direction, false, &piece);
                }
            }
        }
        for line in &lines {
            prop_assert!(!line.contains(SECRET), "{lines:?}");
            prop_assert!(!line.chars().any(|c| c.is_control() || c == '\u{202e}'), "{lines:?}");
        }
    }
}
