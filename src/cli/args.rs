//! A small argument scanner: options are taken out by name (`--count 3` or `--count=3`), then
//! positionals in order; [`Args::finish`] rejects anything left over.

use super::error::CliError;

#[derive(Debug, Clone)]
pub struct Args {
    rest: Vec<String>,
}

impl Args {
    pub fn new(args: Vec<String>) -> Args {
        Args { rest: args }
    }

    /// Remove `name` if present (a boolean option).
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// Remove `name VALUE` or `name=VALUE` and return the value (the last one wins).
    pub fn value(&mut self, name: &str) -> Result<Option<String>, CliError> {
        let mut found = None;
        let mut i = 0;
        while i < self.rest.len() {
            if self.rest[i] == name {
                if i + 1 >= self.rest.len() {
                    return Err(CliError::usage(format!("{name} needs a value")));
                }
                found = Some(self.rest.remove(i + 1));
                self.rest.remove(i);
            } else if let Some(v) = self.rest[i].strip_prefix(name).and_then(|s| s.strip_prefix('=')) {
                found = Some(v.to_string());
                self.rest.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(found)
    }

    /// A parsed option value.
    pub fn parsed<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>, CliError> {
        match self.value(name)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| CliError::usage(format!("{name}: invalid value {v:?}"))),
        }
    }

    /// The next argument that is not an option.
    pub fn positional(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with('-') || a == "-")?;
        Some(self.rest.remove(i))
    }

    /// A required positional.
    pub fn required(&mut self, what: &str) -> Result<String, CliError> {
        self.positional().ok_or_else(|| CliError::usage(format!("missing {what}")))
    }

    /// Error on leftover arguments.
    pub fn finish(self) -> Result<(), CliError> {
        match self.rest.first() {
            None => Ok(()),
            Some(a) => Err(CliError::usage(format!("unexpected argument {a:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Args {
        Args::new(s.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn options_then_positionals() {
        let mut a = args("hz --count 3 camera.rgb --window=2.5 --json");
        assert_eq!(a.parsed::<u64>("--count").unwrap(), Some(3));
        assert_eq!(a.parsed::<f64>("--window").unwrap(), Some(2.5));
        assert!(a.flag("--json"));
        assert!(!a.flag("--json"));
        assert_eq!(a.positional().as_deref(), Some("hz"));
        assert_eq!(a.positional().as_deref(), Some("camera.rgb"));
        assert!(a.finish().is_ok());
    }

    #[test]
    fn bad_values_and_leftovers_are_usage_errors() {
        let mut a = args("--count x");
        assert_eq!(a.parsed::<u64>("--count").unwrap_err().code, 2);
        let mut a = args("--count");
        assert!(a.value("--count").is_err());
        assert_eq!(args("--bogus").finish().unwrap_err().code, 2);
    }
}
