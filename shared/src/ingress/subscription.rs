//! `GET /webhook/<hook-id>`: Meta's subscription check (WhatsApp,
//! Instagram, Messenger), the one handshake that comes as a GET, with no
//! body and no signature: the verify token is its authentication. A wrong
//! token counts as a failed authentication, like a wrong secret.

use super::handshake::{self, NotVerified, Reply};
use super::{check_handler, check_hook_id, parse_query, Hook, Ingress};
use crate::refusal::Refusal;

impl Ingress {
    /// The challenge for a subscription check carrying the handler's
    /// `verify.verifyToken`; 403 for any other token, or none configured
    /// (alike, so a prober cannot tell which hooks have one).
    pub async fn subscription(&self, hook_id: &str, req: Hook) -> Result<Reply, Refusal> {
        check_hook_id(hook_id)?;
        let inc = &self.config.config.webhooks.incoming;
        if !inc.enabled {
            return Err(Refusal::NotFound("incoming webhooks are disabled".into()));
        }
        let source = self.allowed_source(hook_id, &req)?;
        let handler = self.config.handler_for(hook_id);
        check_handler(hook_id, handler, inc.reject_unknown_hooks)?;
        let query = parse_query(req.query.as_deref());
        let verify = handler.and_then(|h| h.verify.as_ref());
        match handshake::subscription(verify, &query) {
            Ok(reply) => {
                tracing::info!(%source, hook_id, provider = reply.provider, "handshake answered");
                Ok(reply)
            }
            Err(NotVerified::Malformed(why)) => Err(Refusal::BadRequest(format!(
                "GET on a hook is a subscription check: {why}"
            ))),
            Err(NotVerified::WrongToken) => {
                tracing::warn!(%source, hook_id, "refused: subscription check with a wrong verify token");
                let refusal = Refusal::Forbidden(
                    "the hub.verify_token is not this hook's verify.verifyToken".into(),
                );
                let now = self.clock.now().timestamp();
                Err(self.failed(source, now, refusal).await)
            }
        }
    }
}
