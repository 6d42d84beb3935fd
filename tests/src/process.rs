//! The real `clawhooks` binary as a child process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `cmd` (a `clawhooks serve …`) and waits for the line in which it
/// announces its address; returns the child and `http://host:port`. The
/// rest of its stdout is drained so it never blocks on a full pipe.
pub fn spawn_announced(cmd: Command) -> (Child, String) {
    try_spawn_announced(cmd).expect("clawhooks serve printed its address")
}

/// [`spawn_announced`], with `None` when no address came within a minute
/// (the caller can then show the process's log).
pub fn try_spawn_announced(mut cmd: Command) -> Option<(Child, String)> {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start clawhooks");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("clawhooks listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(base) => Some((child, base)),
        Err(_) => {
            // Never announced: stop it rather than leave it running.
            child.kill().ok();
            child.wait().ok();
            None
        }
    }
}
