//! `tinyaccel` as a library: the command-line front end's subcommands ([`cmd`]), shared by
//! the `tinyaccel` binary (src/main.rs) and the Python package (python/), so that both
//! compute every figure with the same code.

use std::cell::RefCell;
use std::io::Write;

/// `println!` for the command output: a closed pipe (`tinyaccel ... | head`) ends the
/// process quietly with exit 0, like other Unix tools; any other write error (a full
/// disk: `> /dev/full`) is a user-facing error with exit 1, never a panic. Inside
/// [`capture_stdout`] the text goes to the capture instead.
macro_rules! outln {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the error handling of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

pub mod cmd;

thread_local! {
    /// The command output of this thread while [`capture_stdout`] runs (else `None`).
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with the command output of this thread (`outln!`, `out!`) collected into a
/// string instead of written to standard output: how the Python package takes the same
/// text (JSON, summaries) the CLI prints. Nested captures are not supported: the inner
/// one takes the text.
pub fn capture_stdout<T>(f: impl FnOnce() -> T) -> (T, String) {
    /// Ends the capture even when `f` panics.
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            CAPTURE.with(|c| c.borrow_mut().take());
        }
    }
    CAPTURE.with(|c| *c.borrow_mut() = Some(String::new()));
    let guard = Guard;
    let value = f();
    let text = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    drop(guard);
    (value, text)
}

/// Writes to standard output (or to the capture of [`capture_stdout`]); on an error,
/// ends the process ([`stdout_failed`]).
pub fn write_stdout(args: std::fmt::Arguments) {
    let captured = CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(buf) => {
            use std::fmt::Write as _;
            // Writing into a String cannot fail.
            let _ = buf.write_fmt(args);
            true
        }
        None => false,
    });
    if captured {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        stdout_failed(&e);
    }
}

/// A closed pipe exits 0 without a word (the reader has what it wanted); any other
/// error writing the output exits 1 naming it.
pub fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("tinyaccel: error: cannot write to standard output: {e}");
    std::process::exit(1);
}

/// Flushes what `out!` left in the line buffer (a last line without a newline), with
/// the same handling of write errors.
pub fn flush_stdout() {
    if let Err(e) = std::io::stdout().lock().flush() {
        stdout_failed(&e);
    }
}

/// The message of a failed command, as the CLI prints it after `tinyaccel: error: `: the
/// cause chain, without causes the message already quotes (an I/O error named in
/// "{path}: cannot read: {source}" is not repeated).
pub fn error_message(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    msg
}
