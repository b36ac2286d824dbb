//! Feeds arbitrary bytes to the streaming MIME structure scanner whole and in chunks whose
//! sizes come from the input: it never panics, the structure does not depend on where the
//! chunks were cut, and every range lies inside the message and inside its parent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mime_codec::structure::{Structure, StructureScanner};

fuzz_target!(|data: &[u8]| {
    let (sizes, msg) = data.split_at(data.len().min(4));
    let whole = Structure::of(msg);
    let mut scanner = StructureScanner::default();
    let mut rest = msg;
    let mut i = 0;
    while !rest.is_empty() {
        let n = usize::from(sizes.get(i % sizes.len().max(1)).copied().unwrap_or(7)).max(1);
        let (a, b) = rest.split_at(n.min(rest.len()));
        scanner.feed(a);
        rest = b;
        i += 1;
    }
    let chunked = scanner.finish();
    assert_eq!(whole, chunked);
    let size = msg.len() as u64;
    assert_eq!(whole.size(), size);
    for (i, p) in whole.parts().iter().enumerate() {
        assert!(p.start <= p.fields_start && p.fields_start <= p.body_start, "{i} {p:?}");
        assert!(p.body_start <= p.body_end && p.body_end <= size, "{i} {p:?}");
        if let Some(parent) = p.parent.map(|j| &whole.parts()[j]) {
            assert!(parent.body_start <= p.start && p.body_end <= parent.body_end, "{i} {p:?}");
        }
    }
});
