//! Deciding who gets which message: condition evaluation, rendering, and the plan of a run.
//! Pure: no I/O happens here.

pub mod decide;
pub mod eval;
pub mod render;
