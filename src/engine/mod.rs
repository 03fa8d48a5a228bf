//! Deciding who gets which message: condition evaluation, rendering, and the plan of a run.

pub mod render;
