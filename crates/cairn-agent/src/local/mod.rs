//! The agent's local services and checks, and anti-entropy with the catalog.

pub mod state;
pub mod sync;

pub use state::{LocalCheck, LocalService, LocalState, PersistError, Source};
pub use sync::{CatalogAccess, NodeRecord, SyncConfig};
