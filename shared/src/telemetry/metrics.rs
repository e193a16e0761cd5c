//! CloudWatch metrics in the Embedded Metric Format (EMF): one JSON line on
//! stdout per emission, beside the logs, which CloudWatch Logs turns into
//! metrics as it ingests the stream. A metric so costs no request and no
//! wait, and cannot fail a request. Names, units and dimension values are
//! fixed here, by enums, and values are numbers: nothing a client sent (no
//! id, email, mobile, name, key, path or query) can reach a metric line.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Map, Value};

pub use crate::search::SearchKind;
pub use crate::webhook::Outcome;

/// The namespace when `METRICS_NAMESPACE` is not set.
const DEFAULT_NAMESPACE: &str = "UsersApi";

/// What is counted or timed. The dashboard in `template.yaml` reads these
/// names, so a name never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A user created (not a replay).
    UsersCreated,
    /// A user updated.
    UsersUpdated,
    /// A DELETE of a user accepted (204 or 202).
    UsersDeleted,
    /// Items one deletion pass removed.
    ItemsPurged,
    /// How long one deletion pass took.
    PurgeDuration,
    /// Accounts in one ingest.
    IngestedAccounts,
    /// Transactions in one ingest.
    IngestedTransactions,
    /// A search answered, with its [`SearchKind`].
    Searches,
    /// A response replayed from an idempotency record.
    IdempotentReplays,
    /// A 412 answered.
    PreconditionFailed,
    /// One webhook delivery attempt, with its [`Outcome`].
    WebhookDeliveries,
    /// How long a receiver took to answer one attempt, with its [`Outcome`].
    WebhookLatency,
}

impl Metric {
    /// Every metric, for what must name them all (the dashboard's test).
    pub const ALL: [Metric; 12] = [
        Metric::UsersCreated,
        Metric::UsersUpdated,
        Metric::UsersDeleted,
        Metric::ItemsPurged,
        Metric::PurgeDuration,
        Metric::IngestedAccounts,
        Metric::IngestedTransactions,
        Metric::Searches,
        Metric::IdempotentReplays,
        Metric::PreconditionFailed,
        Metric::WebhookDeliveries,
        Metric::WebhookLatency,
    ];

    /// Its name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::UsersCreated => "UsersCreated",
            Metric::UsersUpdated => "UsersUpdated",
            Metric::UsersDeleted => "UsersDeleted",
            Metric::ItemsPurged => "ItemsPurged",
            Metric::PurgeDuration => "PurgeDuration",
            Metric::IngestedAccounts => "IngestedAccounts",
            Metric::IngestedTransactions => "IngestedTransactions",
            Metric::Searches => "Searches",
            Metric::IdempotentReplays => "IdempotentReplays",
            Metric::PreconditionFailed => "PreconditionFailed",
            Metric::WebhookDeliveries => "WebhookDeliveries",
            Metric::WebhookLatency => "WebhookLatency",
        }
    }

    /// Its CloudWatch unit, one of those EMF allows.
    fn unit(self) -> &'static str {
        match self {
            Metric::PurgeDuration | Metric::WebhookLatency => "Milliseconds",
            _ => "Count",
        }
    }
}

/// A dimension of a line's metrics: its name and value are both fixed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Kind(SearchKind),
    Outcome(Outcome),
}

impl Dimension {
    fn name(self) -> &'static str {
        match self {
            Dimension::Kind(_) => "Kind",
            Dimension::Outcome(_) => "Outcome",
        }
    }

    fn value(self) -> &'static str {
        match self {
            Dimension::Kind(kind) => kind.as_str(),
            Dimension::Outcome(outcome) => outcome.as_str(),
        }
    }
}

/// Counts one `metric`, without dimensions.
pub fn count(metric: Metric) {
    emit(&[(metric, 1)], &[]);
}

/// One deletion pass: the items it removed and how long it took.
pub fn purged(removed: usize, took: Duration) {
    let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    emit(
        &[
            (Metric::ItemsPurged, removed as u64),
            (Metric::PurgeDuration, took_ms),
        ],
        &[],
    );
}

/// One webhook delivery attempt: what it came to and how long it took.
pub fn delivered(outcome: Outcome, latency_ms: u64) {
    emit(
        &[
            (Metric::WebhookDeliveries, 1),
            (Metric::WebhookLatency, latency_ms),
        ],
        &[Dimension::Outcome(outcome)],
    );
}

