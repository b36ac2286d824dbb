//! Password hashes (argon2 PHC strings) and the gate that bounds how many
//! argon2 verifications run at once.
//!
//! Each argon2 verification holds its memory cost (19 MiB with the default
//! parameters) for its duration. Without a bound, a flood of AUTH attempts
//! over many connections would hold that much per attempt; the gate lets a
//! fixed number run and queues the rest, holding nothing while they wait.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params};
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The largest argon2 memory cost a stored hash may ask for, in KiB
/// (256 MiB): verifying a hash costs its memory, so a hash with a huge
/// cost is refused when the file is read rather than at the first login.
pub const MAX_MEMORY_KIB: u32 = 256 * 1024;
/// The largest argon2 time cost (passes) a stored hash may ask for.
pub const MAX_TIME_COST: u32 = 64;
/// The largest argon2 parallelism a stored hash may ask for.
pub const MAX_PARALLELISM: u32 = 16;

/// Why a stored hash is not one we verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashProblem {
    /// Not a PHC string at all (`$` first): most likely a plain password.
    NotPhc,
    /// A PHC string of another algorithm (bcrypt, SHA-crypt, ...).
    NotArgon2,
    /// An argon2 PHC string that does not parse, or asks for more memory,
    /// time or lanes than the bounds above.
    Malformed,
}

/// A password hashed with argon2, as its PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct HashedPassword(String);

impl fmt::Debug for HashedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashedPassword(..)")
    }
}

impl HashedPassword {
    /// Hashes `password` with argon2id and its default parameters (19 MiB,
    /// 2 passes, 1 lane: OWASP's recommendation) and a random salt.
    pub fn new(password: &str) -> Result<HashedPassword, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|_| HashError)?;
        Ok(HashedPassword(hash.to_string()))
    }

    /// A stored PHC string, checked to be argon2 within the bounds above.
    pub(crate) fn parse(phc: &str) -> Result<HashedPassword, HashProblem> {
        if !phc.starts_with('$') {
            return Err(HashProblem::NotPhc);
        }
        let parsed = PasswordHash::new(phc).map_err(|_| {
            if phc.starts_with("$argon2") {
                HashProblem::Malformed
            } else {
                HashProblem::NotArgon2
            }
        })?;
        if Algorithm::try_from(parsed.algorithm).is_err() {
            return Err(HashProblem::NotArgon2);
        }
        // Bounded before argon2 reads them: its `Params::new` computes
        // `p * 8` unchecked, which overflows (a panic with overflow checks)
        // for a huge `p` (found by fuzzing).
        let within = |name: &str, max: u32| {
            parsed
                .params
                .get_decimal(name)
                .is_none_or(|value| value <= max)
        };
        if !(within("m", MAX_MEMORY_KIB)
            && within("t", MAX_TIME_COST)
            && within("p", MAX_PARALLELISM))
        {
            return Err(HashProblem::Malformed);
        }
        let params = Params::try_from(&parsed).map_err(|_| HashProblem::Malformed)?;
        let bounded = params.m_cost() <= MAX_MEMORY_KIB
            && params.t_cost() <= MAX_TIME_COST
            && params.p_cost() <= MAX_PARALLELISM;
        if !bounded || parsed.salt.is_none() || parsed.hash.is_none() {
            return Err(HashProblem::Malformed);
        }
        Ok(HashedPassword(phc.to_owned()))
    }

    /// The PHC string, to write into the users file.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// True when `password` is the one hashed. Runs argon2 with the
    /// hash's own parameters; call it through a [`VerifyGate`].
    pub(crate) fn matches(&self, password: &str) -> bool {
        PasswordHash::new(&self.0).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    }

    /// A hash of a password nobody knows with the parameters of `like`
    /// (or the defaults), for unknown users to be verified against, so that
    /// they cost the same time as known ones.
    pub(crate) fn dummy_like(like: Option<&HashedPassword>) -> Option<HashedPassword> {
        let params = like
            .and_then(|hash| {
                let parsed = PasswordHash::new(&hash.0).ok()?;
                let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
                let params = Params::try_from(&parsed).ok()?;
                Some((algorithm, params))
            })
            .unwrap_or((Algorithm::Argon2id, Params::default()));
        let salt = SaltString::from_b64("bWFpbHdpcmUtbm8tc3VjaC11c2Vy").ok()?;
        let argon2 = Argon2::new(params.0, argon2::Version::V0x13, params.1);
        let hash = argon2
            .hash_password(b"\0mailwire-no-such-user", &salt)
            .ok()?;
        Some(HashedPassword(hash.to_string()))
    }
}

