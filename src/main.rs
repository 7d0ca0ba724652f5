//! `tinyaccel`: the command-line front end. Parses flags and hands each subcommand to its
//! module in `cmd/` (in the library, src/lib.rs). Exit codes: 0 success, 1 user error (bad
//! input, invalid config, failed check), 2 internal error (a bug: please report it).

use clap::Parser;
use std::process::ExitCode;
use tinyaccel::cmd;

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
    tinyaccel::flush_stdout();
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(err)) => {
            eprintln!("tinyaccel: error: {}", tinyaccel::error_message(&err));
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(2),
    }
}
