//! The message body streamed from disk: attachment files read a chunk at a
//! time while the message is written, and the built message as an
//! `io::Read` for the client, so that no attachment is ever held whole.

use mime_codec::{Attachment, Chunks, OutgoingMessage};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How much of a file is read at a time (a multiple of 3, so base64 lines
/// break evenly).
const FILE_CHUNK: usize = 48 * 1024;

/// The first failure of any file being streamed, seen by the reader of the
/// message: an attachment iterator cannot return an error itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileErrors(Arc<Mutex<Option<io::Error>>>);

impl FileErrors {
    fn record(&self, error: io::Error) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(error);
        }
    }

    fn take(&self) -> Option<io::Error> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// A file read chunk by chunk; it must yield exactly the length it had when
/// opened (the message's SIZE was computed from it), or a failure is
/// recorded and the stream ends.
struct FileChunks {
    file: File,
    path: PathBuf,
    left: u64,
    errors: FileErrors,
    done: bool,
}

impl Iterator for FileChunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut buf = vec![0; FILE_CHUNK];
        let mut filled = 0;
        while filled < buf.len() {
            match self.file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(e.kind(), format!("{e}")),
            }
        }
        buf.truncate(filled);
        let len = filled as u64;
        if len > self.left {
            return self.fail(
                io::ErrorKind::InvalidData,
                "it grew while being sent".into(),
            );
        }
        self.left -= len;
        if filled == 0 {
            self.done = true;
            if self.left > 0 {
                return self.fail(
                    io::ErrorKind::UnexpectedEof,
                    "it shrank while being sent".into(),
                );
            }
            return None;
        }
        Some(buf)
    }
}

impl FileChunks {
    fn fail(&mut self, kind: io::ErrorKind, why: String) -> Option<Vec<u8>> {
        self.done = true;
        self.errors.record(io::Error::new(
            kind,
            format!("reading {}: {why}", self.path.display()),
        ));
        None
    }
}

/// An attachment (or inline part) streamed from the file at `path`, named
/// after the file. The file is opened now, so a missing one is refused
/// before anything is sent.
pub(crate) fn file_attachment(path: &Path, errors: &FileErrors) -> io::Result<Attachment> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a directory",
        ));
    }
    let len = meta.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".to_owned());
    let chunks = FileChunks {
        file,
        path: path.to_owned(),
        left: len,
        errors: errors.clone(),
        done: false,
    };
    Ok(Attachment::from_chunks(name, Some(len), chunks))
}

/// A built message as an `io::Read`: each chunk is encoded when it is
/// needed. A file that fails mid-way is a read error, so the client closes
/// the connection instead of ending a truncated message with a dot.
pub(crate) struct MessageReader {
    chunks: Chunks,
    current: Vec<u8>,
    pos: usize,
    errors: FileErrors,
}

impl MessageReader {
    pub(crate) fn new(message: OutgoingMessage, errors: FileErrors) -> MessageReader {
        MessageReader {
            chunks: message.chunks(),
            current: Vec::new(),
            pos: 0,
            errors,
        }
    }
}

impl Read for MessageReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.current.len() {
            let next = self.chunks.next();
            if let Some(error) = self.errors.take() {
                return Err(error);
            }
            match next {
                Some(chunk) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let available = self.current.get(self.pos..).unwrap_or_default();
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mime_codec::{Mailbox, MessageBuilder};

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mailwire-body-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn message(path: &Path, errors: &FileErrors) -> OutgoingMessage {
        MessageBuilder::new()
            .from(Mailbox::address_only("a@b.example").unwrap())
            .to(Mailbox::address_only("c@d.example").unwrap())
            .text_body("see attached")
            .entropy([1; 16])
            .attach(file_attachment(path, errors).unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn a_streamed_file_gives_the_same_bytes_as_one_in_memory() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let path = temp("same.bin", &bytes);
        let errors = FileErrors::default();
        let streamed = message(&path, &errors);
        let size = streamed.size();
        let mut out = Vec::new();
        MessageReader::new(streamed, errors)
            .read_to_end(&mut out)
            .unwrap();
        let whole = MessageBuilder::new()
            .from(Mailbox::address_only("a@b.example").unwrap())
            .to(Mailbox::address_only("c@d.example").unwrap())
            .text_body("see attached")
            .entropy([1; 16])
            .attach(Attachment::new("same.bin", bytes))
            .build()
            .unwrap()
            .to_vec();
        assert_eq!(out, whole);
        assert_eq!(size, Some(out.len() as u64));
    }

    #[test]
    fn a_file_that_shrinks_while_sent_is_a_read_error_not_a_short_message() {
        let path = temp("shrink.bin", &[7; 100_000]);
        let errors = FileErrors::default();
        let streamed = message(&path, &errors);
        std::fs::write(&path, [7; 10]).unwrap();
        let mut out = Vec::new();
        let error = MessageReader::new(streamed, errors)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(error.to_string().contains("shrank"), "{error}");
    }

    #[test]
    fn a_missing_file_is_refused_before_anything_is_built() {
        let errors = FileErrors::default();
        assert!(file_attachment(Path::new("/nonexistent/x.bin"), &errors).is_err());
    }
}
