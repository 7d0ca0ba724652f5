//! `sim`: the accelerator simulator. Functional execution of command streams (bit-exact),
//! a cycle-level timing model that matches the RTL, a fast tile-level model for sweeps,
//! and the counters, energy and area derived from `arch::AccelConfig`.
