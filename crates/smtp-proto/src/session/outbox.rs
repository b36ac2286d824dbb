//! The ordered output queue both sessions share: transmissions are merged so
//! that each batch is one write.

use super::Output;
use std::collections::VecDeque;

#[derive(Debug)]
pub(crate) struct Outbox<E> {
    queue: VecDeque<Output<E>>,
}

impl<E> Default for Outbox<E> {
    fn default() -> Self {
        Outbox {
            queue: VecDeque::new(),
        }
    }
}

impl<E> Outbox<E> {
    /// Appends bytes, merging with a transmission already at the back.
    #[allow(dead_code)] // for sessions that send raw bytes (message content)
    pub(crate) fn transmit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(Output::Transmit(last)) = self.queue.back_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.queue.push_back(Output::Transmit(bytes.to_vec()));
        }
    }

    /// Gives a buffer to serialize into, merged with the last transmission.
    pub(crate) fn transmit_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if !matches!(self.queue.back(), Some(Output::Transmit(_))) {
            self.queue.push_back(Output::Transmit(Vec::new()));
        }
        if let Some(Output::Transmit(last)) = self.queue.back_mut() {
            write(last);
        }
    }

    pub(crate) fn event(&mut self, event: E) {
        self.queue.push_back(Output::Event(event));
    }

    pub(crate) fn start_tls(&mut self) {
        self.queue.push_back(Output::StartTls);
    }

    pub(crate) fn close(&mut self) {
        self.queue.push_back(Output::Close);
    }

    pub(crate) fn pop(&mut self) -> Option<Output<E>> {
        match self.queue.pop_front() {
            Some(Output::Transmit(bytes)) if bytes.is_empty() => self.pop(),
            other => other,
        }
    }
}
