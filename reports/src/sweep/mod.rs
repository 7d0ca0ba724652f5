//! The design-space sweep engine (see `docs/reports.md`).
