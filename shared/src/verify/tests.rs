//! Published example values where the providers publish them; otherwise
//! signatures made by the small, separate HMAC below (built on the SHA-2
//! primitive alone, not on the `hmac` crate the verifier uses), so a bug
//! shared by signer and verifier cannot make a test pass.

use super::*;
use base64::Engine;
use http::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256, Sha512};

/// RFC 2104 by hand.
fn reference_hmac<D: Digest>(block: usize, key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > block {
        D::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = D::new().chain_update(&ipad).chain_update(msg).finalize();
    D::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn sha256(key: &str, msg: &[u8]) -> Vec<u8> {
    reference_hmac::<Sha256>(64, key.as_bytes(), msg)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn cfg(scheme: Scheme, secret: &str) -> VerifyConfig {
    VerifyConfig::new(scheme, secret)
}

#[test]
fn reference_hmac_agrees_with_rfc_4231_case_2() {
    // RFC 4231 test case 2, so the independent signer is itself checked.
    assert_eq!(
        hex(&sha256("Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex(&reference_hmac::<Sha512>(128, b"Jefe", b"what do ya want for nothing?")),
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
    );
}

#[test]
fn github_docs_example() {
    let h = headers(&[(
        "X-Hub-Signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )]);
    let c = cfg(Scheme::Github, "It's a Secret to Everybody");
    assert_eq!(c.verify(&h, b"Hello, World!", 0), Ok(()));
    assert_eq!(
        c.verify(&h, b"Hello, World?", 0),
        Err(VerifyError::Mismatch {
            scheme: Scheme::Github
        })
    );
    let wrong = cfg(Scheme::Github, "another secret");
    assert!(wrong.verify(&h, b"Hello, World!", 0).is_err());
}

#[test]
fn github_refuses_missing_malformed_and_truncated() {
    let c = cfg(Scheme::Github, "It's a Secret to Everybody");
    let e = c.verify(&HeaderMap::new(), b"x", 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "GitHub signature check failed: the x-hub-signature-256 header is missing"
    );
    let e = c
        .verify(&headers(&[("x-hub-signature-256", "sha1=abcd")]), b"x", 0)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "GitHub signature check failed: the x-hub-signature-256 header is malformed (expected sha256=<hex>)"
    );
    // The first half of the right signature is still wrong.
    let h = headers(&[(
        "x-hub-signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a",
    )]);
    assert!(matches!(
        c.verify(&h, b"Hello, World!", 0),
        Err(VerifyError::Mismatch { .. })
    ));
}

#[test]
fn standard_webhooks_specification_vector() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"test": 2432232314}"#;
    let ts = 1614265330;
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let h = |sig: &str| {
        headers(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", sig),
        ])
    };
    let c = cfg(Scheme::StandardWebhooks, secret);
    assert_eq!(c.verify(&h(good), body, ts), Ok(()));
    // Several signatures, one per secret the sender is rotating through.
    let several = format!("v1,bm9wZQ== v1a,c29tZXRoaW5n {good}");
    assert_eq!(c.verify(&h(&several), body, ts), Ok(()));
    // Without its whsec_ prefix the secret is its own bytes, as when we
    // sign: a different key, so the vector does not verify.
    let bare = cfg(Scheme::StandardWebhooks, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert!(matches!(
        bare.verify(&h(good), body, ts),
        Err(VerifyError::Mismatch { .. })
    ));
    // Svix's spelling of the same headers.
    let svix = headers(&[
        ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("svix-timestamp", "1614265330"),
        ("svix-signature", good),
    ]);
    assert_eq!(c.verify(&svix, body, ts), Ok(()));
    // A changed id is a different signed text.
    let other_id = headers(&[
        ("webhook-id", "msg_other"),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", good),
    ]);
    assert!(matches!(
        c.verify(&other_id, body, ts),
        Err(VerifyError::Mismatch { .. })
    ));
    assert!(matches!(
        c.verify(
            &h("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            body,
            ts
        ),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn standard_webhooks_replay_window_both_directions() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let h = headers(&[
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ]);
    let body = br#"{"test": 2432232314}"#;
    let c = cfg(Scheme::StandardWebhooks, secret);
    let ts = 1614265330;
    assert_eq!(c.verify(&h, body, ts + 300), Ok(()));
    assert_eq!(c.verify(&h, body, ts - 300), Ok(()));
    let old = c.verify(&h, body, ts + 301).unwrap_err();
    assert_eq!(
        old.to_string(),
        "Standard Webhooks signature check failed: the timestamp is 301s old, outside the 300s tolerance"
    );
    let future = c.verify(&h, body, ts - 301).unwrap_err();
    assert_eq!(
        future.to_string(),
        "Standard Webhooks signature check failed: the timestamp is 301s in the future, outside the 300s tolerance"
    );
    let wide = VerifyConfig {
        tolerance_seconds: 3600,
        ..c
    };
    assert_eq!(wide.verify(&h, body, ts + 3600), Ok(()));
}

fn stripe_header(secret: &str, t: i64, body: &[u8]) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={t},v1={}", hex(&sha256(secret, &signed)))
}

#[test]
fn stripe_signatures() {
    let secret = "whsec_test_secret_for_stripe";
    let body = br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}"#;
    let now = 1_700_000_000;
    let c = cfg(Scheme::Stripe, secret);
    let sig = stripe_header(secret, now - 10, body);
    assert_eq!(
        c.verify(&headers(&[("Stripe-Signature", &sig)]), body, now),
        Ok(())
    );
    // Several v1 values (Stripe sends one per active secret) and a v0 to ignore.
    let with_others = format!(
        "t={},v1={},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39,{}",
        now - 10,
        "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
        sig.split(',').nth(1).unwrap()
    );
    assert_eq!(
        c.verify(&headers(&[("stripe-signature", &with_others)]), body, now),
        Ok(())
    );
    // The timestamp is signed: moving it breaks the signature.
    let moved = sig.replacen(&format!("t={}", now - 10), &format!("t={}", now - 5), 1);
    assert!(matches!(
        c.verify(&headers(&[("stripe-signature", &moved)]), body, now),
        Err(VerifyError::Mismatch { .. })
    ));
    let stale = stripe_header(secret, now - 301, body);
    assert!(matches!(
        c.verify(&headers(&[("stripe-signature", &stale)]), body, now),
        Err(VerifyError::Stale {
            direction: "old",
            ..
        })
    ));
    let future = stripe_header(secret, now + 301, body);
    assert!(matches!(
        c.verify(&headers(&[("stripe-signature", &future)]), body, now),
        Err(VerifyError::Stale {
            direction: "in the future",
            ..
        })
    ));
    let e = c
        .verify(&headers(&[("stripe-signature", "v1=abcd")]), body, now)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Stripe signature check failed: the stripe-signature header is malformed (no t= timestamp)"
    );
    let e = c
        .verify(&headers(&[("stripe-signature", "t=12")]), body, now)
        .unwrap_err();
    assert!(e.to_string().ends_with("(no v1= signature)"), "{e}");
}

#[test]
fn slack_docs_example() {
    // Slack's "Verifying requests from Slack" walk-through.
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let h = headers(&[
        ("X-Slack-Request-Timestamp", "1531420618"),
        (
            "X-Slack-Signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
    ]);
    let c = cfg(Scheme::Slack, secret);
    assert_eq!(c.verify(&h, body, 1531420618 + 60), Ok(()));
    assert!(matches!(
        c.verify(&h, body, 1531420618 + 3600),
        Err(VerifyError::Stale { .. })
    ));
    let e = c
        .verify(&headers(&[("x-slack-signature", "v0=00")]), body, 0)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Slack signature check failed: the x-slack-request-timestamp header is missing"
    );
    // Independent signer: a payload of our own.
    let mine = b"{\"type\":\"event_callback\"}";
    let mut signed = b"v0:1700000000:".to_vec();
    signed.extend_from_slice(mine);
    let sig = format!("v0={}", hex(&sha256(secret, &signed)));
    let h = headers(&[
        ("x-slack-request-timestamp", "1700000000"),
        ("x-slack-signature", &sig),
    ]);
    assert_eq!(c.verify(&h, mine, 1700000000), Ok(()));
    let h = headers(&[
        ("x-slack-request-timestamp", "17e8"),
        ("x-slack-signature", &sig),
    ]);
    assert!(matches!(
        c.verify(&h, mine, 1700000000),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn generic_hmac_options() {
    let secret = "generic-secret";
    let body = b"{\"hello\":\"world\"}";
    // SHA-256, hex (upper case accepted), with a prefix.
    let mut c = cfg(Scheme::Hmac, secret);
    c.header = Some("X-Signature".into());
    c.prefix = Some("sha256=".into());
    let sig = format!("sha256={}", hex(&sha256(secret, body)).to_uppercase());
    assert_eq!(
        c.verify(&headers(&[("x-signature", &sig)]), body, 0),
        Ok(())
    );
    let unprefixed = hex(&sha256(secret, body));
    assert!(matches!(
        c.verify(&headers(&[("x-signature", &unprefixed)]), body, 0),
        Err(VerifyError::Malformed { .. })
    ));
    // SHA-512, base64, no prefix.
    let mut c = cfg(Scheme::Hmac, secret);
    c.header = Some("X-Body-Signature".into());
    c.algorithm = Some(Algorithm::Sha512);
    c.encoding = Some(Encoding::Base64);
    let mac512 = reference_hmac::<Sha512>(128, secret.as_bytes(), body);
    let h = headers(&[("x-body-signature", &b64(&mac512))]);
    assert_eq!(c.verify(&h, body, 0), Ok(()));
    // A SHA-256 MAC is not accepted where SHA-512 is configured.
    let h = headers(&[("x-body-signature", &b64(&sha256(secret, body)))]);
    assert_eq!(
        c.verify(&h, body, 0),
        Err(VerifyError::Mismatch {
            scheme: Scheme::Hmac
        })
    );
}

#[test]
fn rotation_accepts_every_configured_secret() {
    let body = b"payload";
    let mut c = cfg(Scheme::Github, "old-secret");
    c.secrets = vec![Secret::new("new-secret")];
    for (secret, ok) in [("old-secret", true), ("new-secret", true), ("other", false)] {
        let h = headers(&[(
            "x-hub-signature-256",
            &format!("sha256={}", hex(&sha256(secret, body))),
        )]);
        assert_eq!(c.verify(&h, body, 0).is_ok(), ok, "{secret}");
    }
    // `secrets` alone is enough.
    let only_list = VerifyConfig {
        secret: None,
        ..c.clone()
    };
    let h = headers(&[(
        "x-hub-signature-256",
        &format!("sha256={}", hex(&sha256("new-secret", body))),
    )]);
    assert_eq!(only_list.verify(&h, body, 0), Ok(()));
}

#[test]
fn refusals_never_echo_secrets_or_signatures() {
    let secret = "super-secret-signing-key";
    let body = b"body";
    let expected = hex(&sha256(secret, body));
    let sent = "sha256=0000000000000000000000000000000000000000000000000000000000000000";
    let mut c = cfg(Scheme::Hmac, secret);
    c.header = Some("x-sig".into());
    c.prefix = Some("sha256=".into());
    let cases = [
        headers(&[]),
        headers(&[("x-sig", sent)]),
        headers(&[("x-sig", "sha256=zz")]),
    ];
    for h in &cases {
        let msg = c.verify(h, body, 0).unwrap_err().to_string();
        assert!(msg.starts_with("HMAC signature check failed"), "{msg}");
        assert!(!msg.contains(secret), "{msg}");
        assert!(!msg.contains(&expected), "{msg}");
        assert!(!msg.contains("0000000000"), "{msg}");
    }
    assert!(!format!("{c:?}").contains(secret));
}

#[test]
fn config_from_json_and_its_checks() {
    let c: VerifyConfig = serde_json::from_value(serde_json::json!({
        "scheme": "standard_webhooks",
        "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "plain text"],
        "toleranceSeconds": 60
    }))
    .unwrap();
    assert_eq!(c.tolerance_seconds, 60);
    let errors: Vec<String> = c.check("h.verify").iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        vec!["h.verify.secrets[1]: a whsec_ secret must be base64 after the prefix"]
    );

    let c: VerifyConfig =
        serde_json::from_value(serde_json::json!({"scheme": "hmac", "secret": "s"})).unwrap();
    let errors: Vec<String> = c.check("v").iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        vec!["v.header: scheme \"hmac\" needs the name of the header carrying the signature"]
    );

    let c: VerifyConfig = serde_json::from_value(
        serde_json::json!({"scheme": "github", "prefix": "sha1=", "toleranceSeconds": 0}),
    )
    .unwrap();
    let errors: Vec<String> = c.check("v").iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        vec![
            "v.secret: scheme \"github\" needs a secret (or secrets)",
            "v.prefix: only applies to scheme \"hmac\"; \"github\" fixes its own",
        ]
    );
    let e = serde_json::from_value::<VerifyConfig>(serde_json::json!({"scheme": "gitlab"}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `gitlab`"), "{e}");
}

#[test]
fn header_parsers_tolerate_noise() {
    let p = parse_stripe_header("t=1, v1=zz, v1=0a0b ,junk,=,v0=00").unwrap();
    assert_eq!(p.timestamp, "1");
    assert_eq!(p.v1, vec![vec![0x0a, 0x0b]]);
    assert!(parse_standard_signatures("").is_empty());
    assert!(parse_standard_signatures("v1, v1,%%% v2,AA==").is_empty());
    let many = vec!["v1,AAAA"; 100].join(" ");
    assert_eq!(parse_standard_signatures(&many).len(), MAX_CANDIDATES);
    assert_eq!(
        parse_prefixed(" sha256=0A ", "sha256=", Encoding::Hex),
        Some(vec![10])
    );
    assert_eq!(parse_prefixed("sha256=é0", "sha256=", Encoding::Hex), None);
    assert_eq!(parse_prefixed("x", "", Encoding::Base64), None);
}

/// The three users of Standard Webhooks once decoded secrets each their
/// own way; now a secret a clawhooks subscription or `forward` signs with
/// is the secret another clawhooks verifies with, whatever its shape.
#[test]
fn a_secret_that_signs_in_egress_and_forward_verifies_in_ingress() {
    use crate::config::{Forward, Signing};
    use crate::egress::signing::{identity, Signer};
    use crate::event::{Body, InboundEvent};
    let now = 1_700_000_000;
    let body = br#"{"a":1}"#;
    for secret in [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        // Valid base64 without the prefix: its bytes everywhere.
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        // Not base64 at all: its bytes everywhere.
        "correct horse battery staple",
    ] {
        let receiver = cfg(Scheme::StandardWebhooks, secret);
        assert_eq!(receiver.check("v"), vec![], "{secret}");

        let signer = Signer::new(&Secret::new(secret), Signing::StandardWebhooks).unwrap();
        let mut sent: Vec<(String, String)> = identity("evt_1", now).to_vec();
        sent.push(signer.header("evt_1", now, body));
        let pairs: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            receiver.verify(&headers(&pairs), body, now),
            Ok(()),
            "egress, {secret}"
        );

        let forward: Forward = serde_json::from_value(serde_json::json!({
            "url": "https://relay.example", "secret": secret
        }))
        .unwrap();
        let ev = InboundEvent {
            event_id: "evt_2".into(),
            hook_id: "hook".into(),
            handler_id: None,
            session_key: "s".into(),
            persistent: false,
            received_at: chrono::Utc::now(),
            source_ip: "127.0.0.1".into(),
            headers: Default::default(),
            query: Default::default(),
            content_type: Some("application/json".into()),
            body: Body::Json(r#"{"a":1}"#.into()),
        };
        let req = crate::handler::actions::forward::request(&forward, &ev, None, now).unwrap();
        let pairs: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            receiver.verify(&headers(&pairs), &req.body, now),
            Ok(()),
            "forward, {secret}"
        );
    }
}

/// A `whsec_` secret that is not base64 is refused by all three alike,
/// so it fails at load wherever it is written.
#[test]
fn a_malformed_whsec_secret_is_refused_by_signers_and_verifier_alike() {
    use crate::config::Signing;
    use crate::egress::signing::Signer;
    use crate::protocol::standard_webhooks::{key, KeyError};
    let secret = "whsec_not*base64!";
    assert_eq!(key(secret), Err(KeyError::BadBase64));
    assert_eq!(
        Signer::new(&Secret::new(secret), Signing::StandardWebhooks).unwrap_err(),
        KeyError::BadBase64
    );
    let errors: Vec<String> = cfg(Scheme::StandardWebhooks, secret)
        .check("v")
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        errors,
        ["v.secret: a whsec_ secret must be base64 after the prefix"]
    );
}

/// A base64 key pasted without its `whsec_` prefix is its own bytes now,
/// as when we sign; the load says so, since the sender likely decodes it.
#[test]
fn an_unprefixed_base64_key_is_flagged_and_other_secrets_are_not() {
    let c: VerifyConfig = serde_json::from_value(serde_json::json!({
        "scheme": "standard_webhooks",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "secrets": ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "correct horse battery staple", "a2V5"]
    }))
    .unwrap();
    assert_eq!(c.unprefixed_base64_secrets("v"), ["v.secrets[0]"]);
    let github = cfg(Scheme::Github, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert!(github.unprefixed_base64_secrets("v").is_empty());
}

#[test]
fn every_scheme_has_its_fixture_test() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for scheme in SCHEMES {
        assert!(
            FIXTURES.iter().any(|(s, _, _)| *s == scheme.name()),
            "signature scheme {:?} has no fixture test in verify::FIXTURES",
            scheme.name()
        );
    }
    for (scheme, file, test) in FIXTURES {
        assert!(
            SCHEMES.iter().any(|s| s.name() == *scheme),
            "FIXTURES names {scheme:?}, which is not registered"
        );
        let text = std::fs::read_to_string(repo.join(file)).expect(file);
        assert!(
            text.contains(&format!("fn {test}(")),
            "the fixture test {test} of signature scheme {scheme:?} is not in {file}"
        );
    }
}

#[test]
fn each_scheme_name_is_its_wire_name() {
    for scheme in SCHEMES {
        assert_eq!(
            serde_json::to_value(scheme).unwrap(),
            serde_json::json!(scheme.name())
        );
        let back: Scheme = serde_json::from_value(serde_json::json!(scheme.name())).unwrap();
        assert_eq!(back, *scheme);
        assert!(VerifyConfig::new(*scheme, "s")
            .verify(&headers(&[]), b"", 0)
            .unwrap_err()
            .to_string()
            .starts_with(scheme.label()));
    }
}

/// The Discord PING of `tests/fixtures/discord/ping.json`, signed by an
/// independent Ed25519 implementation (Python's `cryptography`).
fn discord_fixture() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/discord/ping.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect(path)).unwrap()
}

#[test]
fn discord_ed25519_signatures() {
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};
    // Signed elsewhere: Python's `cryptography`, as Discord documents.
    let fx = discord_fixture();
    let field = |k: &str| fx[k].as_str().unwrap().to_string();
    let (public, ts, body) = (field("publicKey"), field("timestamp"), field("body"));
    let h = headers(&[
        ("X-Signature-Ed25519", &field("signature")),
        ("X-Signature-Timestamp", &ts),
    ]);
    let c = cfg(Scheme::Discord, &public);
    assert_eq!(c.check("verify"), vec![]);
    assert_eq!(c.verify(&h, body.as_bytes(), 1700000000 + 60), Ok(()));
    let mut changed = body.clone().into_bytes();
    changed[body.len() - 2] = b'2';
    assert_eq!(
        c.verify(&h, &changed, 1700000000),
        Err(VerifyError::Mismatch {
            scheme: Scheme::Discord
        })
    );
    assert!(matches!(
        c.verify(&h, body.as_bytes(), 1700000000 + 3600),
        Err(VerifyError::Stale { .. })
    ));
    // A key pair made here, signing `timestamp + body`; a rotated list
    // accepts either key, and the application's other key refuses.
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let mine = br#"{"type":1}"#;
    let sig = hex(pair
        .sign(&[b"1700000000".as_slice(), mine].concat())
        .as_ref());
    let h = headers(&[
        ("x-signature-ed25519", &sig),
        ("x-signature-timestamp", "1700000000"),
    ]);
    assert_eq!(
        c.verify(&h, mine, 1700000000),
        Err(VerifyError::Mismatch {
            scheme: Scheme::Discord
        })
    );
    let mut rotated = cfg(Scheme::Discord, &public);
    rotated.secrets = vec![crate::secret::Secret::new(hex(pair.public_key().as_ref()))];
    assert_eq!(rotated.verify(&h, mine, 1700000000), Ok(()));
    let short = headers(&[
        ("x-signature-ed25519", "abcd"),
        ("x-signature-timestamp", "1700000000"),
    ]);
    assert_eq!(
        rotated.verify(&short, mine, 1700000000).unwrap_err().to_string(),
        "Discord signature check failed: the x-signature-ed25519 header is malformed (expected 128 hex digits)"
    );
    // The key must be the 32-byte public key in hex; the message names no key.
    for bad in ["abcd", "zz", &format!("{public}00")] {
        let e = cfg(Scheme::Discord, bad).check("verify");
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert!(!e[0].to_string().contains(bad), "{e:?}");
    }
}

#[test]
fn telegram_secret_token() {
    // Telegram's setWebhook: "secret_token … sent in a header
    // X-Telegram-Bot-Api-Secret-Token in every webhook request".
    let body = br#"{"update_id": 10000, "message": {"message_id": 1365, "text": "/start"}}"#;
    let c = cfg(Scheme::Telegram, "my-Secret_token-1");
    let sent = |token: &str| headers(&[("X-Telegram-Bot-Api-Secret-Token", token)]);
    assert_eq!(c.verify(&sent("my-Secret_token-1"), body, 0), Ok(()));
    assert_eq!(
        c.verify(&sent("my-Secret_token-2"), body, 0),
        Err(VerifyError::Mismatch {
            scheme: Scheme::Telegram
        })
    );
    let e = c.verify(&HeaderMap::new(), body, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Telegram signature check failed: the x-telegram-bot-api-secret-token header is missing"
    );
    // Telegram retries an update until it is acknowledged: one update id,
    // one delivery.
    assert_eq!(
        c.replay_key(&sent("my-Secret_token-1"), body),
        "telegram-update:10000"
    );
}
