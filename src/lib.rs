//! rev
