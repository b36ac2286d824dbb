//! Talking to a scanner under one deadline for the whole exchange.
//!
//! Per-call socket timeouts alone let a peer that trickles one byte a second
//! hold a filter forever; here every read and write gets what is left of the
//! exchange's deadline, so the whole exchange ends by then.

use crate::FilterError;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

/// One exchange with a scanner: its name (for errors), its socket and its
/// deadline.
pub(crate) struct Exchange<'a> {
    scanner: &'a str,
    stream: TcpStream,
    started: Instant,
    timeout: Duration,
}

impl<'a> Exchange<'a> {
    /// Connects to `address` (`host:port`) within `connect_timeout` (and the
    /// whole exchange's `timeout`).
    pub(crate) fn connect(
        scanner: &'a str,
        address: &str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Exchange<'a>, FilterError> {
        let started = Instant::now();
        let connect_error = |source: io::Error| FilterError::Connect {
            scanner: scanner.to_owned(),
            address: address.to_owned(),
            source,
        };
        let addrs: Vec<SocketAddr> = address.to_socket_addrs().map_err(connect_error)?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
        for addr in addrs {
            let budget = connect_timeout.min(timeout.saturating_sub(started.elapsed()));
            if budget.is_zero() {
                return Err(FilterError::Timeout {
                    scanner: scanner.to_owned(),
                    after: timeout,
                });
            }
            match TcpStream::connect_timeout(&addr, budget) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Exchange {
                        scanner,
                        stream,
                        started,
                        timeout,
                    });
                }
                Err(e) => last = e,
            }
        }
        if last.kind() == io::ErrorKind::TimedOut {
            return Err(FilterError::Timeout {
                scanner: scanner.to_owned(),
                after: connect_timeout.min(timeout),
            });
        }
        Err(connect_error(last))
    }

    fn remaining(&self) -> Result<Duration, FilterError> {
        let left = self.timeout.saturating_sub(self.started.elapsed());
        if left.is_zero() {
            Err(self.timed_out())
        } else {
            Ok(left)
        }
    }

    pub(crate) fn timed_out(&self) -> FilterError {
        FilterError::Timeout {
            scanner: self.scanner.to_owned(),
            after: self.timeout,
        }
    }

    fn map_io(&self, e: io::Error) -> FilterError {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            self.timed_out()
        } else {
            FilterError::Io {
                scanner: self.scanner.to_owned(),
                source: e,
            }
        }
    }

    /// Writes all of `bytes` before the deadline.
    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), FilterError> {
        while !bytes.is_empty() {
            let left = self.remaining()?;
            self.stream
                .set_write_timeout(Some(left))
                .map_err(|e| self.map_io(e))?;
            match self.stream.write(bytes) {
                Ok(0) => {
                    return Err(self.map_io(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the scanner stopped reading",
                    )))
                }
                Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.map_io(e)),
            }
        }
        Ok(())
    }

    /// Reads once (what is there, up to `buf.len()`) before the deadline;
    /// 0 at the end of the stream.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, FilterError> {
        loop {
            let left = self.remaining()?;
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| self.map_io(e))?;
            match self.stream.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.map_io(e)),
            }
        }
    }

    /// Reads until the peer closes or `done(&bytes_so_far)` says the reply is
    /// complete, at most `limit` bytes.
    pub(crate) fn read_reply(
        &mut self,
        limit: usize,
        mut done: impl FnMut(&[u8]) -> bool,
    ) -> Result<Vec<u8>, FilterError> {
        let mut reply = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok(reply);
            }
            if reply.len() + n > limit {
                return Err(FilterError::ReplyTooLarge {
                    scanner: self.scanner.to_owned(),
                    limit,
                });
            }
            reply.extend_from_slice(buf.get(..n).unwrap_or_default());
            if done(&reply) {
                return Ok(reply);
            }
        }
    }

    /// The scanner's name.
    pub(crate) fn scanner(&self) -> &str {
        self.scanner
    }
}

/// Opens the stored message.
pub(crate) fn open_message(scanner: &str, path: &Path) -> Result<(File, u64), FilterError> {
    let io_error = |source| FilterError::Io {
        scanner: scanner.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let size = file.metadata().map_err(io_error)?.len();
    Ok((file, size))
}

/// Reads the next piece of the message, retrying interrupted reads.
pub(crate) fn read_chunk(
    scanner: &str,
    file: &mut File,
    buf: &mut [u8],
) -> Result<usize, FilterError> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(FilterError::Io {
                    scanner: scanner.to_owned(),
                    source,
                })
            }
        }
    }
}
