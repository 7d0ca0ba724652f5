//! An indicatif-friendly progress hook.
//!
//! The CLI drives one bar while it runs models ([`progress_bar`] gives a standard one,
//! hidden when stderr is not a terminal or when `quiet`), and may pass it as a
//! [`ProgressSink`] to [`crate::write_report`], which advances it once per file written.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Something that shows progress. Implemented for [`indicatif::ProgressBar`] and
/// [`NoProgress`].
pub trait ProgressSink: Sync {
    /// Adds `n` to the total amount of work.
    fn add_length(&self, n: u64);
    /// Marks `n` units done.
    fn inc(&self, n: u64);
    /// Shows what is being done.
    fn message(&self, msg: &str);
}

impl ProgressSink for ProgressBar {
    fn add_length(&self, n: u64) {
        self.inc_length(n);
    }
    fn inc(&self, n: u64) {
        ProgressBar::inc(self, n);
    }
    fn message(&self, msg: &str) {
        self.set_message(msg.to_string());
    }
}

/// A sink that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn add_length(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn message(&self, _: &str) {}
}

/// A bar of `len` steps with position, ETA and a message, drawn on stderr; hidden when
/// `quiet` or when stderr is not a terminal.
pub fn progress_bar(len: u64, what: &str, quiet: bool) -> ProgressBar {
    let target = if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let pb = ProgressBar::with_draw_target(Some(len), target);
    let template = format!(
        "{{spinner}} {what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} ({{per_sec}}, ETA {{eta}}) {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style);
    }
    pb
}
