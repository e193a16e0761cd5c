//! The dashboard function, driven in-process with API Gateway v2 events: what
//! it serves, the identity provider it tells the page about, and the headers
//! that keep the page locked down.

use functions::dashboard::{Dashboard, SignIn};
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use tests::events::{Event, Reply};

fn text(response: &Response<Body>) -> &str {
    match response.body() {
        Body::Text(text) => text,
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn get(path: &str) -> Event {
    Event::new("GET", path).without_auth()
}

/// The dashboard of a deployment with these variables (and no others).
fn dashboard(vars: &[(&str, &str)]) -> Dashboard {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    Dashboard::new(SignIn::from_vars(|name| {
        vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }))
}

const LOCAL_IDP: [(&str, &str); 3] = [
    ("OIDC_ISSUER", "http://127.0.0.1:9100"),
    ("OIDC_AUDIENCE", "dashboard"),
    ("OIDC_ROLE_CLAIM", "groups"),
];

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_str(text(response)).expect("a JSON body")
}

#[tokio::test]
async fn the_page_learns_its_identity_provider_from_config_json() {
    let served = dashboard(&LOCAL_IDP);
    let response = served.handle(get("/assets/config.json").request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        json_of(&response),
        json!({"issuer": "http://127.0.0.1:9100", "clientId": "dashboard"})
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let again = served
        .handle(
            get("/assets/config.json")
                .header("if-none-match", &etag)
                .request(),
        )
        .await;
    assert_eq!(again.status(), 304);

    // The dashboard's own client id, when the API's audience is another.
    let own = dashboard(&[
        ("OIDC_ISSUER", "https://login.example.com/tenant/v2.0"),
        ("OIDC_AUDIENCE", "api://users"),
        ("OIDC_CLIENT_ID", "dashboard-spa"),
    ]);
    let response = own.handle(get("/assets/config.json").request()).await;
    assert_eq!(
        json_of(&response),
        json!({"issuer": "https://login.example.com/tenant/v2.0", "clientId": "dashboard-spa"})
    );
}

#[tokio::test]
async fn the_policy_lets_the_page_call_its_identity_provider_and_nothing_else() {
    for path in ["/", "/assets/app.js", "/assets/config.json", "/nope"] {
        let response = dashboard(&LOCAL_IDP).handle(get(path).request()).await;
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:9100;"),
            "{path}: {csp}"
        );
        // The page reaches the provider's sign-in by navigating, and posts
        // no form anywhere.
        assert!(csp.contains("form-action 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
    }
    // Only the issuer's origin, never its path.
    let response = dashboard(&[
        ("OIDC_ISSUER", "https://login.example.com/tenant/v2.0"),
        ("OIDC_AUDIENCE", "dashboard"),
    ])
    .handle(get("/").request())
    .await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("connect-src 'self' https://login.example.com;"),
        "{csp}"
    );
}

#[tokio::test]
async fn without_an_issuer_the_page_says_what_to_configure() {
    for vars in [
        &[][..],
        &[("OIDC_AUDIENCE", "dashboard")][..],
        // Not a URL a policy can name: refused rather than written into it.
        &[
            ("OIDC_ISSUER", "https://idp.example.com; script-src *"),
            ("OIDC_AUDIENCE", "dashboard"),
        ][..],
    ] {
        let served = dashboard(vars);
        let response = served.handle(get("/assets/config.json").request()).await;
        assert_eq!(response.status(), 200);
        let config = json_of(&response);
        assert_eq!(config["issuer"], Value::Null, "{vars:?}");
        assert!(
            config["problem"]
                .as_str()
                .unwrap()
                .starts_with("Sign-in is not configured"),
            "{config}"
        );
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(csp.contains("connect-src 'self';"), "{csp}");
    }
    let response = dashboard(&[])
        .handle(get("/assets/config.json").request())
        .await;
    assert!(json_of(&response)["problem"]
        .as_str()
        .unwrap()
        .contains("set OIDC_ISSUER"));
}

#[tokio::test]
async fn the_page_takes_no_api_key() {
    let served = dashboard(&LOCAL_IDP);
    let page = served.handle(get("/").request()).await;
    let page = text(&page);
    assert!(
        !page.contains("type=\"password\""),
        "no secret is typed into the page"
    );
    assert!(!page.contains("id=\"api-key\""));
    let script = served.handle(get("/assets/app.js").request()).await;
    let script = text(&script);
    assert!(
        !script.contains("\"/token\""),
        "the page never buys a token with a key"
    );
    assert!(!script.contains("Basic "), "nor sends one");
    assert!(
        !script.contains("localStorage"),
        "the session stays in the tab"
    );
    for step in [
        "code_challenge_method",
        "S256",
        "nonce",
        "state",
        "/sign-ins",
        "history.replaceState",
    ] {
        assert!(script.contains(step), "the sign-in has {step}");
    }
}

#[tokio::test]
async fn the_page_is_served_without_a_token_under_a_strict_policy() {
    let response = functions::dashboard::handle(get("/").request()).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(text(&response).contains(r#"<script type="module" src="/assets/app.js">"#));
}

#[tokio::test]
async fn assets_carry_their_types_and_revalidate_by_etag() {
    for (path, content_type) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let first =
            functions::dashboard::handle(get(path).path_parameter("asset", &path[8..]).request())
                .await;
        assert_eq!(first.status(), 200, "{path}");
        assert_eq!(first.headers()["content-type"], content_type, "{path}");
        assert!(!text(&first).is_empty());
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();

        let again =
            functions::dashboard::handle(get(path).header("if-none-match", &etag).request()).await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(matches!(again.body(), Body::Empty));

        let stale =
            functions::dashboard::handle(get(path).header("if-none-match", "\"old\"").request())
                .await;
        assert_eq!(stale.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn an_unknown_asset_is_a_basiq_not_found() {
    for path in ["/assets/secrets.env", "/assets/../Cargo.toml", "/nope"] {
        let reply = Reply::from(functions::dashboard::handle(get(path).request()).await);
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.error().0, "resource-not-found", "{path}");
    }
}

#[tokio::test]
async fn only_reads_are_served() {
    let reply = Reply::from(
        functions::dashboard::handle(Event::new("POST", "/").without_auth().request()).await,
    );
    assert_eq!(reply.status, 404);
    assert_eq!(reply.error().0, "resource-not-found");
}

#[tokio::test]
async fn every_control_on_the_page_has_a_label() {
    let response = functions::dashboard::handle(get("/").request()).await;
    let page = text(&response);
    let mut controls = 0;
    for tag in ["<input", "<select"] {
        for (at, _) in page.match_indices(tag) {
            let open = &page[at..at + page[at..].find('>').unwrap()];
            let id = open
                .split(" id=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("a control without an id: {open}>"));
            assert!(
                page.contains(&format!("<label for=\"{id}\">")),
                "#{id} has a label"
            );
            controls += 1;
        }
    }
    // The users' search, the user form, delete, Activity's filters, the
    // transactions' filters, the key form and the Audit view's filters.
    assert!(controls >= 28, "{controls} controls");
    for view in ["activity-view", "keys-view", "audit-view"] {
        assert!(page.contains(&format!(r#"<section id="{view}""#)), "{view}");
    }
}
