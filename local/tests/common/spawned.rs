//! The real `clawhooks` binary in a child process, on a database file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Runs a `clawhooks` command to its end: success, stdout, stderr.
pub fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
    serve_with(config, db, &[])
}

/// [`serve`] with more arguments to `serve` (`--no-workers`, `--log-json`...).
pub fn serve_with(config: &Path, db: &Path, extra: &[&str]) -> (KillOnDrop, String) {
    let log = std::fs::File::create(db.with_extension("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["serve", "--port", "0", "--config"])
        .arg(config)
        .arg("--db")
        .arg(db)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start clawhooks");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("clawhooks listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    (KillOnDrop(child), base)
}

/// Sends `signal` (`TERM`, `HUP`...) to the server with `kill`.
pub fn signal(server: &KillOnDrop, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} failed");
}

/// Posts each body to `<base>/webhook/<hook>` with the hook secret `s`;
/// every one must be answered 202. The event ids, in order.
pub async fn post_hooks(
    client: &reqwest::Client,
    base: &str,
    hook: &str,
    bodies: impl IntoIterator<Item = serde_json::Value>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for body in bodies {
        let r = client
            .post(format!("{base}/webhook/{hook}"))
            .header("X-Webhook-Secret", "s")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "posting {body}");
        let v: serde_json::Value = r.json().await.unwrap();
        ids.push(v["eventId"].as_str().unwrap().to_string());
    }
    ids
}
