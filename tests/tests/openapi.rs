//! The OpenAPI document, `docs/openapi.yaml`: it is a well-formed OpenAPI 3.1
//! document; it documents exactly the route table (which template.yaml and
//! the local gateway are held to in `routes.rs`), so no route can be added,
//! removed or renamed without it; every example in it is valid, checked with
//! the service's own parsers for what JSON Schema cannot say (names, emails,
//! ABNs and ACNs); and the dashboard function serves it as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use lambda_http::Body;
use serde_json::{json, Value};
use shared::routes::{ENDPOINTS, SLASHED};
use shared::user::{BusinessIdNo, BusinessIdType, Email, Name};
use tests::events::Event;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
    serde_yaml::from_str(&text).expect("docs/openapi.yaml is YAML")
}

/// (METHOD, path) of every operation in the document.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut found = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                found.insert((method.to_uppercase(), path.clone()), operation.clone());
            }
        }
    }
    found
}

/// What `$ref` points at, inside the document.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Every value in the document with its JSON pointer, depth first.
fn walk<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    out.push((at.clone(), value));
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                walk(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The parameters an operation takes: its path item's and its own, with
/// references resolved.
fn parameters<'a>(
    doc: &'a Value,
    item: &'a Value,
    operation: &'a Value,
) -> impl Iterator<Item = &'a Value> {
    [&item["parameters"], &operation["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|p| match p.get("$ref").and_then(Value::as_str) {
            Some(reference) => resolve(doc, reference).unwrap(),
            None => p,
        })
}

fn all_values(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    walk(doc, String::new(), &mut out);
    out
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["api_key"]["type"], "apiKey");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["api_key"]["name"], "Authorization");
    assert_eq!(schemes["services_token"]["type"], "http");
    assert_eq!(schemes["services_token"]["scheme"], "bearer");

    // Every reference resolves.
    for (at, value) in all_values(&doc) {
        if let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            assert!(
                resolve(&doc, reference).is_some(),
                "{at}: $ref {reference} does not resolve"
            );
        }
    }

    let mut ids = BTreeSet::new();
    for ((method, path), operation) in operations(&doc) {
        let name = format!("{method} {path}");
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: operationId"));
        assert!(
            ids.insert(id.to_owned()),
            "{name}: operationId {id} is used twice"
        );
        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: responses"));
        assert!(!responses.is_empty(), "{name}");
        for status in responses.keys() {
            let code: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{name}: status {status}"));
            assert!((100..600).contains(&code), "{name}: {status}");
        }
        // Every `{param}` of the path is a path parameter, and the reverse.
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let item = &doc["paths"][path.as_str()];
        let declared: BTreeSet<String> = parameters(&doc, item, &operation)
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{name}: path parameters are required");
                p["name"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(templated, declared, "{name}: path parameters");
        // An operation behind a token says what a missing one gets.
        let public = operation["security"].as_array().is_some_and(Vec::is_empty);
        if !public {
            assert!(responses.contains_key("401"), "{name}: 401");
        }
    }

    // Links name operations that exist, and parameters those operations take.
    let by_id: BTreeMap<String, (String, String)> = operations(&doc)
        .into_iter()
        .map(|(key, op)| (op["operationId"].as_str().unwrap().to_owned(), key))
        .collect();
    for (at, value) in all_values(&doc) {
        if !at.contains("/links/") || value.get("operationId").is_none() {
            continue;
        }
        let id = value["operationId"].as_str().unwrap();
        let (method, path) = by_id
            .get(id)
            .unwrap_or_else(|| panic!("{at}: no operation {id}"));
        let operation = &doc["paths"][path.as_str()][method.to_lowercase()];
        let item = &doc["paths"][path.as_str()];
        let names: BTreeSet<String> = parameters(&doc, item, operation)
            .flat_map(|p| {
                let name = p["name"].as_str().unwrap();
                [
                    name.to_owned(),
                    format!("{}.{name}", p["in"].as_str().unwrap()),
                ]
            })
            .collect();
        for name in value["parameters"].as_object().unwrap().keys() {
            assert!(names.contains(name), "{at}: {id} takes no parameter {name}");
        }
    }
}

/// The drift check: template.yaml and the local gateway route by
/// `ENDPOINTS` (tests/tests/routes.rs), and the document says the same.
#[test]
fn the_document_has_exactly_the_routes_of_the_route_table() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc).into_keys().collect();
    let routed: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.to_owned(), e.path.to_owned()))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "routes missing from docs/openapi.yaml: {missing:?}; operations in it that no route serves: {unknown:?}"
    );

    // The paths also answered with a trailing slash say so.
    let slashed: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| item["x-trailing-slash"] == true)
        .map(|(path, _)| path.as_str())
        .collect();
    assert_eq!(slashed, SLASHED.into_iter().collect());
}

fn is_name(text: &str) -> bool {
    matches!(Name::parse(text), Ok(Some(_)))
}

fn business_id(text: &str, kind: BusinessIdType) -> bool {
    BusinessIdNo::parse(text, kind).is_ok()
}

