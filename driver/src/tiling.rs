//! Tile-size selection for a GEMM: moved to [`arch::schedule`] (the one schedule shared by
//! the program builder and the simulator); re-exported here so `driver::tiling::*` keeps
//! working.

pub use arch::schedule::{
    choose, estimate, footprint, param_reloads, reload_counts, Capacity, LoopOrder, Tiling,
    TilingError, MAX_FIELD,
};
