//! `runner`: proactive messaging campaigns for Genesys Cloud web messaging.
//!
//! See `ARCHITECTURE.md` for the codemap and the invariants.

pub mod app;
pub mod authoring;
pub mod campaign;
pub mod campaign_tests;
pub mod cli;
pub mod cores;
pub mod deliver;
pub mod engine;
pub mod error;
pub mod exit;
pub mod fxhash;
pub mod genesys;
pub mod journal;
pub mod model;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod serve;
pub mod source;
