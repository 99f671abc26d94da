//! The CLI's error: one line on stderr and an exit code (1 for failures, 2 for bad usage).
//! Any error of the library converts into it with its message.

/// A CLI failure: printed as one line, exit code `code`.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub msg: String,
}

impl CliError {
    pub fn new(msg: impl Into<String>) -> CliError {
        CliError { code: 1, msg: msg.into() }
    }
    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError { code: 2, msg: msg.into() }
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> CliError {
        CliError::new(e.to_string())
    }
}

pub type CliResult = Result<i32, CliError>;
