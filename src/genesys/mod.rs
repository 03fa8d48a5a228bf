//! Genesys Cloud: the API's JSON shapes, the snapshot file that records them, and (later) the
//! HTTP client, the only module that talks to the network.

pub mod error;
pub mod snapshot;
pub mod types;
