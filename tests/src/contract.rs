//! Validating response bodies against Basiq's own schemas (`tests/contract/`):
//! core.yml for users, tokens and errors, data.yml for financial records.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// The components of an OpenAPI 3.0 document, read as JSON Schema the way
/// OpenAPI 3.0 means them: a `$ref` replaces its siblings, and
/// `nullable: true` admits `null`.
fn components(text: &str) -> Value {
    let doc: Value = serde_yaml::from_str(text).expect("the document parses");
    as_json_schema(doc["components"].clone())
}

fn as_json_schema(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref") {
                return json!({ "$ref": reference });
            }
            let nullable = map.get("nullable") == Some(&Value::Bool(true));
            let mut out: Map<String, Value> = map
                .into_iter()
                .filter(|(k, _)| k != "nullable")
                .map(|(k, v)| (k, as_json_schema(v)))
                .collect();
            if nullable {
                match out.get("type").cloned() {
                    Some(Value::String(kind)) => {
                        out.insert("type".into(), json!([kind, "null"]));
                    }
                    _ => return json!({ "anyOf": [Value::Object(out), {"type": "null"}] }),
                }
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(as_json_schema).collect()),
        other => other,
    }
}

fn core() -> &'static Value {
    static CORE: OnceLock<Value> = OnceLock::new();
    CORE.get_or_init(|| components(include_str!("../contract/core.yml")))
}

fn data() -> &'static Value {
    static DATA: OnceLock<Value> = OnceLock::new();
    DATA.get_or_init(|| components(include_str!("../contract/data.yml")))
}

fn check(components: &Value, document: &str, schema: &str, body: &Value) {
    let root = json!({
        "$ref": format!("#/components/schemas/{schema}"),
        "components": components,
    });
    let validator = jsonschema::validator_for(&root).expect("a usable schema");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "body does not match {document}'s {schema}:\n{}\n{body:#}",
        errors.join("\n")
    );
}

/// Panics with every violation if `body` does not match core.yml's `schema`.
pub fn assert_matches(schema: &str, body: &Value) {
    check(core(), "core.yml", schema, body);
}

/// Panics with every violation if `body` does not match data.yml's `schema`.
pub fn assert_matches_data(schema: &str, body: &Value) {
    check(data(), "data.yml", schema, body);
}
