//! Tile-size selection for a GEMM: moved to [`arch::schedule`] (the one schedule shared by
//! the program builder and the simulator); re-exported here so `driver::tiling::*` keeps
//! working.

pub use arch::schedule::{
    choose, choose_for, choose_problem, estimate, estimate_for, footprint, param_reloads,
    reload_counts, Capacity, LoopOrder, Tiling, TilingError, MAX_FIELD,
};
