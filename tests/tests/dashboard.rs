//! The dashboard function, driven in-process with API Gateway v2 events: what
//! it serves, and the headers that keep the page locked down.

use lambda_http::{Body, Response};
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
    // The users' search, sign-in, the user form, delete, and Activity's filters.
    assert!(controls >= 19, "{controls} controls");
    assert!(page.contains(r#"<section id="activity-view""#));
}
