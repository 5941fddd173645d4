//! The conformance suite (placeholder until written).
