//! The users service, shared by every Lambda function. Four layers, each
//! using only those above it:
//!
//! - **Domain**: what a user, a search and a financial record are, and the
//!   rules they keep. [`user`] (validated values, [`user::UserRule`]),
//!   [`finance`] (connections, accounts, transactions, ingest), [`search`]
//!   (what a search asks for), [`event`] (the events of the feed, their
//!   types and filter), [`filter`] (Basiq's filter syntax), [`fold`],
//!   [`clock`], [`idempotency`] (keys and request digests), [`error`],
//!   [`webhook`] (subscriptions, signing, the SSRF rules, delivery).
//! - **Storage**: [`keys`] declares every key template and index, and
//!   [`store`] is the only code that talks to DynamoDB: typed answers in,
//!   typed answers out, never an attribute name or an expression outside it.
//! - **Edge**: [`http`] reads API Gateway requests and writes responses,
//!   turning every error into a Basiq body in one place; [`auth`] checks
//!   tokens; [`rotation`] holds the keys of tokens and cursors, current and
//!   previous; [`api`] holds one handler per route and [`stream`] the
//!   handlers of the table's stream; [`routes`] is the route table.
//! - **Runtime**: [`lambda`] is what each function's `main` calls,
//!   [`config`] is read once at cold start, [`telemetry`] writes the logs and the metrics,
//!   [`queue`] hands webhook deliveries to SQS.

// Domain
pub mod audit;
pub mod clock;
pub mod error;
pub mod event;
pub mod filter;
pub mod finance;
pub mod fold;
pub mod idempotency;
pub mod search;
pub mod user;
pub mod webhook;

// Storage
pub mod keys;
pub mod store;

// Edge
pub mod api;
pub mod auth;
pub mod http;
pub mod rotation;
pub mod routes;
pub mod stream;

// Runtime
pub mod config;
pub mod lambda;
pub mod queue;
pub mod telemetry;

pub use config::App;
