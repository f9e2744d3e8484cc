//! See tests/handoff.rs.