/// Writes `values` as one line, under `dimensions`, to stdout (or the test
/// sink). A line that cannot be written is dropped: a metric never fails
/// the request it measures.
pub fn emit(values: &[(Metric, u64)], dimensions: &[Dimension]) {
    let text = line(namespace(), crate::clock::now_ms(), values, dimensions).to_string();
    match SINK.get() {
        Some(sink) => sink(&text),
        None => {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }
}

/// The EMF document of one emission: the metadata under `_aws`, and each
/// dimension and value as a member of its own.
fn line(
    namespace: &str,
    timestamp_ms: i64,
    values: &[(Metric, u64)],
    dimensions: &[Dimension],
) -> Value {
    let mut document = Map::new();
    for dimension in dimensions {
        document.insert(dimension.name().into(), dimension.value().into());
    }
    for (metric, value) in values {
        document.insert(metric.name().into(), (*value).into());
    }
    let names: Vec<&str> = dimensions.iter().map(|d| d.name()).collect();
    let metrics: Vec<Value> = values
        .iter()
        .map(|(metric, _)| json!({"Name": metric.name(), "Unit": metric.unit()}))
        .collect();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [names],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(document)
}

/// `METRICS_NAMESPACE`, read once (the stack's template sets it), or `UsersApi`.
fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE")
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
    })
}

type Sink = Box<dyn Fn(&str) + Send + Sync>;

/// Where lines go instead of stdout, once a test has set it.
static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends every later line of this process to `sink` instead of stdout, so
/// that a test can read what the handlers emit. Only the first call takes
/// effect; `false` for any other.
pub fn set_sink(sink: impl Fn(&str) + Send + Sync + 'static) -> bool {
    SINK.set(Box::new(sink)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The units EMF accepts (CloudWatch's `StandardUnit`).
    const UNITS: [&str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];

    /// Checks `text` against the EMF specification: the `_aws` block, and
    /// every dimension and metric it names a member of the document.
    fn assert_valid_emf(text: &str) -> Value {
        let document: Value = serde_json::from_str(text).expect("a line is JSON");
        let aws = &document["_aws"];
        assert!(aws["Timestamp"].is_i64(), "{text}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert_eq!(directives.len(), 1, "{text}");
        let directive = &directives[0];
        assert!(directive["Namespace"].is_string(), "{text}");
        for set in directive["Dimensions"].as_array().expect("dimension sets") {
            for name in set.as_array().expect("a dimension set") {
                let name = name.as_str().expect("a dimension name");
                assert!(document[name].is_string(), "{name} in {text}");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("metrics");
        assert!(!metrics.is_empty(), "{text}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric name");
            assert!(document[name].is_number(), "{name} in {text}");
            let unit = metric["Unit"].as_str().expect("a unit");
            assert!(UNITS.contains(&unit), "{unit} in {text}");
        }
        document
    }

    #[test]
    fn every_metric_makes_a_valid_emf_line() {
        let names: std::collections::HashSet<&str> = Metric::ALL.map(Metric::name).into();
        assert_eq!(names.len(), Metric::ALL.len(), "names are distinct");
        for metric in Metric::ALL {
            let text = line("UsersApi", 1_700_000_000_123, &[(metric, 7)], &[]).to_string();
            let document = assert_valid_emf(&text);
            assert_eq!(document[metric.name()], 7);
            assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_123_i64);
            assert_eq!(
                document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([[]])
            );
        }
    }

    #[test]
    fn a_search_line_has_its_kind_and_several_metrics_share_a_line() {
        let text = line(
            "UsersApi/test",
            1,
            &[(Metric::Searches, 1)],
            &[Dimension::Kind(SearchKind::Email)],
        )
        .to_string();
        let document = assert_valid_emf(&text);
        assert_eq!(document["Kind"], "email");
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "UsersApi/test");
        assert_eq!(directive["Dimensions"], json!([["Kind"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Searches", "Unit": "Count"}])
        );

        let text = line(
            "UsersApi",
            1,
            &[(Metric::ItemsPurged, 12), (Metric::PurgeDuration, 340)],
            &[],
        )
        .to_string();
        let document = assert_valid_emf(&text);
        assert_eq!(
            (
                document["ItemsPurged"].as_u64(),
                document["PurgeDuration"].as_u64()
            ),
            (Some(12), Some(340))
        );
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Metrics"][1],
            json!({"Name": "PurgeDuration", "Unit": "Milliseconds"})
        );
    }
}
