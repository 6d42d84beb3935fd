//! The real `clawhooks` binary in a child process, on a database file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Kills the child when the test ends, passed or not.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh directory, removed when the test ends, passed or not.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("clawhooks-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `clawhooks serve` on `db` and any free port; its log goes to
/// `<db>.log`. Returns the child and the base URL it printed.
pub fn serve(config: &Path, db: &Path) -> (KillOnDrop, String) {
    let log = std::fs::File::create(db.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["serve", "--port", "0", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start clawhooks");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    (KillOnDrop(child), base)
}
