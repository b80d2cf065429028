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
            eprintln!("oekaki: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line; a cause whose text the message already holds is not repeated (errors
/// that quote their source), and line breaks inside messages (ONNX Runtime's) become spaces.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}
