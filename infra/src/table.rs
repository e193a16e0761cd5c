use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, LocalSecondaryIndex,
    Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableDescription, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;

/// template.yaml, as built into this binary.
pub const TEMPLATE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"));
/// The logical id of the table in template.yaml.
pub const TABLE_RESOURCE: &str = "UsersTable";

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("template.yaml: {0}")]
    Template(String),
    #[error("dynamodb: {0}")]
    Dynamo(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyDef>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDef>,
    #[serde(default)]
    pub local_secondary_indexes: Vec<IndexDef>,
    #[serde(default)]
    pub stream_specification: Option<StreamDef>,
    #[serde(default)]
    pub time_to_live_specification: Option<TtlDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeyDef>,
    pub projection: ProjectionDef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDef {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlDef {
    pub attribute_name: String,
    pub enabled: bool,
}

/// Reads the table's properties out of a SAM template.
pub fn definition_from(template: &str) -> Result<TableDefinition, TableError> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(template).map_err(|e| TableError::Template(e.to_string()))?;
    let properties = doc
        .get("Resources")
        .and_then(|r| r.get(TABLE_RESOURCE))
        .and_then(|t| t.get("Properties"))
        .ok_or_else(|| TableError::Template(format!("no Resources.{TABLE_RESOURCE}.Properties")))?;
    serde_yaml::from_value(properties.clone()).map_err(|e| TableError::Template(e.to_string()))
}

pub fn definition() -> Result<TableDefinition, TableError> {
    definition_from(TEMPLATE)
}

fn key_schema(keys: &[KeyDef]) -> Result<Vec<KeySchemaElement>, TableError> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| TableError::Template(e.to_string()))
        })
        .collect()
}

fn dynamo<E: std::fmt::Display>(err: E) -> TableError {
    TableError::Dynamo(err.to_string())
}

/// Whether a local table gets the template's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// No stream: what the tests use. DynamoDB Local's stream storage slows
    /// every write down as a run goes on (the financial-data suite took 31 s
    /// without it and over 9 minutes with it), and tests hand the stream
    /// functions real-shaped records themselves.
    Off,
    /// The stream as template.yaml declares it (new and old images), for
    /// `make dev` and the end-to-end stream test, where the local poller
    /// (`infra::streams`) hands its records to the functions.
    FromTemplate,
}

/// Creates the table without its stream; see [`Stream::Off`].
pub async fn create(client: &Client, name: &str) -> Result<(), TableError> {
    create_as(client, name, Stream::Off).await
}

