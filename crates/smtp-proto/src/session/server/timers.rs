//! The server session's deadlines, as plain data: nothing here reads a
//! clock; every time comes from an input.
//!
//! Four clocks bound what a client can hold: the idle timer (restarted by
//! every byte, RFC 5321 §4.5.3.2.7), the command-line deadline (from a
//! line's first byte, so trickling a byte at a time does not help), the
//! body rate floor (windows of `per` that must each bring `octets`), and the
//! session's lifetime.

use super::config::ServerConfig;
use std::time::Instant;

/// Which bound a client went past, most general first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    Lifetime,
    Body,
    CommandLine,
    Idle,
}

/// Progress of the message body in the current window.
#[derive(Debug, Clone, Copy)]
struct BodyWindow {
    start: Instant,
    octets: u64,
}

#[derive(Debug)]
pub(super) struct Timers {
    /// Before the greeting: when to greet; after it: when the client has
    /// been idle too long.
    pub(super) idle: Option<Instant>,
    /// When the first byte of the command line still incomplete arrived.
    line_started: Option<Instant>,
    lifetime_end: Option<Instant>,
    body: Option<BodyWindow>,
}

impl Timers {
    pub(super) fn new(config: &ServerConfig, now: Instant) -> Timers {
        Timers {
            idle: None,
            line_started: None,
            lifetime_end: config.session_lifetime.map(|d| now + d),
            body: None,
        }
    }

    /// A command line is open (`open`); `new_line` when it is not the one
    /// that was open before (a line ended since, or none was open).
    pub(super) fn set_line(&mut self, open: bool, new_line: bool, now: Instant) {
        if !open {
            self.line_started = None;
        } else if new_line || self.line_started.is_none() {
            self.line_started = Some(now);
        }
    }

    /// A message body is under way (`active`), or not.
    pub(super) fn set_body(&mut self, active: bool, now: Instant) {
        if !active {
            self.body = None;
        } else if self.body.is_none() {
            self.body = Some(BodyWindow {
                start: now,
                octets: 0,
            });
        }
    }

    /// Body octets arrived.
    pub(super) fn body_progress(&mut self, octets: usize) {
        if let Some(window) = &mut self.body {
            window.octets = window.octets.saturating_add(octets as u64);
        }
    }

    /// The waiting for the application is over at `now`: a body window that
    /// has seen nothing yet starts now, not at the last input.
    pub(super) fn restart_unused_body_window(&mut self, now: Instant) {
        if let Some(window) = &mut self.body {
            if window.octets == 0 {
                window.start = now;
            }
        }
    }

    /// The earliest deadline.
    pub(super) fn next(&self, config: &ServerConfig) -> Option<Instant> {
        let line = self
            .line_started
            .zip(config.command_timeout)
            .map(|(t, d)| t + d);
        let body = self
            .body
            .zip(config.min_body_rate)
            .map(|(w, rate)| w.start + rate.per);
        [self.idle, line, self.lifetime_end, body]
            .into_iter()
            .flatten()
            .min()
    }

    /// The bound passed at `now`, if any. A body window that passed with
    /// enough octets gives way to the next one.
    pub(super) fn expired(&mut self, now: Instant, config: &ServerConfig) -> Option<Expired> {
        if self.lifetime_end.is_some_and(|end| now >= end) {
            return Some(Expired::Lifetime);
        }
        if let (Some(window), Some(rate)) = (&mut self.body, config.min_body_rate) {
            if now >= window.start + rate.per {
                if window.octets < rate.octets {
                    return Some(Expired::Body);
                }
                *window = BodyWindow {
                    start: now,
                    octets: 0,
                };
            }
        }
        let line_deadline = self
            .line_started
            .zip(config.command_timeout)
            .map(|(t, d)| t + d);
        if line_deadline.is_some_and(|d| now >= d) {
            return Some(Expired::CommandLine);
        }
        if self.idle.is_some_and(|d| now >= d) {
            return Some(Expired::Idle);
        }
        None
    }
}
