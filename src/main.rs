//! `tinyaccel`: the command-line front end. Parses flags and hands each subcommand to its
//! module in `cmd/`. Exit codes: 0 success, 1 user error (bad input, invalid config, failed
//! check), 2 internal error (a bug: please report it).

/// `println!` for the command output: a closed pipe (`tinyaccel ... | head`) ends the
/// process quietly with exit 0, like other Unix tools; any other write error (a full
/// disk: `> /dev/full`) is a user-facing error with exit 1, never a panic.
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

mod cmd;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// Writes to standard output; on an error, ends the process ([`stdout_failed`]).
pub fn write_stdout(args: std::fmt::Arguments) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        stdout_failed(&e);
    }
}

/// A closed pipe exits 0 without a word (the reader has what it wanted); any other
/// error writing the output exits 1 naming it.
fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("tinyaccel: error: cannot write to standard output: {e}");
    std::process::exit(1);
}

/// Flushes what `out!` left in the line buffer (a last line without a newline), with
/// the same handling of write errors.
fn flush_stdout() {
    if let Err(e) = std::io::stdout().lock().flush() {
        stdout_failed(&e);
    }
}

fn main() -> ExitCode {
    // Never print a Rust backtrace at the user; a panic is an internal error (exit 2).
    std::panic::set_hook(Box::new(|info| {
        eprintln!("tinyaccel: internal error: {info}");
        eprintln!("This is a bug in tinyaccel; please report it with the command you ran.");
    }));
    // A bad flag or value is a user error (1), not clap's default 2; help/version are 0.
    let cli = match cmd::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    let result = std::panic::catch_unwind(|| cmd::run(cli));
    flush_stdout();
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(err)) => {
            // The cause chain, without causes the message already quotes (an I/O error
            // named in "{path}: cannot read: {source}" is not repeated).
            let mut msg = err.to_string();
            for cause in err.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg = format!("{msg}: {c}");
                }
            }
            eprintln!("tinyaccel: error: {msg}");
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(2),
    }
}
