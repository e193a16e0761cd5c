//! The dashboard's files, compiled into the binary so the function
//! fetches nothing at run time and a deploy can never serve a mismatched pair
//! of page and script; and the API's OpenAPI document, `docs/openapi.yaml`,
//! served as JSON.

use std::borrow::Cow;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

pub struct Asset {
    pub content_type: &'static str,
    pub body: Cow<'static, str>,
    /// A strong validator, so browsers revalidate cheaply instead of refetching.
    pub etag: String,
}

impl Asset {
    pub(super) fn new(content_type: &'static str, body: Cow<'static, str>) -> Self {
        let digest = format!("{:x}", Sha256::digest(body.as_bytes()));
        let etag = format!("\"{}\"", &digest[..24]);
        Self {
            content_type,
            body,
            etag,
        }
    }
}

/// Path, content type and contents of every file the page uses.
const FILES: [(&str, &str, &str); 4] = [
    ("/", "text/html; charset=utf-8", include_str!("index.html")),
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("app.js"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_str!("app.css"),
    ),
    (
        "/assets/favicon.svg",
        "image/svg+xml",
        include_str!("favicon.svg"),
    ),
];

static ASSETS: LazyLock<Vec<(&'static str, Asset)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(path, content_type, body)| (path, Asset::new(content_type, Cow::Borrowed(body))))
        .collect()
});

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The API's OpenAPI document as it is kept, in YAML.
pub const OPENAPI_YAML: &str = include_str!("../../../docs/openapi.yaml");

/// The document as JSON, converted once, on its first request (not at every
/// cold start: the page and its assets do not need it). `None` only if the
/// YAML does not convert, which `tests/tests/openapi.rs` rules out.
static OPENAPI: LazyLock<Option<Asset>> = LazyLock::new(|| {
    let document: serde_json::Value = serde_yaml::from_str(OPENAPI_YAML).ok()?;
    let json = serde_json::to_string(&document).ok()?;
    Some(Asset::new("application/json", Cow::Owned(json)))
});

/// The asset at `path`; `/index.html` is the page too.
pub fn asset(path: &str) -> Option<&'static Asset> {
    if path == OPENAPI_PATH {
        return OPENAPI.as_ref();
    }
    let path = if path == "/index.html" { "/" } else { path };
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_links_is_served() {
        let page = &asset("/").unwrap().body;
        for link in ["/assets/app.js", "/assets/app.css", "/assets/favicon.svg"] {
            assert!(page.contains(link), "{link} is linked");
            assert!(asset(link).is_some(), "{link} is served");
        }
        assert!(asset("/assets/missing.js").is_none());
    }

    #[test]
    fn the_openapi_document_is_served_as_json() {
        let served = asset(OPENAPI_PATH).expect("docs/openapi.yaml converts to JSON");
        assert_eq!(served.content_type, "application/json");
        let document: serde_json::Value = serde_json::from_str(&served.body).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = &asset("/").unwrap().body;
        for tag in page.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            assert!(open.contains("src="), "inline script: <script{open}>");
        }
        assert!(!page.contains("<style"));
        assert!(!page.contains(" style="));
        for (at, _) in page.match_indices(" on") {
            let rest = &page[at + 3..];
            let name_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(0);
            assert!(
                !rest[name_end..].starts_with('='),
                "inline event handler at byte {at}"
            );
        }
    }

    #[test]
    fn the_script_never_writes_html() {
        let script = &asset("/assets/app.js").unwrap().body;
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(sink), "{sink} is not used");
        }
    }
}
