//! The users domain shared by every Lambda function: validated types, table
//! keys, the DynamoDB store, HTTP mapping and the handlers themselves.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod finance;
pub mod fold;
pub mod http;
pub mod idempotency;
pub mod keys;
pub mod search;
pub mod store;
pub mod telemetry;
pub mod user;

pub use config::App;
