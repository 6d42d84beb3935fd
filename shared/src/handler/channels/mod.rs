//! Sending one message through a channel of `webhooks.channels`: the kinds
//! themselves (their config, request and answer) live in
//! [`crate::channels`]; this is the one place their requests go out, with
//! the failure rules every outbound call shares (status codes,
//! `Retry-After`, timeouts).

pub mod place;
pub mod split;

use super::failure::{send_checked, ActionError};
pub use crate::channels::Post;
use crate::channels::{Channel, Dispatch, Refusal};
use crate::ports::{Clock, HttpSender};

/// Posts one message and returns its id, if the service gives one.
pub async fn post(
    http: &dyn HttpSender,
    clock: &dyn Clock,
    cfg: &Channel,
    post: &Post<'_>,
) -> Result<Option<String>, ActionError> {
    let kind = cfg.kind();
    let req = match kind.send(post).map_err(refused)? {
        Dispatch::Done(id) => return Ok(id),
        Dispatch::Request(req) => req,
    };
    let what = format!("{} channel {:?}", cfg.kind_name(), post.channel);
    let resp = send_checked(http, clock, "channel", &what, req).await?;
    kind.message_id(&resp).map_err(refused)
}

fn refused(r: Refusal) -> ActionError {
    match r {
        Refusal::Permanent(m) => ActionError::permanent("channel", m),
        Refusal::Transient(m) => ActionError::transient("channel", m),
    }
}
