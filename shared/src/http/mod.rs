//! The edge between API Gateway events and the domain.

pub mod errors;
pub mod request;
pub mod response;
pub mod views;
