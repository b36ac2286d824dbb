//! A small `--name value` argument reader (the options are few and fixed).

use std::collections::HashMap;
use std::str::FromStr;

/// Options given as `--name value` pairs; a name may repeat.
#[derive(Debug, Default)]
pub(crate) struct Opts {
    values: HashMap<String, Vec<String>>,
}

impl Opts {
    /// Reads `args`, which must be `--name value` pairs.
    pub(crate) fn parse(args: &[String]) -> Result<Opts, String> {
        let mut opts = Opts::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let value = iter
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            opts.values
                .entry(name.to_owned())
                .or_default()
                .push(value.clone());
        }
        Ok(opts)
    }

    /// The last value given for `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value given for `name`, in order.
    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// The value of `name`, which must be given.
    pub(crate) fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// The value of `name` parsed as `T`, or `default` when absent.
    pub(crate) fn parsed<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{name}: cannot read {text:?}")),
        }
    }

    /// The names given that are not in `known`.
    pub(crate) fn check_known(&self, known: &[&str]) -> Result<(), String> {
        match self.values.keys().find(|k| !known.contains(&k.as_str())) {
            Some(name) => Err(format!("unknown option --{name}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pairs_repeats_and_defaults() {
        let opts = Opts::parse(&strings(&["--a", "1", "--b", "x", "--b", "y"])).unwrap();
        assert_eq!(opts.get("a"), Some("1"));
        assert_eq!(opts.get("b"), Some("y"));
        assert_eq!(opts.all("b"), ["x", "y"]);
        assert_eq!(opts.parsed::<u32>("a", 7), Ok(1));
        assert_eq!(opts.parsed::<u32>("c", 7), Ok(7));
        assert!(opts.parsed::<u32>("b", 7).is_err());
        assert!(opts.required("c").is_err());
        assert!(opts.check_known(&["a", "b"]).is_ok());
        assert!(opts.check_known(&["a"]).is_err());
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(Opts::parse(&strings(&["--a"])).is_err());
        assert!(Opts::parse(&strings(&["a", "1"])).is_err());
    }
}
