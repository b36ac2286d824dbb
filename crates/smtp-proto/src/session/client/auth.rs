//! AUTH (RFC 4954): mechanism choice, the plaintext rule, and the 334 dialogue.

use super::{ClientError, ClientSession, Phase, TlsPolicy};
use crate::sasl::{
    choose_mechanism, decode_base64, encode_base64, exposes_secret, SaslClient, SaslError,
};
use crate::types::{Mechanism, Reply, ReplyCode};
use crate::Secret;

/// RFC 4954 §4: an AUTH command line, CRLF included, stays within 512
/// octets; a longer initial response waits for an empty 334.
const MAX_AUTH_LINE: usize = 512;

/// An AUTH exchange in flight.
#[derive(Debug)]
pub(super) struct AuthExchange {
    client: SaslClient,
    mechanism: Mechanism,
    /// An initial response too long for the command line, sent after the
    /// first 334 (base64, secret).
    deferred: Option<Secret<String>>,
}

impl ClientSession {
    /// Runs AUTH when credentials are configured; otherwise setup is over.
    pub(super) fn start_auth(&mut self) {
        let Some(credentials) = self.config.credentials.as_ref() else {
            self.become_ready();
            return;
        };
        // A STARTTLS that did not happen may have been stripped by an
        // attacker, who then reads whatever is sent: send nothing secret.
        if self.config.tls == TlsPolicy::Opportunistic
            && !self.tls_active
            && !self.config.allow_plaintext_auth
        {
            self.fail(ClientError::StartTlsMissingForAuth);
            return;
        }
        let offered = self
            .capabilities
            .as_ref()
            .map(|c| c.auth_mechanisms())
            .unwrap_or_default();
        let Some(mechanism) = choose_mechanism(&offered, credentials) else {
            self.fail(ClientError::AuthUnavailable { offered });
            return;
        };
        if exposes_secret(&mechanism) && !self.tls_active && !self.config.allow_plaintext_auth {
            self.fail(ClientError::AuthNeedsTls);
            return;
        }
        let mut client = match SaslClient::new(mechanism.clone(), credentials) {
            Ok(client) => client,
            Err(error) => {
                self.fail(ClientError::Sasl(error));
                return;
            }
        };
        let initial = client.initial_response().map(|raw| {
            // RFC 4954 §4: an empty initial response is sent as "=".
            let encoded = encode_base64(raw.expose());
            Secret::new(if encoded.is_empty() {
                "=".into()
            } else {
                encoded
            })
        });
        let name = mechanism.as_str();
        let mut deferred = None;
        self.outbox.transmit_with(|out| {
            out.extend_from_slice(b"AUTH ");
            out.extend_from_slice(name.as_bytes());
            if let Some(initial) = initial {
                let line_len = "AUTH ".len() + name.len() + 1 + initial.expose().len() + 2;
                if line_len <= MAX_AUTH_LINE {
                    out.push(b' ');
                    out.extend_from_slice(initial.expose().as_bytes());
                } else {
                    deferred = Some(initial);
                }
            }
            out.extend_from_slice(b"\r\n");
        });
        self.auth = Some(AuthExchange {
            client,
            mechanism,
            deferred,
        });
        self.expect_reply(Phase::Auth);
    }

    pub(super) fn on_auth_reply(&mut self, reply: Reply) {
        let Some(mut exchange) = self.auth.take() else {
            self.fail(ClientError::Unsolicited(reply));
            return;
        };
        if reply.code() == ReplyCode::AUTH_SUCCEEDED {
            self.authenticated = Some(exchange.mechanism);
            self.become_ready();
            return;
        }
        if reply.code() != ReplyCode::AUTH_CHALLENGE {
            let details = exchange.client.take_error_details();
            self.fail(ClientError::AuthFailed {
                mechanism: exchange.mechanism,
                kind: super::AuthFailure::from_code(reply.code()),
                reply,
                details,
            });
            return;
        }
        let response = match exchange.deferred.take() {
            Some(deferred) => Ok(deferred),
            None => answer(&mut exchange.client, &reply),
        };
        match response {
            Ok(response) => {
                self.outbox.transmit_with(|out| {
                    out.extend_from_slice(response.expose().as_bytes());
                    out.extend_from_slice(b"\r\n");
                });
                self.auth = Some(exchange);
                self.expect_reply(Phase::Auth);
            }
            Err(error) => self.fail(ClientError::Sasl(error)),
        }
    }
}

/// Decodes a 334 challenge and computes the base64 answer.
fn answer(client: &mut SaslClient, reply: &Reply) -> Result<Secret<String>, SaslError> {
    let text = reply.lines().first().map(String::as_str).unwrap_or("");
    let challenge = decode_base64(text.trim().as_bytes())?;
    let response = client.respond(&challenge)?;
    Ok(Secret::new(encode_base64(response.expose())))
}
