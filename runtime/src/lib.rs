//! `runtime`: a TFLite-Micro-like micro runtime. It runs the graphs of `models` with pure-CPU
//! int8 reference kernels, bit-exact with TFLite-Micro, plans the tensor arena, and models
//! the latency and energy of those kernels on microcontroller CPUs (the pure-CPU baseline).

pub mod cost;
