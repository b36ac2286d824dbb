//! A built message as an `io::Read` for the client, encoded chunk by chunk
//! as it is read; and attachments streamed from files, whose read failures
//! stop the message instead of truncating it.

use mime_codec::{Attachment, Chunks, OutgoingMessage};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How much of a file is read at a time (a multiple of 3, so base64 lines
/// break evenly).
const FILE_CHUNK: usize = 48 * 1024;

/// Attachments read from files while the message is sent, never whole.
///
/// An attachment's bytes come from an iterator, which cannot fail; a file
/// that fails (or changes size) mid-way is recorded here, and the
/// [`reader`](Self::reader) of the message then fails, so the client
/// closes the connection instead of ending a truncated message.
///
/// ```
/// use mailer::FileAttachments;
/// use mime_codec::{Mailbox, MessageBuilder};
/// use std::io::Read;
///
/// let path = std::env::temp_dir().join(format!("mailer-doc-{}.txt", std::process::id()));
/// std::fs::write(&path, b"attached")?;
/// let files = FileAttachments::default();
/// let message = MessageBuilder::new()
///     .from(Mailbox::address_only("a@b.example")?)
///     .to(Mailbox::address_only("c@d.example")?)
///     .text_body("see attached")
///     .attach(files.open(&path)?)
///     .build()?;
/// let mut bytes = Vec::new();
/// files.reader(message).read_to_end(&mut bytes)?;
/// assert!(String::from_utf8_lossy(&bytes).contains("YXR0YWNoZWQ="));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FileAttachments {
    errors: Arc<Mutex<Option<io::Error>>>,
}

impl FileAttachments {
    /// An attachment streamed from the file at `path`, named after it. The
    /// file is opened now, so a missing one is refused before anything is
    /// sent.
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<Attachment> {
        let path = path.as_ref();
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
            errors: Arc::clone(&self.errors),
            done: false,
        };
        Ok(Attachment::from_chunks(name, Some(len), chunks))
    }

    /// The message as a reader that fails when one of these files did.
    pub fn reader(&self, message: OutgoingMessage) -> MessageReader {
        MessageReader {
            chunks: message.chunks(),
            current: Vec::new(),
            pos: 0,
            errors: Some(Arc::clone(&self.errors)),
        }
    }
}

/// A file read chunk by chunk; it must yield exactly the length it had when
/// opened (the message's SIZE was computed from it).
struct FileChunks {
    file: File,
    path: PathBuf,
    left: u64,
    errors: Arc<Mutex<Option<io::Error>>>,
    done: bool,
}

impl FileChunks {
    fn fail(&mut self, kind: io::ErrorKind, why: String) -> Option<Vec<u8>> {
        self.done = true;
        if let Ok(mut slot) = self.errors.lock() {
            slot.get_or_insert(io::Error::new(
                kind,
                format!("reading {}: {why}", self.path.display()),
            ));
        }
        None
    }
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
                Err(e) => return self.fail(e.kind(), e.to_string()),
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

/// A built message as an `io::Read`: each chunk is encoded when needed.
pub struct MessageReader {
    chunks: Chunks,
    current: Vec<u8>,
    pos: usize,
    errors: Option<Arc<Mutex<Option<io::Error>>>>,
}

impl fmt::Debug for MessageReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageReader")
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

impl MessageReader {
    /// The message's bytes, read as they are encoded.
    pub fn new(message: OutgoingMessage) -> MessageReader {
        MessageReader {
            chunks: message.chunks(),
            current: Vec::new(),
            pos: 0,
            errors: None,
        }
    }

    fn failure(&self) -> Option<io::Error> {
        self.errors
            .as_ref()
            .and_then(|e| e.lock().ok().and_then(|mut slot| slot.take()))
    }
}

impl Read for MessageReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.current.len() {
            let next = self.chunks.next();
            if let Some(error) = self.failure() {
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
        let dir = std::env::temp_dir().join(format!("mailer-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn builder() -> MessageBuilder {
        MessageBuilder::new()
            .from(Mailbox::address_only("a@b.example").unwrap())
            .to(Mailbox::address_only("c@d.example").unwrap())
            .text_body("see attached")
            .entropy([1; 16])
    }

    #[test]
    fn a_streamed_file_gives_the_same_bytes_as_one_in_memory() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let path = temp("same.bin", &bytes);
        let files = FileAttachments::default();
        let streamed = builder()
            .attach(files.open(&path).unwrap())
            .build()
            .unwrap();
        let size = streamed.size();
        let mut out = Vec::new();
        files.reader(streamed).read_to_end(&mut out).unwrap();
        let whole = builder()
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
        let files = FileAttachments::default();
        let streamed = builder()
            .attach(files.open(&path).unwrap())
            .build()
            .unwrap();
        std::fs::write(&path, [7; 10]).unwrap();
        let mut out = Vec::new();
        let error = files.reader(streamed).read_to_end(&mut out).unwrap_err();
        assert!(error.to_string().contains("shrank"), "{error}");
        assert!(FileAttachments::default().open("/nonexistent/x").is_err());
    }
}