/// A validator for `schema`, with `components` to resolve references in, and
/// the document's own formats checked by the service's parsers.
fn validator(schema: &Value, components: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    if let Value::Object(map) = &mut root {
        map.insert("components".into(), components.clone());
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .with_format("name", is_name)
        .with_format("email", |text: &str| Email::parse(text).is_ok())
        .with_format("abn", |text: &str| business_id(text, BusinessIdType::Abn))
        .with_format("acn", |text: &str| business_id(text, BusinessIdType::Acn))
        .with_format("search", |text: &str| !text.trim().is_empty())
        .build(&root)
        .unwrap_or_else(|e| panic!("a usable schema: {e}\n{schema:#}"))
}

/// (where, example, schema) for every example in the document: of parameters
/// and media types (`example`, `examples.*.value`), and of schemas
/// (`examples: [...]`).
fn examples(doc: &Value) -> Vec<(String, Value, Value)> {
    let mut found = Vec::new();
    for (at, value) in all_values(doc) {
        let Some(object) = value.as_object() else {
            continue;
        };
        let is_schema = at.contains("/schemas/") || at.ends_with("/schema");
        if let Some(schema) = object.get("schema") {
            if let Some(example) = object.get("example") {
                found.push((format!("{at}/example"), example.clone(), schema.clone()));
            }
            for (name, example) in object
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let example = match example.get("$ref").and_then(Value::as_str) {
                    Some(reference) => resolve(doc, reference).unwrap(),
                    None => example,
                };
                found.push((
                    format!("{at}/examples/{name}"),
                    example["value"].clone(),
                    schema.clone(),
                ));
            }
        } else if is_schema {
            for (i, example) in object
                .get("examples")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                found.push((format!("{at}/examples/{i}"), example.clone(), value.clone()));
            }
        }
    }
    found
}

#[test]
fn every_example_is_valid() {
    let doc = document();
    let components = &doc["components"];
    let found = examples(&doc);
    assert!(found.len() > 20, "only {} examples found", found.len());
    let mut invalid = Vec::new();
    for (at, example, schema) in &found {
        let errors: Vec<String> = validator(schema, components)
            .iter_errors(example)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        if !errors.is_empty() {
            invalid.push(format!("{at}: {example}\n  {}", errors.join("\n  ")));
        }
    }
    assert!(
        invalid.is_empty(),
        "invalid examples:\n{}",
        invalid.join("\n")
    );
}

#[test]
fn business_numbers_in_examples_pass_their_checks() {
    let doc = document();
    let mut checked = 0;
    for (at, value) in all_values(&doc) {
        let (Some(number), Some(kind)) = (
            value.get("businessIdNo").and_then(Value::as_str),
            value.get("businessIdNoType").and_then(Value::as_str),
        ) else {
            continue;
        };
        let kind = BusinessIdType::parse(kind).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(
            BusinessIdNo::parse(number, kind).is_ok(),
            "{at}: {number} is not a valid {kind:?}"
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} business ids in examples");
    // Basiq's own example ABN fails the ATO's check; ours must not copy it.
    let text = serde_json::to_string(&doc).unwrap();
    assert!(!text.contains("16 7645 892"));
}

/// The schemas' own formats are known to the checks above (an unknown one
/// would be ignored by validators, and could hide a typo).
#[test]
fn every_format_is_one_the_checks_know() {
    let doc = document();
    let known = [
        "name",
        "email",
        "abn",
        "acn",
        "search",
        "date",
        "date-time",
        "uri",
        "uuid",
    ];
    for (at, value) in all_values(&doc) {
        if let Some(format) = value.get("format").and_then(Value::as_str) {
            assert!(known.contains(&format), "{at}: format {format}");
        }
    }
    // The checks themselves hold the service's rules.
    let components = &doc["components"];
    let schema = json!({"$ref": "#/components/schemas/Name"});
    assert!(validator(&schema, components).is_valid(&json!("José")));
    assert!(!validator(&schema, components).is_valid(&json!("G\u{430}vin")));
    let abn = json!({"type": "string", "format": "abn"});
    assert!(validator(&abn, components).is_valid(&json!("51 824 753 556")));
    assert!(!validator(&abn, components).is_valid(&json!("16 7645 892")));
}

#[tokio::test]
async fn the_dashboard_serves_the_document_as_json() {
    let request = Event::new("GET", "/openapi.json").without_auth().request();
    let response = functions::dashboard::handle(request).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let Body::Text(text) = response.body() else {
        panic!("a text body")
    };
    let served: Value = serde_json::from_str(text).unwrap();
    assert_eq!(served, document());

    let again = Event::new("GET", "/openapi.json")
        .without_auth()
        .header("if-none-match", &etag)
        .request();
    assert_eq!(functions::dashboard::handle(again).await.status(), 304);
}

/// A key given twice in one mapping (a response code, say) is not valid YAML
/// for a reader that keeps the first, and the document must read the same
/// to every reader; reading into JSON values keeps the last silently.
#[test]
fn no_key_is_given_twice() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
    if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
        panic!("docs/openapi.yaml: {e}");
    }
}
