//! Property tests for SASL: client and server agree, base64 round-trips, and
//! the server never panics on arbitrary input.

use proptest::prelude::*;
use smtp_proto::sasl::{
    decode_base64, encode_base64, AuthRequest, ClientCredentials, SaslClient, SaslServer,
    ServerStep,
};
use smtp_proto::{Mechanism, Secret};

fn creds(user: &str, pass: &str) -> ClientCredentials {
    ClientCredentials::Password {
        username: user.to_owned(),
        password: Secret::new(pass.to_owned()),
    }
}

/// Runs a whole exchange in memory and returns what the server decoded.
fn exchange(mechanism: Mechanism, user: &str, pass: &str, cram: Option<&str>) -> AuthRequest {
    let mut client = SaslClient::new(mechanism.clone(), &creds(user, pass)).unwrap();
    let mut server = SaslServer::new(mechanism, cram).unwrap();
    let ir = client.initial_response();
    let mut step = server.start(ir.as_ref().map(|r| r.expose().as_slice()));
    for _ in 0..4 {
        match step {
            ServerStep::Challenge(c) => {
                let r = client.respond(&c).unwrap();
                step = server.step(r.expose());
            }
            ServerStep::Done(request) => return request,
            ServerStep::Failed(e) => panic!("server failed: {e}"),
        }
    }
    panic!("exchange did not end")
}

// Users and passwords as PLAIN can carry them: no NUL; non-empty user.
fn user() -> impl Strategy<Value = String> {
    "[^\u{0}]{1,40}"
}
fn pass() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,40}"
}

proptest! {
    #[test]
    fn plain_round_trip(u in user(), p in pass()) {
        let request = exchange(Mechanism::Plain, &u, &p, None);
        match &request {
            AuthRequest::Plain { authzid, username, password } => {
                prop_assert_eq!(authzid, &None);
                prop_assert_eq!(username, &u);
                prop_assert_eq!(password.expose(), &p);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert!(request.verify_password(&p));
    }

    #[test]
    fn login_round_trip(u in user(), p in pass()) {
        let request = exchange(Mechanism::Login, &u, &p, None);
        match &request {
            AuthRequest::Login { username, password } => {
                prop_assert_eq!(username, &u);
                prop_assert_eq!(password.expose(), &p);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert!(request.verify_password(&p));
    }

    #[test]
    fn cram_md5_verifies(u in user(), p in pass(), wrong in pass(), c in "<[0-9]{1,10}\\.[0-9]{1,10}@[a-z.]{1,20}>") {
        let request = exchange(Mechanism::CramMd5, &u, &p, Some(&c));
        prop_assert_eq!(request.username(), u.as_str());
        prop_assert!(request.verify_password(&p));
        prop_assert_eq!(request.verify_password(&wrong), wrong == p);
    }

    #[test]
    fn base64_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = encode_base64(&bytes);
        prop_assert_eq!(decode_base64(text.as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn decode_base64_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_base64(&bytes);
    }

    #[test]
    fn server_never_panics(
        mech in 0..3u8,
        ir in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
        steps in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..4),
    ) {
        let mechanism = [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5][usize::from(mech)].clone();
        let mut server = SaslServer::new(mechanism, Some("<1.2@example.com>")).unwrap();
        let _ = server.start(ir.as_deref());
        for s in &steps {
            if let ServerStep::Done(request) = server.step(s) {
                let _ = request.verify_password("x");
                let _ = format!("{request:?}");
            }
        }
    }

    #[test]
    fn client_never_panics(
        mech in 0..4u8,
        challenges in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..4),
    ) {
        let mechanism = [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5, Mechanism::XOAuth2][usize::from(mech)].clone();
        let credentials = if mechanism == Mechanism::XOAuth2 {
            ClientCredentials::OAuth2 { username: "u".into(), token: Secret::new("t".into()) }
        } else {
            creds("u", "p")
        };
        let mut client = SaslClient::new(mechanism, &credentials).unwrap();
        let _ = client.initial_response();
        for c in &challenges {
            let _ = client.respond(c);
        }
        let _ = client.take_error_details();
    }
}
