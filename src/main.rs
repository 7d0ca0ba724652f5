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
    // A bad flag or value is a user error (1), not clap's default 2; help/version are 0.
    let cli = match cmd::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    match std::panic::catch_unwind(|| cmd::run(cli)) {
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
