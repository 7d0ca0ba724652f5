//! Constraint-driven design-space search (`tinyaccel search`): NSGA-II over a grid's
//! designs ([`nsga2`]), objectives and constraints ([`spec`]), hypervolume ([`hv`]), and
//! the run with its files, resume and islands ([`run`]).

pub mod hv;
pub mod nsga2;
pub mod run;
pub mod spec;

pub use run::{merge_search, run_search, space_of, SearchMeta, SearchOptions, SearchOutcome};
pub use spec::{Constraint, Metric, Spec, Target};
