//! Waiting for asynchronous work in tests: poll the very condition a test
//! then asserts, until it holds or a deadline passes, and on the deadline
//! say what was last seen. A fixed sleep, or a wait on some other signal,
//! passes on an idle machine and fails on a loaded one.

use std::future::Future;
use std::time::{Duration, Instant};

/// Long enough for a 2-core machine that is also compiling, syncing a
/// disk and running other suites: a healthy run settles in well under a
/// second, so this only bounds how long a broken one takes to fail.
pub const SETTLE: Duration = Duration::from_secs(60);

/// How often [`until`] looks again.
const EVERY: Duration = Duration::from_millis(50);

/// Polls `probe` until it answers `Ok`, and returns that value. `probe`
/// answers `Err(what it saw)` while the condition does not hold yet; past
/// `deadline` the test panics with `what` and the last of those answers.
pub async fn until<T, F, Fut>(what: &str, deadline: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let end = Instant::now() + deadline;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= end => {
                panic!("{what}: not so after {deadline:?}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(EVERY).await,
        }
    }
}

/// [`until`] for a probe that runs no async code.
pub async fn until_sync<T>(
    what: &str,
    deadline: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    until(what, deadline, || std::future::ready(probe())).await
}
