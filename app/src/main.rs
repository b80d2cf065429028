//! `oekaki`: with no arguments it opens the studio; subcommands run the same core operations headless.

use std::process::ExitCode;

use oekaki_app::cli;

fn main() -> ExitCode {
    // A bug must still end in one readable line, never a backtrace wall on user data.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned());
        eprintln!("oekaki: internal error: {}", msg.unwrap_or_else(|| "unknown".into()));
    }));
    match cli::run(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("oekaki: error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
