//! Wire formats several stages share. Kept apart from the stages so that
//! ingress, the handler and egress can all use them without depending on
//! one another.

pub mod standard_webhooks;
