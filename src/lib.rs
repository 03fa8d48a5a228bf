//! `runner`: proactive messaging campaigns for Genesys Cloud web messaging.
//!
//! See `ARCHITECTURE.md` for the codemap and the invariants.

pub mod campaign;
pub mod engine;
pub mod exit;
pub mod genesys;
pub mod model;
pub mod source;
