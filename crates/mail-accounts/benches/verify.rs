//! What a login costs: argon2 verification of a known user with the right
//! and a wrong password, and of an unknown user (which must cost the same,
//! so timing does not tell which accounts exist); and the AuthLimiter's
//! check-and-count, which runs before every verification.
//!
//! `cargo bench -p mail-accounts --bench verify`

use mail_accounts::{Accounts, AuthLimiter, DirectoryConfig, HashedPassword, UsersFile};
use std::net::IpAddr;
use std::time::{Duration, Instant};

fn main() {
    divan::main();
}

fn accounts() -> Accounts {
    let mut users = UsersFile::new();
    for i in 0..100 {
        let hash = HashedPassword::new(&format!("password-{i}")).expect("hashing");
        users
            .add(&format!("user{i}@example.org"), hash, None)
            .expect("a new account");
    }
    Accounts::from_users(&users, &DirectoryConfig::default()).expect("a directory")
}

#[divan::bench(sample_count = 30)]
fn verify_known_user_right_password(bencher: divan::Bencher) {
    let accounts = accounts();
    bencher.bench(|| assert!(accounts.verify("user42@example.org", "password-42")));
}

#[divan::bench(sample_count = 30)]
fn verify_known_user_wrong_password(bencher: divan::Bencher) {
    let accounts = accounts();
    bencher.bench(|| assert!(!accounts.verify("user42@example.org", "guess")));
}

#[divan::bench(sample_count = 30)]
fn verify_unknown_user(bencher: divan::Bencher) {
    let accounts = accounts();
    bencher.bench(|| assert!(!accounts.verify("nobody@example.org", "guess")));
}

#[divan::bench]
fn limiter_allowed_then_failed(bencher: divan::Bencher) {
    let mut limiter = AuthLimiter::default();
    let t0 = Instant::now();
    let mut i = 0u32;
    bencher.bench_local(|| {
        i = i.wrapping_add(1);
        let ip = IpAddr::from(i.to_be_bytes());
        let now = t0 + Duration::from_millis(u64::from(i));
        if limiter.allowed(Some("ana@example.org"), ip, now) {
            limiter.failed("ana@example.org", ip, now);
        }
    });
}
