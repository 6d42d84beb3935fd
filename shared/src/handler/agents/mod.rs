//! Running an agent of `webhooks.agents`: the providers themselves (their
//! config, request and answer) live in [`crate::agents`]; this is the one
//! place their requests go out, with the failure rules every outbound call
//! shares (status codes, `Retry-After`, timeouts).

use super::failure::{body_excerpt, send_checked, ActionError};
use crate::agents::{Agent, Call, Reply, Unreadable};
use crate::ports::{Clock, HttpSender};

pub async fn run(
    http: &dyn HttpSender,
    clock: &dyn Clock,
    cfg: &Agent,
    call: &Call<'_>,
) -> Result<Reply, ActionError> {
    let provider = cfg.provider();
    let what = format!("agent {:?}", call.agent_id);
    let resp = send_checked(http, clock, "agent", &what, provider.request(call)).await?;
    provider.reply(&resp).map_err(|u| unreadable(u, &resp.body))
}

fn unreadable(u: Unreadable, body: &[u8]) -> ActionError {
    let message = match u.quote_body {
        true => format!("{}: {}", u.message, body_excerpt(body)),
        false => u.message,
    };
    ActionError::permanent("agent", message)
}
