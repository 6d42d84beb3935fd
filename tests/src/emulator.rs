//! A real AWS emulator for the tests, started by the tests themselves.
//!
//! ministack (pinned, from PyPI) by default; `CLAWHOOKS_EMULATOR=moto` runs
//! moto's server instead (SQS and DynamoDB only: it cannot run Lambda
//! functions without Docker). Each is installed once into a virtualenv under
//! the target directory (`target/venvs/<name>-<version>`) and reused by
//! later runs, then started on 127.0.0.1 at a free port.
//!
//! One emulator serves a whole test binary ([`shared`]); its tests keep out
//! of each other's way by naming their queues and tables with [`unique`].
//! It is stopped when the test binary exits, even on a panic or a kill: it
//! runs under a small shell that waits on a pipe from this process and
//! kills the emulator's process group when the pipe closes.

use anyhow::{bail, Context, Result};
use clawhooks::aws::AwsClients;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const MINISTACK: &str = "ministack==1.5.33";
pub const MOTO: &str = "moto[server]==5.2.5";

/// The region the tests use; any works, as long as every client agrees.
pub const REGION: &str = "us-east-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ministack,
    Moto,
}

impl Kind {
    /// From `CLAWHOOKS_EMULATOR` (`ministack`, the default, or `moto`).
    pub fn from_env() -> Result<Self> {
        match std::env::var("CLAWHOOKS_EMULATOR").as_deref() {
            Err(_) | Ok("") | Ok("ministack") => Ok(Kind::Ministack),
            Ok("moto") => Ok(Kind::Moto),
            Ok(other) => bail!("CLAWHOOKS_EMULATOR={other:?}: use ministack or moto"),
        }
    }

    /// Whether the emulator runs Lambda functions (ministack runs
    /// `provided.al2023` bootstraps as host processes; moto needs Docker).
    pub fn runs_lambda(self) -> bool {
        self == Kind::Ministack
    }

    fn package(self) -> &'static str {
        match self {
            Kind::Ministack => MINISTACK,
            Kind::Moto => MOTO,
        }
    }

    fn health_path(self) -> &'static str {
        match self {
            Kind::Ministack => "/_ministack/health",
            Kind::Moto => "/moto-api/",
        }
    }
}

pub struct Emulator {
    pub kind: Kind,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub port: u16,
    /// Where its output goes, for reading after a failure.
    pub log: PathBuf,
    /// The guarding shell; its stdin is the pipe whose closing stops the emulator.
    guard: Mutex<Option<Child>>,
}

/// The emulator of this test binary, started on first use.
pub fn shared() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let kind = Kind::from_env().expect("CLAWHOOKS_EMULATOR");
        Emulator::start(kind).expect("start the AWS emulator")
    })
}

/// A name no other test of this run uses: `<prefix>-<8 hex digits>`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The target directory of this build (`CARGO_TARGET_DIR` or the workspace's).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

impl Emulator {
    pub fn start(kind: Kind) -> Result<Self> {
        let venv = ensure_venv(kind.package())?;
        let port = free_port()?;
        let logs = target_dir().join("emulator-logs");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{kind:?}-{port}.log").to_lowercase());
        let out = std::fs::File::create(&log)?;
        let python = venv.join("bin/python");
        let mut cmd = Command::new("sh");
        // setsid: the emulator leads its own process group, so the kill
        // reaches the Lambda processes it starts too.
        cmd.arg("-c")
            .arg(r#"setsid "$@" & pid=$!; read -r _; kill -TERM -- -"$pid" 2>/dev/null || kill -TERM "$pid"; wait "$pid""#)
            .arg("emulator-guard")
            .arg(&python);
        match kind {
            Kind::Ministack => {
                cmd.arg("-m")
                    .arg("ministack")
                    .env("BIND_HOST", "127.0.0.1")
                    .env("GATEWAY_PORT", port.to_string())
                    .env("LOG_LEVEL", "WARNING");
            }
            Kind::Moto => {
                cmd.args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
                    .arg(port.to_string());
            }
        }
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("spawn the emulator")?;
        let emu = Emulator {
            kind,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            log,
            guard: Mutex::new(Some(child)),
        };
        emu.wait_healthy(Duration::from_secs(60))?;
        Ok(emu)
    }

    fn wait_healthy(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        loop {
            if http_get_ok(addr, self.kind.health_path()) {
                return Ok(());
            }
            if let Some(child) = self.guard.lock().unwrap().as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "the emulator exited ({status}); its log:\n{}",
                        std::fs::read_to_string(&self.log).unwrap_or_default()
                    );
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "the emulator is not healthy after {within:?}; see {}",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SQS and DynamoDB clients pointed at the emulator.
    pub async fn clients(&self) -> AwsClients {
        AwsClients::from_config(self.sdk_config().await)
    }

    /// An SDK configuration pointed at the emulator, for other services'
    /// clients: built from [`Self::env`] as the Lambda functions build
    /// theirs, so every AWS test runs their configuration.
    pub async fn sdk_config(&self) -> clawhooks::aws::clients::SdkConfig {
        let vars: std::collections::HashMap<&str, String> = self.env().into_iter().collect();
        let env = std::sync::Arc::new(move |k: &str| vars.get(k).cloned());
        clawhooks::aws::clients::lambda_env_config(env).expect("the emulator's variables")
    }

    /// The variables that point an AWS SDK in a child process at the emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ]
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the emulator's whole process
    /// group, for outage tests: a frozen emulator accepts connections and
    /// answers nothing, as a hung backend does. Use an emulator of your own,
    /// not [`shared`], or every other test of the binary hangs with it.
    pub fn signal(&self, signal: &str) -> Result<()> {
        let pid = listener_pid(self.port).context("the emulator's listening process")?;
        // Field 5 of /proc/<pid>/stat (after the parenthesised name): the group.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let group: u32 = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse().ok())
            .context("the emulator's process group")?;
        let status = Command::new("kill")
            .args([format!("-{signal}"), "--".into(), format!("-{group}")])
            .status()?;
        if !status.success() {
            bail!("kill -{signal} -{group} failed");
        }
        Ok(())
    }

    /// The emulator's output so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.guard.lock().unwrap().take() {
            // Closing the pipe tells the guard to stop the emulator.
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(b"\n");
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
        }
    }
}

