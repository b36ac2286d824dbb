//! Mail that leaves: submitted (or authenticated relayed) messages signed
//! with their domain's DKIM key and put durably into the spool, from which
//! the delivery engine (`mailwire deliver`, or the server's own workers)
//! sends them on.

use mail_spool::spool::NewMessage;
use mail_spool::{Spool, Timestamp};
use mailwire_auth::dkim::DkimSigner;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Why a message could not be queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// A DKIM key could not be read or used.
    #[error("DKIM key for {domain}: {reason}")]
    Key {
        /// The signing domain.
        domain: String,
        /// What went wrong.
        reason: String,
    },
    /// Signing failed.
    #[error("DKIM signing: {0}")]
    Sign(String),
    /// The spool refused or failed.
    #[error("spool: {0}")]
    Spool(#[from] mail_spool::SpoolError),
}

/// The spool and the signing keys of outgoing mail.
#[derive(Clone)]
pub struct Outbound {
    spool: Arc<dyn Spool>,
    signers: BTreeMap<String, Vec<DkimSigner>>,
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("dkim_domains", &self.signers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Outbound {
    /// Queues into `spool`, signing nothing yet.
    pub fn new(spool: Arc<dyn Spool>) -> Outbound {
        Outbound {
            spool,
            signers: BTreeMap::new(),
        }
    }

    /// Signs mail whose From domain is `domain` with the PEM private key
    /// `pem` (RSA or Ed25519) under `selector`. Several keys per domain
    /// add several signatures.
    pub fn with_dkim_pem(
        mut self,
        domain: &str,
        selector: &str,
        pem: &str,
    ) -> Result<Outbound, OutboundError> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let signer = mailwire_auth::dkim::signer_from_pem(pem, &domain, selector).map_err(|e| {
            OutboundError::Key {
                domain: domain.clone(),
                reason: e.to_string(),
            }
        })?;
        self.signers.entry(domain).or_default().push(signer);
        Ok(self)
    }

    /// The spool messages go into.
    pub fn spool(&self) -> &Arc<dyn Spool> {
        &self.spool
    }

    /// The DKIM-Signature fields for `message` (its From domain's keys;
    /// empty when that domain has none).
    pub(crate) fn sign(&self, message: &[u8], now: u64) -> Result<String, OutboundError> {
        let head_end = message
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(message.len(), |i| i + 2);
        let fields = mailwire_auth::header::split_fields(&message[..head_end]);
        let Some(domain) = mailwire_auth::check::from_domain(&fields) else {
            return Ok(String::new());
        };
        let Some(signers) = self.signers.get(&domain) else {
            return Ok(String::new());
        };
        mailer::dkim::sign_bytes(message, signers, now)
            .map_err(|e| OutboundError::Sign(e.to_string()))
    }

    /// Puts the message durably into the spool; returns its queue id.
    pub(crate) fn enqueue(
        &self,
        sender: &str,
        recipients: Vec<String>,
        body: Vec<u8>,
    ) -> Result<String, OutboundError> {
        let message = NewMessage {
            sender: sender.to_owned(),
            recipients,
            body,
            dedup_key: None,
        };
        let queued = self.spool.enqueue(&message, Timestamp::now())?;
        Ok(queued.id.to_string())
    }
}
