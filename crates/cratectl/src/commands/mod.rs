//! One module per command group. Each takes its parsed arguments, does the work through the
//! library crates, and renders the result; none of them decides anything a library could.

pub mod maintenance;