/// `target/venvs/<name>-<version>` with `package` installed, made once.
/// Concurrent test binaries take turns through a lock directory; a lock
/// left by a killed run is taken over after ten minutes.
pub fn ensure_venv(package: &str) -> Result<PathBuf> {
    let dir_name = package
        .replace("[server]", "")
        .replace("==", "-")
        .replace(['[', ']'], "");
    let venvs = target_dir().join("venvs");
    std::fs::create_dir_all(&venvs)?;
    let venv = venvs.join(&dir_name);
    let ready = venv.join(".clawhooks-ready");
    let lock = venvs.join(format!("{dir_name}.lock"));
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if ready.exists() {
            return Ok(venv);
        }
        match std::fs::create_dir(&lock) {
            Ok(()) => {
                let made = make_venv(&venv, package);
                let _ = std::fs::remove_dir(&lock);
                made?;
                std::fs::write(&ready, package)?;
                return Ok(venv);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(600))
                    .unwrap_or(false);
                if stale {
                    let _ = std::fs::remove_dir(&lock);
                }
                if Instant::now() > deadline {
                    bail!("waited 10 minutes for another run to install {package}");
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e).context("lock the venv directory"),
        }
    }
}

fn make_venv(venv: &Path, package: &str) -> Result<()> {
    let _ = std::fs::remove_dir_all(venv);
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .context("python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv {} failed: {status}", venv.display());
    }
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", package])
        .output()
        .context("pip install")?;
    if !out.status.success() {
        bail!(
            "pip install {package} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A bare HTTP/1.0 GET: whether it answers 200 within a second.
fn http_get_ok(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// A binary of this workspace (debug), built with the workspace's features
/// so the build is shared with `cargo build --workspace`: building one
/// package alone would compile the library again with other features.
/// Built once per test binary; a no-op when everything is fresh.
/// The features the test binaries are built with (scripts/test.sh passes the same).
pub const TEST_FEATURES: &str = "clawhooks-local/aws,clawhooks-local/failpoints";

pub fn workspace_binary(bin: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let out = Command::new(cargo)
                // With the AWS backend and the fail points compiled in (the
                // latter unarmed unless a test sets FAILPOINTS), as
                // scripts/test.sh builds. `--tests` brings the dev-dependencies'
                // features in, as `cargo test` does, so this build and the
                // test build share every artifact instead of rebuilding
                // each other's.
                .args([
                    "build",
                    "--quiet",
                    "--workspace",
                    "--bins",
                    "--tests",
                    "--features",
                    TEST_FEATURES,
                ])
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
                .output()
                .map_err(|e| format!("cargo build: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "cargo build --workspace --bins --tests --features {TEST_FEATURES} failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)?;
    Ok(target_dir().join("debug").join(bin))
}

/// The process listening on 127.0.0.1:`port`: the socket's inode from
/// /proc/net/tcp, then the process holding a descriptor of that socket.
fn listener_pid(port: u16) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = tcp.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        // State 0A: listening.
        (local_port == port && f.get(3) == Some(&"0A")).then(|| f.get(9).map(|s| s.to_string()))?
    })?;
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|proc_dir| {
            let pid: u32 = proc_dir.file_name().to_str()?.parse().ok()?;
            let fds = std::fs::read_dir(proc_dir.path().join("fd")).ok()?;
            fds.flatten()
                .any(|fd| {
                    std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == wanted)
                })
                .then_some(pid)
        })
}
