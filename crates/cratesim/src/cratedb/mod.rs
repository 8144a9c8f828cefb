//! The CrateDB cluster model (being written).
