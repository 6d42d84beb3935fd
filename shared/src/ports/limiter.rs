//! The limiter port: counts hits per key against a fixed-window rule. The
//! rule's arithmetic lives in `limits`; the counters live in memory or in
//! the store, behind this trait.

use super::StoreError;
use async_trait::async_trait;

/// At most `limit` hits per `window_secs`-second window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindow {
    pub limit: u32,
    pub window_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; `remaining` more hits fit in this window.
    Allow { remaining: u32 },
    /// Refuse (429); the window ends in `retry_after_secs` (at least 1).
    Deny { retry_after_secs: u64 },
}

impl Decision {
    pub fn allowed(self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// Counts hits per key. `hit` counts the hit when it is allowed (refused
/// hits are not counted, so a flood does not extend its own ban); `peek`
/// says what a hit would get without counting it (check before the work,
/// count only failures, as the auth-failure limit does).
#[async_trait]
pub trait Limiter: Send + Sync {
    async fn hit(&self, key: &str, rule: FixedWindow, now: i64) -> Result<Decision, StoreError>;
    async fn peek(&self, key: &str, rule: FixedWindow, now: i64) -> Result<Decision, StoreError>;
}
