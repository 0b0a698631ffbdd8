//! Reading a FILE argument or standard input (`-`, or no argument with piped input).

use std::io::{IsTerminal as _, Read as _};
use std::path::Path;

use crate::error::CliError;

/// Largest input read from a file or stdin; every accepted object is far smaller.
const MAX_INPUT: u64 = 1 << 20;

/// Where an input came from, for messages: `file "key.json"` or `standard input`.
pub(crate) fn source_name(arg: Option<&str>) -> String {
    match arg {
        None | Some("-") => "standard input".to_owned(),
        Some(path) => format!("file \"{path}\""),
    }
}

/// Reads `arg` (a path, `-` for stdin, or `None` for stdin) as bytes; `what` names the
/// expected content ("JWK", "certificate", "DPoP proof") in error messages.
pub(crate) fn read_bytes(arg: Option<&str>, what: &str) -> Result<Vec<u8>, CliError> {
    let bytes = match arg {
        None | Some("-") => read_stdin(arg.is_none(), what)?,
        Some(path) => read_file(path, what)?,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CliError::usage(format!(
            "{} is empty: expected a {what}",
            source_name(arg)
        )));
    }
    Ok(bytes)
}

/// Opens a file named on the command line, with a message naming it when that fails.
pub(crate) fn open_file(path: &str, what: &str) -> Result<std::fs::File, CliError> {
    let p = Path::new(path);
    let file = std::fs::File::open(p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            CliError::usage(format!("{what} file \"{path}\" not found"))
        }
        std::io::ErrorKind::PermissionDenied => CliError::usage(format!(
            "{what} file \"{path}\" is not readable (permission denied)"
        )),
        _ => CliError::usage(format!("cannot open {what} file \"{path}\": {e}")),
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(CliError::usage(format!(
            "\"{path}\" is a directory, not a {what} file"
        )));
    }
    Ok(file)
}

/// A file given by `--key FILE` and the like, read whole (up to a cap).
pub(crate) fn read_file(path: &str, what: &str) -> Result<Vec<u8>, CliError> {
    let file = open_file(path, what)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::usage(format!("cannot read {what} file \"{path}\": {e}")))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(CliError::usage(format!(
            "{what} file \"{path}\" is larger than {MAX_INPUT} bytes"
        )));
    }
    Ok(bytes)
}

fn read_stdin(implicit: bool, what: &str) -> Result<Vec<u8>, CliError> {
    let stdin = std::io::stdin();
    if implicit && stdin.is_terminal() {
        return Err(CliError::usage(format!(
            "no {what} given: pass a FILE argument, or `-` and pipe it on standard input"
        )));
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::usage(format!("cannot read standard input: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(CliError::usage(format!(
            "standard input is larger than {MAX_INPUT} bytes"
        )));
    }
    Ok(bytes)
}

/// Current Unix time in seconds (the only clock read outside the demo).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
