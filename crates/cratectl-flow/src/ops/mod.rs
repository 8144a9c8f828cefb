//! One module per operation, each with its workflows, its own activities, its inputs and
//! records, and its dry run. What they share is the harness ([`crate::harness`]), the common
//! activities ([`crate::activities::common`]) and the records of [`crate::model`].

pub mod restart;
pub mod restore;
pub mod scale;
pub mod suspend;
