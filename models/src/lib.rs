//! `models`: the graph IR of int8 TinyML networks, the `.tflite` importer that builds it,
//! and the four MLPerf Tiny networks built in (`kws`, `vww`, `ic`, `ad`).
//!
//! Importers only translate; they never compute. Arithmetic lives in `runtime`.
