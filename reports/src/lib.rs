//! `reports`: latency and energy of the accelerator against the pure-CPU baseline, per layer
//! and per model, and design-space sweeps: Markdown, CSV, JSON, SVG/PNG plots and HTML.
