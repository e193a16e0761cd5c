//! Local stack tooling. The table is created from the `UsersTable` resource
//! of template.yaml, so the local table and the deployed one are one definition.

pub mod bench;
pub mod gateway;
pub mod queues;
pub mod seed;
pub mod streams;
pub mod table;
