//! The fuzz targets' checks run as property tests: the request head reads
//! the same however it arrives in pieces, and any label values render to
//! text that reads back to what was recorded, within the series cap.

mod oracle;

use oracle::{exposition, request_head};
use proptest::prelude::*;

proptest! {
    #[test]
    fn request_heads_read_the_same_in_any_pieces(
        head in prop_oneof![
            "(GET|HEAD|POST) /[a-z?=]{0,20} HTTP/1\\.[01]\r\n([A-Za-z-]{1,10}: [ -~]{0,30}\r\n){0,40}\r\n",
            any::<Vec<u8>>().prop_map(|v| String::from_utf8_lossy(&v).into_owned()),
        ],
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        max in 16usize..2048,
    ) {
        request_head(head.as_bytes(), &cuts, max);
    }

    #[test]
    fn any_label_values_render_and_read_back(
        pairs in proptest::collection::vec(("\\PC{0,200}|[\\\\\"\n{},=]{0,5}", "\\PC{0,8}"), 0..30)
    ) {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        exposition(&pairs);
    }
}

#[test]
fn known_heads() {
    request_head(
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        &[3, 10, 20],
        1024,
    );
    request_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &[5], 20);
    request_head(b"\x00garbage\r\n\r\n", &[1], 1024);
    exposition(&[("a\"b", "c\\d"), ("new\nline", ""), ("", "")]);
}
