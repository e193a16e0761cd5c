//! Structured JSON logs, one line per event, as CloudWatch Logs Insights reads
//! them. Handlers log operations, statuses and the correlation id, never
//! request data: no email, mobile, name or token reaches a log line.
//! [`metrics`] writes CloudWatch metrics into the same stream.

pub mod metrics;

pub use metrics::Metric;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The JSON subscriber, writing to `writer` (stdout in Lambda).
pub fn json_subscriber<W>(writer: W, filter: EnvFilter) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Call once at cold start. `RUST_LOG` sets the level (default `info`).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stdout, filter()));
}

/// As [`init`], but writing through libtest's capture, so that a test's logs
/// show only when it fails. A second call keeps the first subscriber.
pub fn init_for_tests() {
    let writer = tracing_subscriber::fmt::TestWriter::new();
    let _ = tracing::subscriber::set_global_default(json_subscriber(writer, filter()));
}
