//! Test support shared by the end-to-end suites: recording HTTP servers on
//! 127.0.0.1 that stand in for Slack, Discord, model servers and outgoing
//! webhook receivers, and remember exactly what they were sent.

pub mod emulator;
pub mod recorder;

pub use recorder::{Recorded, Recorder, Reply};
