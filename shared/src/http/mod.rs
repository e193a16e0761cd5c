//! The edge between API Gateway events and the domain: reading requests,
//! writing responses, and the one mapping of errors to Basiq bodies.

pub mod cursor;
pub mod errors;
pub mod page;
pub mod records;
pub mod request;
pub mod respond;
pub mod response;
pub mod strict_json;
pub mod views;

pub use respond::respond;
