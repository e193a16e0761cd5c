//! Validating response bodies against Basiq's own schemas (tests/contract/core.yml).

use std::sync::OnceLock;

use serde_json::{json, Value};

fn components() -> &'static Value {
    static COMPONENTS: OnceLock<Value> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        let text = include_str!("../contract/core.yml");
        let doc: serde_json::Value =
            serde_yaml::from_str::<serde_json::Value>(text).expect("core.yml parses");
        doc["components"].clone()
    })
}

/// Panics with every violation if `body` does not match the named schema.
pub fn assert_matches(schema: &str, body: &Value) {
    let root = json!({
        "$ref": format!("#/components/schemas/{schema}"),
        "components": components(),
    });
    let validator = jsonschema::validator_for(&root).expect("a usable schema");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "body does not match {schema}:\n{}\n{body:#}",
        errors.join("\n")
    );
}
