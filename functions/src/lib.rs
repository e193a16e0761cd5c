//! What the functions own besides their one-line entry points in `src/bin/`:
//! the dashboard, whose page and assets only its own function serves.

pub mod dashboard;
