//! Known answers (RFC 4616, RFC 2195) and whole exchanges.

use super::*;
use crate::Secret;

fn password(user: &str, pass: &str) -> ClientCredentials {
    ClientCredentials::Password {
        username: user.into(),
        password: Secret::new(pass.into()),
    }
}

fn oauth(user: &str, token: &str) -> ClientCredentials {
    ClientCredentials::OAuth2 {
        username: user.into(),
        token: Secret::new(token.into()),
    }
}

fn done(step: ServerStep) -> AuthRequest {
    match step {
        ServerStep::Done(request) => request,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn challenge(step: ServerStep) -> Vec<u8> {
    match step {
        ServerStep::Challenge(c) => c,
        other => panic!("expected Challenge, got {other:?}"),
    }
}

fn failed(step: ServerStep) -> SaslError {
    match step {
        ServerStep::Failed(e) => e,
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn plain_rfc4616_examples() {
    // RFC 4616 §4: "\0tim\0tanstaaftanstaaf" and "Ursel\0Kurt\0xipj3plmq".
    let mut server = SaslServer::new(Mechanism::Plain, None).unwrap();
    let request = done(server.start(Some(b"\0tim\0tanstaaftanstaaf")));
    assert_eq!(request.username(), "tim");
    assert_eq!(request.mechanism(), Mechanism::Plain);
    assert!(request.verify_password("tanstaaftanstaaf"));
    assert!(!request.verify_password("tanstaaftanstaaF"));

    let mut server = SaslServer::new(Mechanism::Plain, None).unwrap();
    let request = done(server.start(Some(b"Ursel\0Kurt\0xipj3plmq")));
    match &request {
        AuthRequest::Plain {
            authzid, username, ..
        } => {
            assert_eq!(authzid.as_deref(), Some("Ursel"));
            assert_eq!(username, "Kurt");
        }
        other => panic!("{other:?}"),
    }
    // Acting for another user is refused by the password check.
    assert!(!request.verify_password("xipj3plmq"));

    let mut server = SaslServer::new(Mechanism::Plain, None).unwrap();
    assert!(done(server.start(Some(b"Kurt\0Kurt\0xipj3plmq"))).verify_password("xipj3plmq"));
}

#[test]
fn plain_client_initial_response_and_empty_challenge() {
    let creds = password("tim", "tanstaaftanstaaf");
    let mut client = SaslClient::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(
        client.initial_response().unwrap().expose(),
        b"\0tim\0tanstaaftanstaaf"
    );
    // A server that ignored the initial response gets nothing more.
    assert_eq!(client.respond(b""), Err(SaslError::UnexpectedChallenge));

    // Without an initial response: the empty 334 is answered with it.
    let mut client = SaslClient::new(Mechanism::Plain, &creds).unwrap();
    let mut server = SaslServer::new(Mechanism::Plain, None).unwrap();
    let c = challenge(server.start(None));
    assert!(c.is_empty());
    let r = client.respond(&c).unwrap();
    assert_eq!(r.expose(), b"\0tim\0tanstaaftanstaaf");
    assert!(done(server.step(r.expose())).verify_password("tanstaaftanstaaf"));
    assert_eq!(client.respond(b""), Err(SaslError::UnexpectedChallenge));
}

#[test]
fn plain_malformed() {
    for bad in [
        &b""[..],
        b"tim",
        b"\0tim",
        b"\0tim\0pass\0more",
        b"\0\0pass",
        b"\0tim\0\xff",
    ] {
        let mut server = SaslServer::new(Mechanism::Plain, None).unwrap();
        assert_eq!(failed(server.start(Some(bad))), SaslError::MalformedMessage);
    }
}

#[test]
fn login_flow() {
    let creds = password("alice@example.com", "s3cret");
    let mut client = SaslClient::new(Mechanism::Login, &creds).unwrap();
    assert!(client.initial_response().is_none());
    let mut server = SaslServer::new(Mechanism::Login, None).unwrap();

    let c = challenge(server.start(None));
    assert_eq!(c, b"Username:");
    let r = client.respond(&c).unwrap();
    assert_eq!(r.expose(), b"alice@example.com");
    let c = challenge(server.step(r.expose()));
    assert_eq!(c, b"Password:");
    let r = client.respond(&c).unwrap();
    assert_eq!(r.expose(), b"s3cret");
    let request = done(server.step(r.expose()));
    assert_eq!(request.username(), "alice@example.com");
    assert_eq!(request.mechanism(), Mechanism::Login);
    assert!(request.verify_password("s3cret"));
    assert!(!request.verify_password("s3cre"));

    assert_eq!(client.respond(b"more"), Err(SaslError::UnexpectedChallenge));
    assert_eq!(failed(server.step(b"more")), SaslError::UnexpectedChallenge);
}

#[test]
fn login_user_name_as_initial_response() {
    let mut server = SaslServer::new(Mechanism::Login, None).unwrap();
    assert_eq!(challenge(server.start(Some(b"bob"))), b"Password:");
    assert_eq!(done(server.step(b"pw")).username(), "bob");
}

const RFC2195_CHALLENGE: &str = "<1896.697170952@postoffice.reston.mci.net>";

#[test]
fn cram_md5_rfc2195_example() {
    let creds = password("tim", "tanstaaftanstaaf");
    let mut client = SaslClient::new(Mechanism::CramMd5, &creds).unwrap();
    assert!(client.initial_response().is_none());
    let mut server = SaslServer::new(Mechanism::CramMd5, Some(RFC2195_CHALLENGE)).unwrap();
    let c = challenge(server.start(None));
    assert_eq!(c, RFC2195_CHALLENGE.as_bytes());
    let r = client.respond(&c).unwrap();
    assert_eq!(r.expose(), b"tim b913a602c7eda7a495b4e6e7334d3890");
    let request = done(server.step(r.expose()));
    assert_eq!(request.username(), "tim");
    assert_eq!(request.mechanism(), Mechanism::CramMd5);
    assert!(request.verify_password("tanstaaftanstaaf"));
    assert!(!request.verify_password("tanstaaf"));
    assert_eq!(client.respond(&c), Err(SaslError::UnexpectedChallenge));
}

#[test]
fn cram_md5_server_rules() {
    assert_eq!(
        SaslServer::new(Mechanism::CramMd5, None).unwrap_err(),
        SaslError::UnsupportedMechanism(Mechanism::CramMd5)
    );
    for bad in [
        &b"tim"[..],
        b"tim B913A602C7EDA7A495B4E6E7334D3890",
        b"tim b913a602c7eda7a495b4e6e7334d389",
        b" b913a602c7eda7a495b4e6e7334d3890",
    ] {
        let mut server = SaslServer::new(Mechanism::CramMd5, Some(RFC2195_CHALLENGE)).unwrap();
        challenge(server.start(None));
        assert_eq!(failed(server.step(bad)), SaslError::MalformedMessage);
    }
    // A user name may hold spaces: the digest is after the last one.
    let mut server = SaslServer::new(Mechanism::CramMd5, Some(RFC2195_CHALLENGE)).unwrap();
    challenge(server.start(None));
    let request = done(server.step(b"tim smith b913a602c7eda7a495b4e6e7334d3890"));
    assert_eq!(request.username(), "tim smith");
}

#[test]
fn xoauth2_initial_response_and_error_challenge() {
    let creds = oauth(
        "someuser@example.com",
        "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
    );
    let mut client = SaslClient::new(Mechanism::XOAuth2, &creds).unwrap();
    assert_eq!(
        client.initial_response().unwrap().expose(),
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    );
    assert_eq!(client.take_error_details(), None);
    let json = br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;
    assert!(client.respond(json).unwrap().expose().is_empty());
    assert_eq!(
        client.take_error_details().as_deref(),
        Some(std::str::from_utf8(json).unwrap())
    );
    assert_eq!(client.take_error_details(), None);
    assert_eq!(client.respond(json), Err(SaslError::UnexpectedChallenge));
}

#[test]
fn mechanisms_must_suit_credentials_and_side() {
    let pw = password("u", "p");
    let tok = oauth("u", "t");
    assert_eq!(
        SaslClient::new(Mechanism::XOAuth2, &pw).unwrap_err(),
        SaslError::UnsupportedMechanism(Mechanism::XOAuth2)
    );
    for m in [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5] {
        assert!(SaslClient::new(m.clone(), &tok).is_err());
        assert_eq!(SaslClient::new(m.clone(), &pw).unwrap().mechanism(), &m);
    }
    assert!(SaslClient::new(Mechanism::ScramSha256, &pw).is_err());
    assert!(SaslServer::new(Mechanism::XOAuth2, None).is_err());
    assert!(SaslServer::new(Mechanism::parse("NTLM").unwrap(), Some("c")).is_err());
}

#[test]
fn choose_mechanism_order() {
    use Mechanism::*;
    let pw = password("u", "p");
    let tok = oauth("u", "t");
    let all = [Login, Plain, XOAuth2, CramMd5];
    assert_eq!(choose_mechanism(&all, &pw), Some(CramMd5));
    assert_eq!(choose_mechanism(&all, &tok), Some(XOAuth2));
    assert_eq!(choose_mechanism(&[Login, Plain], &pw), Some(Plain));
    assert_eq!(choose_mechanism(&[Login, XOAuth2], &pw), Some(Login));
    assert_eq!(choose_mechanism(&[XOAuth2], &pw), None);
    assert_eq!(choose_mechanism(&[Login, Plain, CramMd5], &tok), None);
    assert_eq!(choose_mechanism(&[], &pw), None);
    assert!(exposes_secret(&Plain) && exposes_secret(&Login) && exposes_secret(&XOAuth2));
    assert!(!exposes_secret(&CramMd5));
}

#[test]
fn base64_helpers() {
    assert_eq!(
        encode_base64(b"\0tim\0tanstaaftanstaaf"),
        "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
    );
    assert_eq!(decode_base64(b"VXNlcm5hbWU6").unwrap(), b"Username:");
    assert_eq!(decode_base64(b"").unwrap(), b"");
    assert_eq!(decode_base64(b"VXNlcm5hbWU6 "), Err(SaslError::BadBase64));
    assert_eq!(
        decode_base64(b"VXNl\r\ncm5hbWU6"),
        Err(SaslError::BadBase64)
    );
    assert_eq!(decode_base64(b"QQ"), Err(SaslError::BadBase64));
    assert_eq!(decode_base64(b"*"), Err(SaslError::BadBase64));
}

#[test]
fn secrets_absent_from_debug() {
    let creds = password("tim", "tanstaaftanstaaf");
    let tok = oauth("tim", "ya29.tokenvalue");
    let mut client = SaslClient::new(Mechanism::Plain, &creds).unwrap();
    let ir = client.initial_response().unwrap();
    let mut server = SaslServer::new(Mechanism::Plain, None).unwrap();
    let request = done(server.start(Some(ir.expose())));
    let mut cram = SaslServer::new(Mechanism::CramMd5, Some(RFC2195_CHALLENGE)).unwrap();
    cram.start(None);
    let cram_request = done(cram.step(b"tim b913a602c7eda7a495b4e6e7334d3890"));
    let xo = SaslClient::new(Mechanism::XOAuth2, &tok).unwrap();
    let shown = format!("{creds:?} {tok:?} {client:?} {ir:?} {request:?} {cram_request:?} {xo:?}");
    for secret in ["tanstaaf", "ya29", "b913a602"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("tim"));
}