/// Hashing a password failed (argon2 refused its parameters or the system
/// gave no random salt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("hashing the password failed")]
pub struct HashError;

/// A counting semaphore: at most `limit` argon2 verifications at once.
#[derive(Debug)]
pub(crate) struct VerifyGate {
    limit: usize,
    state: Mutex<GateState>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    running: usize,
    peak: usize,
    total: u64,
}

impl VerifyGate {
    pub(crate) fn new(limit: usize) -> VerifyGate {
        VerifyGate {
            limit: limit.max(1),
            state: Mutex::new(GateState::default()),
            freed: Condvar::new(),
        }
    }

    /// Twice the machine's cores.
    pub(crate) fn for_this_machine() -> VerifyGate {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        VerifyGate::new(cores.saturating_mul(2))
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn state(&self) -> MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `work` once a slot is free; waiting holds no argon2 memory.
    pub(crate) fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        {
            let mut state = self.state();
            while state.running >= self.limit {
                state = self
                    .freed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            state.running += 1;
            state.peak = state.peak.max(state.running);
            state.total += 1;
        }
        // Released on unwind too, so a panic in argon2 cannot leak a slot.
        let _slot = Slot(self);
        work()
    }

    /// The most verifications that ever ran at once.
    pub(crate) fn peak(&self) -> usize {
        self.state().peak
    }

    /// How many verifications ran (or run) in all.
    pub(crate) fn total(&self) -> u64 {
        self.state().total
    }
}

struct Slot<'a>(&'a VerifyGate);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.running -= 1;
        drop(state);
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_new_hash_verifies_its_password_only_and_hides_in_debug() {
        let hash = HashedPassword::new("correct horse").unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hash.matches("correct horse"));
        assert!(!hash.matches("correct horsE"));
        assert_eq!(format!("{hash:?}"), "HashedPassword(..)");
        assert_eq!(HashedPassword::parse(hash.as_phc()), Ok(hash));
    }

    #[test]
    fn stored_hashes_are_sorted_into_what_is_wrong() {
        use HashProblem::*;
        let cases = [
            ("hunter2", NotPhc),
            ("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", NotArgon2),
            ("$6$rounds=5000$salt$abc", NotArgon2),
            ("$argon2id$v=19$m=19456", Malformed),
            ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", Malformed),
            (
                "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$7hPTfTz3hS1C0bOSpzVLsRhNcmiuC+WXxZ2s6Qv0gzI",
                Malformed,
            ),
            // argon2's own check of this one overflows.
            (
                "$argon2id$v=19$m=19456,t=2,p=1555555555$c2FsdHNhbHQ$7hPTfTz3hS1C0bOSpzVLsRhNcmiuC+WXxZ2s6Qv0gzI",
                Malformed,
            ),
            (
                "$argon2id$v=19$m=19456,t=99,p=1$c2FsdHNhbHQ$7hPTfTz3hS1C0bOSpzVLsRhNcmiuC+WXxZ2s6Qv0gzI",
                Malformed,
            ),
        ];
        for (phc, problem) in cases {
            assert_eq!(HashedPassword::parse(phc), Err(problem), "{phc}");
        }
    }

    #[test]
    fn the_dummy_takes_the_parameters_of_a_real_hash() {
        let cheap = Argon2::new(
            Algorithm::Argon2i,
            argon2::Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let salt = SaltString::from_b64("c2FsdHNhbHQ").unwrap();
        let real =
            HashedPassword::parse(&cheap.hash_password(b"pw", &salt).unwrap().to_string()).unwrap();
        let dummy = HashedPassword::dummy_like(Some(&real)).unwrap();
        assert!(
            dummy.as_phc().starts_with("$argon2i$v=19$m=8,t=1,p=1$"),
            "{dummy:?}"
        );
        let default = HashedPassword::dummy_like(None).unwrap();
        assert!(default
            .as_phc()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!default.matches(""));
    }

    #[test]
    fn the_gate_never_lets_more_than_its_limit_run() {
        let gate = Arc::new(VerifyGate::new(2));
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                std::thread::spawn(move || {
                    gate.run(|| {
                        use std::sync::atomic::Ordering::SeqCst;
                        let now = running.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, SeqCst);
                    })
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let most = most.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(most, 2, "work seen running at once");
        assert_eq!(gate.peak(), 2);
        assert_eq!(gate.total(), 12);
    }
}
