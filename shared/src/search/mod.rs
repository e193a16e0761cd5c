//! User search: what a query asks for ([`criteria`]), how it is answered
//! with index queries ([`plan`]), and how a client resumes it ([`cursor`]).
//!
//! Every search is one GetItem (an id) or one Query per index stream it
//! needs, never a Scan. Streams are read in index order and merged, so paging
//! through any result returns every match exactly once, in a stable order.

pub mod cond;
pub mod criteria;
pub mod cursor;
pub mod filter;
pub mod plan;

pub use criteria::{Criteria, Term};
pub use cursor::{Cursor, Position};
pub use plan::{Plan, Stream};

/// `limit` when none is given, and its bounds.
pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 500;
