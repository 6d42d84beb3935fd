//! Wire formats several stages share. Kept apart from the stages so that
//! ingress, the handler and egress can all use them without depending on
//! one another; nothing here imports anything else of ours.

pub mod retry_after;
pub mod signature;
pub mod standard_webhooks;
