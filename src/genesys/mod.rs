//! Genesys Cloud: the API's JSON shapes, the snapshot file that records them, and the live
//! HTTP client ([`client::GenesysClient`]), the only module that talks to the network.

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod plain;
pub mod query;
pub mod snapshot;
pub mod types;
