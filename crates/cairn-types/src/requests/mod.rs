//! Request bodies of the HTTP API, decoded with [`crate::lenient`].
//!
//! These keep what the client sent (absent vs. empty where Consul distinguishes them) and offer
//! methods that apply Consul's defaults and validation with Consul's error texts.

pub mod catalog;
pub mod check;
pub mod service;
pub mod session;

pub use catalog::{CatalogDeregistration, CatalogRegistration};
pub use check::{AgentCheckRegistration, CheckType};
pub use service::AgentServiceRegistration;
pub use session::SessionRequest;
