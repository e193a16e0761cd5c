//! The edge between API Gateway events and the domain.

pub mod errors;
pub mod records;
pub mod request;
pub mod response;
pub mod strict_json;
pub mod views;
