//! `tinyaccel`: the command-line front end. Parses flags and hands each subcommand to its
//! module in `cmd/`. Exit codes: 0 success, 1 user error (bad input, invalid config, failed
//! check), 2 internal error (a bug: please report it).

mod cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Never print a Rust backtrace at the user; a panic is an internal error (exit 2).
    std::panic::set_hook(Box::new(|info| {
        eprintln!("tinyaccel: internal error: {info}");
        eprintln!("This is a bug in tinyaccel; please report it with the command you ran.");
    }));
    let cli = cmd::Cli::parse();
    match std::panic::catch_unwind(|| cmd::run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(err)) => {
            eprintln!("tinyaccel: error: {err:#}");
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(2),
    }
}
