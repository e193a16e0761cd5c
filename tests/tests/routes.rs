//! The route table is the one list of endpoints: template.yaml and the
//! function binaries must say the same (the local gateway routes by the
//! table itself).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml::Value;
use shared::routes::{Route, DASHBOARD, ENDPOINTS, FALLBACK, SLASHED};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap()).unwrap()
}

/// (method, path, binary) of every HttpApi event in template.yaml.
fn template_endpoints() -> BTreeSet<(String, String, String)> {
    let mut found = BTreeSet::new();
    let resources = template()["Resources"].as_mapping().unwrap().clone();
    for (_, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        let events = resource["Properties"]["Events"].as_mapping().cloned();
        for (_, event) in events.unwrap_or_default() {
            if event["Type"] == "HttpApi" {
                let p = &event["Properties"];
                found.insert((
                    p["Method"].as_str().unwrap().to_owned(),
                    p["Path"].as_str().unwrap().to_owned(),
                    binary.clone(),
                ));
            }
        }
    }
    found
}

/// The route table as template.yaml must declare it: every endpoint, the
/// slashed paths again with their slash, and `$default` to the fallback.
fn table() -> BTreeSet<(String, String, String)> {
    let mut table: BTreeSet<(String, String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.into(), e.path.into(), e.function.into()))
        .collect();
    for e in ENDPOINTS.iter().filter(|e| SLASHED.contains(&e.path)) {
        table.insert((e.method.into(), format!("{}/", e.path), e.function.into()));
    }
    table.insert(("ANY".into(), "$default".into(), FALLBACK.into()));
    table
}

#[test]
fn template_yaml_declares_exactly_the_route_table() {
    assert_eq!(template_endpoints(), table());
}

#[test]
fn every_function_has_its_entry_point_and_template_resource() {
    let bins: BTreeSet<String> = std::fs::read_dir(root().join("functions/src/bin"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut functions: BTreeSet<String> = Route::ALL.iter().map(|r| r.function().into()).collect();
    functions.insert(DASHBOARD.into());
    functions.insert(FALLBACK.into());
    // The functions of the table's stream.
    functions.insert("purge-user".into());
    functions.insert("events".into());
    // The function of the webhook queue.
    functions.insert("deliver-webhooks".into());
    assert_eq!(bins, functions);

    let resources = template()["Resources"].as_mapping().unwrap().clone();
    let declared: BTreeSet<String> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|r| {
            r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .into()
        })
        .collect();
    assert_eq!(declared, functions);
}

/// The `$default` route's function: what no route matches is a Basiq body
/// that names no function.
#[tokio::test]
async fn unmatched_requests_get_basiq_bodies_naming_no_function() {
    for (method, path, status, allow) in [
        ("GET", "/nope", 404, None),
        (
            "GET",
            "/2015-03-31/functions/get-user/invocations",
            404,
            None,
        ),
        ("PUT", "/users/x", 405, Some("GET, POST, PATCH, DELETE")),
        ("TRACE", "/users", 405, Some("POST, GET")),
        ("DELETE", "/token", 405, Some("POST")),
    ] {
        let event = tests::events::Event::new(method, path).route_key("$default");
        let response = shared::api::unmatched(event.request()).await;
        let allow_header = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        let reply = tests::events::Reply::from(response);
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(allow_header.as_deref(), allow, "{method} {path}");
        assert_eq!(reply.body["type"], "list");
        let text = reply.body.to_string();
        for e in ENDPOINTS {
            assert!(!text.contains(e.function), "{text} names {}", e.function);
        }
    }
}
