//! The inputs shared by `benches/grammar.rs` and `examples/profile.rs`.
#![allow(dead_code)]

/// A client's side of a submission: greeting, envelope, data, goodbye.
pub const COMMANDS: &[&[u8]] = &[
    b"EHLO client.example.org\r\n",
    b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3JldC1wYXNzd29yZA==\r\n",
    b"MAIL FROM:<alice.sender@example.com> SIZE=1048576 BODY=8BITMIME\r\n",
    b"RCPT TO:<bob.recipient@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob.recipient@example.org\r\n",
    b"RCPT TO:<carol@mail.example.net>\r\n",
    b"DATA\r\n",
    b"QUIT\r\n",
];

/// A server's side of the same session, single-line and multi-line.
pub const REPLIES: &[&[u8]] = &[
    b"220 mx.example.org ESMTP ready\r\n",
    EHLO_REPLY,
    b"235 2.7.0 Authentication successful\r\n",
    b"250 2.1.0 Ok\r\n",
    b"250 2.1.5 Ok\r\n",
    b"550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 4XYZ12ab34\r\n",
    b"221 2.0.0 Bye\r\n",
];

/// A Postfix-like EHLO reply of ten lines.
pub const EHLO_REPLY: &[u8] = b"250-mx.example.org Hello client.example.org [192.0.2.10]\r\n\
250-PIPELINING\r\n\
250-SIZE 52428800\r\n\
250-ETRN\r\n\
250-STARTTLS\r\n\
250-AUTH PLAIN LOGIN XOAUTH2\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-8BITMIME\r\n\
250-DSN\r\n\
250 CHUNKING\r\n";

pub fn total_len(inputs: &[&[u8]]) -> usize {
    inputs.iter().map(|i| i.len()).sum()
}

/// The line without its CRLF, found the way a server loop finds it (our
/// `LineBuffer` looks for the LF with `memchr`).
pub fn line(input: &[u8]) -> &[u8] {
    let lf = memchr::memchr(b'\n', input).unwrap_or(input.len());
    let line = &input[..lf];
    line.strip_suffix(b"\r").unwrap_or(line)
}
