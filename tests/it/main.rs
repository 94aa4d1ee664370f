//! The single integration test binary (one link for every suite).

mod backend;
mod common;