/// Creates the table (on-demand, as declared) and waits until it is active.
/// Everything but the stream is taken from the template; the stream too with
/// [`Stream::FromTemplate`].
///
/// An existing table of that name is left as it is, except that it gains
/// the global indexes the template declares and it lacks (one at a time, as
/// DynamoDB creates them), and [`Stream::FromTemplate`] turns its stream on
/// when it has none: a `make dev` table kept in `.dynamodb/` from before
/// gets what the code now reads on its next start.
pub async fn create_as(client: &Client, name: &str, stream: Stream) -> Result<(), TableError> {
    let def = definition()?;
    let stream_spec = match (stream, &def.stream_specification) {
        (Stream::Off, _) => None,
        (Stream::FromTemplate, None) => {
            return Err(TableError::Template(format!(
                "{TABLE_RESOURCE} declares no StreamSpecification"
            )))
        }
        (Stream::FromTemplate, Some(declared)) => Some(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(declared.stream_view_type.as_str()))
                .build()
                .map_err(|e| TableError::Template(e.to_string()))?,
        ),
    };
    let attributes = def
        .attribute_definitions
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(|e| TableError::Template(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let projection = |p: &ProjectionDef| {
        Projection::builder()
            .projection_type(ProjectionType::from(p.projection_type.as_str()))
            .set_non_key_attributes(
                (!p.non_key_attributes.is_empty()).then(|| p.non_key_attributes.clone()),
            )
            .build()
    };
    let indexes: Vec<GlobalSecondaryIndex> = def
        .global_secondary_indexes
        .iter()
        .map(|i| {
            GlobalSecondaryIndex::builder()
                .index_name(&i.index_name)
                .set_key_schema(Some(key_schema(&i.key_schema)?))
                .projection(projection(&i.projection))
                .build()
                .map_err(|e| TableError::Template(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let local_indexes = def
        .local_secondary_indexes
        .iter()
        .map(|i| {
            LocalSecondaryIndex::builder()
                .index_name(&i.index_name)
                .set_key_schema(Some(key_schema(&i.key_schema)?))
                .projection(projection(&i.projection))
                .build()
                .map_err(|e| TableError::Template(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let result = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes.clone()))
        .set_key_schema(Some(key_schema(&def.key_schema)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then(|| indexes.clone()))
        .set_local_secondary_indexes((!local_indexes.is_empty()).then_some(local_indexes))
        .set_stream_specification(stream_spec.clone())
        .send()
        .await;
    let mut existed = false;
    if let Err(err) = result {
        existed = err
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception());
        if !existed {
            return Err(TableError::Dynamo(
                aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
            ));
        }
    }
    wait_active(client, name).await?;
    if existed {
        add_missing_indexes(client, name, &attributes, indexes).await?;
    }
    if let (true, Some(spec)) = (existed, stream_spec) {
        if stream_arn(client, name).await?.is_none() {
            client
                .update_table()
                .table_name(name)
                .stream_specification(spec)
                .send()
                .await
                .map_err(|e| dynamo(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            wait_active(client, name).await?;
        }
    }
    if let Some(ttl) = &def.time_to_live_specification {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(&ttl.attribute_name)
            .enabled(ttl.enabled)
            .build()
            .map_err(dynamo)?;
        // Already enabled is an error from DynamoDB, and a fine outcome here.
        let _ = client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(spec)
            .send()
            .await;
    }
    Ok(())
}

/// Creates, one at a time, the global indexes of `indexes` that the existing
/// table `name` lacks, each with its key attributes' definitions (from
/// `attributes`, the table's).
async fn add_missing_indexes(
    client: &Client,
    name: &str,
    attributes: &[AttributeDefinition],
    indexes: Vec<GlobalSecondaryIndex>,
) -> Result<(), TableError> {
    let present: Vec<String> = describe(client, name)
        .await?
        .map(|t| t.global_secondary_indexes().to_vec())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_owned))
        .collect();
    for index in indexes {
        if present.iter().any(|p| p == index.index_name()) {
            continue;
        }
        let keys: Vec<&str> = index
            .key_schema()
            .iter()
            .map(|k| k.attribute_name())
            .collect();
        let definitions = attributes
            .iter()
            .filter(|a| keys.contains(&a.attribute_name()))
            .cloned()
            .collect();
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.index_name())
            .set_key_schema(Some(index.key_schema().to_vec()))
            .set_projection(index.projection().cloned())
            .build()
            .map_err(|e| TableError::Template(e.to_string()))?;
        client
            .update_table()
            .table_name(name)
            .set_attribute_definitions(Some(definitions))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| dynamo(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        let wanted = index.index_name().to_owned();
        wait_until(client, name, &format!("its index {wanted}"), 60, |t| {
            t.global_secondary_indexes().iter().any(|i| {
                i.index_name() == Some(wanted.as_str())
                    && i.index_status() == Some(&IndexStatus::Active)
            })
        })
        .await?;
    }
    Ok(())
}

/// The table's description, `None` when DynamoDB gives none.
async fn describe(client: &Client, name: &str) -> Result<Option<TableDescription>, TableError> {
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| dynamo(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    Ok(described.table)
}

/// The ARN of the table's stream, when it has one that is enabled.
pub async fn stream_arn(client: &Client, name: &str) -> Result<Option<String>, TableError> {
    let Some(table) = describe(client, name).await? else {
        return Ok(None);
    };
    let enabled = table
        .stream_specification()
        .is_some_and(|s| s.stream_enabled());
    Ok(table
        .latest_stream_arn()
        .filter(|_| enabled)
        .map(str::to_owned))
}

async fn wait_active(client: &Client, name: &str) -> Result<(), TableError> {
    wait_until(client, name, "the table", 30, |t| {
        t.table_status() == Some(&TableStatus::Active)
    })
    .await
}

/// Polls the table's description every 100 ms until `ready` holds of it,
/// for at most `seconds`; `what` names what is waited for in the error.
async fn wait_until(
    client: &Client,
    name: &str,
    what: &str,
    seconds: u64,
    ready: impl Fn(&TableDescription) -> bool,
) -> Result<(), TableError> {
    for _ in 0..seconds * 10 {
        if describe(client, name).await?.as_ref().is_some_and(&ready) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(TableError::Dynamo(format!(
        "table {name}: {what} did not become active in {seconds} s"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_declares_the_keys_and_indexes_the_code_uses() {
        let def = definition().unwrap();
        let keys: Vec<_> = def
            .key_schema
            .iter()
            .map(|k| k.attribute_name.as_str())
            .collect();
        assert_eq!(keys, [shared::keys::PK, shared::keys::SK]);
        for index in [
            shared::keys::BY_EMAIL,
            shared::keys::BY_MOBILE,
            shared::keys::BY_FIRST_NAME,
            shared::keys::BY_LAST_NAME,
            shared::keys::BY_CREATED,
            shared::keys::EVENTS_BY_TIME,
            shared::keys::EVENTS_BY_USER,
            shared::keys::EVENTS_BY_TYPE,
            shared::keys::EVENTS_BY_ENTITY,
        ] {
            let declared = def
                .global_secondary_indexes
                .iter()
                .find(|i| i.index_name == index.name)
                .unwrap_or_else(|| panic!("{} is not in template.yaml", index.name));
            let keys: Vec<_> = declared
                .key_schema
                .iter()
                .map(|k| k.attribute_name.as_str())
                .collect();
            assert_eq!(keys, [index.pk, index.sk], "{}", index.name);
        }
        let stream = def
            .stream_specification
            .expect("purge-user and events need the table's stream");
        // An update's event names the fields that changed: old images too.
        assert_eq!(stream.stream_view_type, "NEW_AND_OLD_IMAGES");
        for index in [shared::keys::TXN_BY_DATE, shared::keys::TXN_BY_ACCOUNT] {
            let declared = def
                .local_secondary_indexes
                .iter()
                .find(|i| i.index_name == index.name)
                .unwrap_or_else(|| panic!("{} is not in template.yaml", index.name));
            let keys: Vec<_> = declared
                .key_schema
                .iter()
                .map(|k| k.attribute_name.as_str())
                .collect();
            assert_eq!(keys, [shared::keys::PK, index.sk], "{}", index.name);
        }
    }
}
