//! The local identity provider (infra/idp/idp.mjs, run through
//! `tests::idp::Idp`) is a real OpenID provider: discovery names its issuer
//! and its PKCE-only code flow, the dashboard's sign-in (Authorization Code +
//! PKCE S256, state, nonce, its own login form) yields an ID token that
//! carries who and which role, a wrong password gets the form again and no
//! code, its keys rotate with the old ones still published, and the
//! dashboard's origin may call it from the browser.

use serde_json::Value;
use tests::idp::{decode_unverified, Idp, CLIENT_ID};

const DASHBOARD: &str = "http://127.0.0.1:9000/";

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("a JWKS has keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("every key has a kid").to_owned())
        .collect()
}

#[tokio::test]
async fn discovery_names_the_issuer_and_a_pkce_code_flow() {
    let idp = Idp::start(&[DASHBOARD]).await;
    let discovery = idp.discovery().await;
    assert_eq!(discovery["issuer"], idp.issuer());
    assert!(idp.issuer().starts_with("http://127.0.0.1:"));
    assert!(!idp.issuer().ends_with('/'));
    assert_eq!(discovery["jwks_uri"], format!("{}/jwks", idp.issuer()));
    assert_eq!(
        discovery["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    for claim in ["email", "email_verified", "name", "groups"] {
        assert!(
            discovery["claims_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == claim),
            "{claim} is supported"
        );
    }
    let jwks = idp.jwks().await;
    assert_eq!(kids(&jwks).len(), 1);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key.get("d").is_none(), "the JWKS holds public keys only");
}

#[tokio::test]
async fn each_role_signs_in_and_its_id_token_says_who_and_which_role() {
    let idp = Idp::start(&[DASHBOARD]).await;
    for operator in idp.operators().to_vec() {
        let tokens = idp
            .sign_in(&operator.email, &operator.password)
            .await
            .expect("the operator signs in");
        let (header, claims) = decode_unverified(&tokens.id_token);
        assert_eq!(header["alg"], "RS256");
        let kid = header["kid"].as_str().expect("the token names its key");
        assert!(kids(&idp.jwks().await).contains(&kid.to_owned()));

        assert_eq!(claims["iss"], idp.issuer());
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["sub"], operator.subject.as_str());
        assert_eq!(claims["email"], operator.email.as_str());
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["name"], operator.name.as_str());
        assert_eq!(claims["groups"], serde_json::json!([operator.role]));
        assert_eq!(claims["nonce"], tokens.nonce.as_str());
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(exp - iat, 3600, "an hour by default");
    }
    // The shortcut the other tests use.
    let (_, claims) = decode_unverified(&idp.id_token("viewer").await);
    assert_eq!(claims["groups"], serde_json::json!(["viewer"]));
}

#[tokio::test]
async fn a_wrong_password_gets_the_form_again_and_no_code() {
    let idp = Idp::start(&[DASHBOARD]).await;
    let admin = idp.operator("admin").clone();
    let refused = idp
        .sign_in(&admin.email, "not-the-password")
        .await
        .expect_err("no code for a wrong password");
    assert_eq!(refused.status, 200);
    assert!(refused.body.contains("Invalid email or password"));
    assert!(refused.body.contains("name=\"password\""), "the form again");

    // Nor for an unknown email, with the same words; what was typed comes
    // back escaped.
    let refused = idp
        .sign_in("\"><script>alert(1)</script>@example.test", &admin.password)
        .await
        .expect_err("no code for an unknown email");
    assert!(refused.body.contains("Invalid email or password"));
    assert!(!refused.body.contains("<script>alert(1)"));
    assert!(refused.body.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn a_rotation_publishes_a_new_key_first_and_keeps_the_old_one() {
    let idp = Idp::start(&[DASHBOARD]).await;
    let before = idp.id_token("editor").await;
    let (header, _) = decode_unverified(&before);
    let old = header["kid"].as_str().unwrap().to_owned();
    assert_eq!(kids(&idp.jwks().await), vec![old.clone()]);

    let new = idp.rotate().await;
    assert_ne!(new, old);
    assert_eq!(kids(&idp.jwks().await), vec![new.clone(), old.clone()]);

    let after = idp.id_token("editor").await;
    let (header, claims) = decode_unverified(&after);
    assert_eq!(header["kid"], new.as_str(), "new tokens use the new key");
    assert_eq!(claims["groups"], serde_json::json!(["editor"]));
}

#[tokio::test]
async fn settings_shorten_the_id_token_and_change_its_algorithm() {
    let idp = Idp::start_with(
        &[DASHBOARD],
        &[("IDP_TTL_ID_TOKEN", "2"), ("IDP_ALG", "ES256")],
    )
    .await;
    let (header, claims) = decode_unverified(&idp.id_token("admin").await);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        2
    );
    assert_eq!(idp.jwks().await["keys"][0]["kty"], "EC");
}

#[tokio::test]
async fn the_dashboards_origin_may_call_discovery_jwks_and_the_token_endpoint() {
    let idp = Idp::start(&["http://127.0.0.1:9000/"]).await;
    let http = reqwest::Client::new();
    let dashboard = "http://127.0.0.1:9000";
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let answer = http
            .get(format!("{}{path}", idp.issuer()))
            .header("origin", dashboard)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(
            answer.headers()["access-control-allow-origin"],
            dashboard,
            "{path}"
        );
    }
    let token = format!("{}/token", idp.issuer());
    let preflight = http
        .request(reqwest::Method::OPTIONS, &token)
        .header("origin", dashboard)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        dashboard
    );

    // The token request itself: allowed from the dashboard's origin (a bad
    // code, so invalid_grant, but with CORS), refused from any other.
    let body = "grant_type=authorization_code&code=nope&client_id=dashboard\
                &redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2F&code_verifier=\
                aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let from = |origin: &'static str| {
        http.post(&token)
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let answer = from(dashboard).await.unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], dashboard);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_grant");
    let answer = from("http://evil.test").await.unwrap();
    assert!(answer
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn a_sign_in_without_pkce_is_refused() {
    let idp = Idp::start(&[DASHBOARD]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{}/auth", idp.issuer()),
        &[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", "openid email profile"),
            ("redirect_uri", DASHBOARD),
            ("state", "s"),
            ("nonce", "n"),
        ],
    )
    .unwrap();
    let answer = http.get(authorize).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(DASHBOARD), "{location}");
    assert!(location.contains("error=invalid_request"), "{location}");
    assert!(location.contains("PKCE"), "{location}");
}
