//! Who is local and who may log in: the directory of a small mail server.
//!
//! - [`DirectoryConfig`]: local domains, aliases (one alias to several
//!   targets, local or elsewhere), a catch-all per domain, a default quota;
//!   the `[directory]` table of the server's configuration.
//! - [`UsersFile`]: the users file, `address:argon2-PHC-hash[:quota]` per
//!   line, read with errors that name the line and never its content, and
//!   rewritten atomically keeping comments and order.
//! - [`Accounts`]: the two together. [`Accounts::resolve`] says where mail
//!   to an address goes ([`Resolution`]); [`Accounts::verify`] checks a
//!   password with argon2 (an unknown user costs the same, and the number
//!   of verifications running at once is bounded);
//!   [`Accounts::may_send_as`] says whether a user may use an envelope
//!   sender.
//! - [`LiveAccounts`]: the directory of a running server, reloaded when
//!   its users file changes (a broken new file keeps the last good one).
//! - [`AuthLimiter`]: AUTH failures per user and per client network across
//!   connections, pure (time is an argument) and bounded in memory.
//!
//! Addresses compare with the domain case-blind (as its IDNA A-label) and
//! the local part exactly; `user+detail@domain` reaches `user@domain`.
//! No password or hash ever appears in an error or a `Debug` output.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod address;
mod directory;
mod limiter;
mod live;
mod password;
mod quota;
mod users_file;

pub use address::{canonical_address, canonical_domain, DETAIL_SEPARATOR};
pub use directory::{
    Accounts, AccountsError, DirectoryConfig, LocalUser, Resolution, MAX_ALIAS_DEPTH,
};
pub use limiter::{AuthLimiter, AuthLimits};
pub use live::{LiveAccounts, DEFAULT_CHECK_INTERVAL};
pub use password::{HashError, HashedPassword, MAX_MEMORY_KIB, MAX_PARALLELISM, MAX_TIME_COST};
pub use quota::{format_quota, parse_quota};
pub use users_file::{EditError, UserEntry, UsersFile, UsersFileError, MAX_FILE_SIZE};
