//! The single integration test binary (one link for every suite).

#[macro_use]
#[path = "../kit/mod.rs"]
mod kit;

mod backend;
