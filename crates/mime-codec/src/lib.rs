//! Build and parse MIME messages.
#![forbid(unsafe_code)]
