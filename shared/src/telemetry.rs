//! Structured JSON logs, one line per event, as CloudWatch Logs Insights reads them.

use tracing_subscriber::EnvFilter;

/// Call once at cold start. `RUST_LOG` sets the level (default `info`).
pub fn init() {
    let _ = builder().try_init();
}

/// As [`init`], but writing through libtest's capture, so that a test's logs
/// show only when it fails. A second call keeps the first subscriber.
pub fn init_for_tests() {
    let _ = builder().with_test_writer().try_init();
}

fn builder() -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json, ()>,
    EnvFilter,
> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
}
