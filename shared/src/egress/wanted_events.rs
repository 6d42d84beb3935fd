//! The events queue as the stages that emit see it: a lifecycle event no
//! outgoing subscription takes is not queued at all. Egress would receive
//! it, match nothing and delete it, three queue operations and a fan-out
//! for nothing; with one subscription to `message_received`, that was two
//! of a hook's three events.

use crate::config::Outgoing;
use crate::event::TYPE_ATTRIBUTE;
use crate::ports::{Backend, NewMessage, PeekPage, Queue, QueueError, Received};
use async_trait::async_trait;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// `backend` with its events queue behind [`WantedEvents`]: what the
/// handler and egress emit. Consumers read the same queue either way.
pub fn only_wanted(mut backend: Backend, subscriptions: &[Outgoing]) -> Backend {
    backend.events_queue = WantedEvents::around(backend.events_queue, subscriptions);
    backend
}

pub struct WantedEvents {
    inner: Arc<dyn Queue>,
    wanted: BTreeSet<&'static str>,
}

impl WantedEvents {
    /// `queue` behind a filter for the event types `subscriptions` take,
    /// or `queue` itself when an enabled subscription takes every type.
    pub fn around(queue: Arc<dyn Queue>, subscriptions: &[Outgoing]) -> Arc<dyn Queue> {
        let enabled: Vec<&Outgoing> = subscriptions.iter().filter(|s| s.enabled).collect();
        if enabled.iter().any(|s| s.events.is_empty()) {
            return queue;
        }
        let wanted = enabled
            .iter()
            .flat_map(|s| s.events.iter().map(|e| e.as_str()))
            .collect();
        Arc::new(WantedEvents {
            inner: queue,
            wanted,
        })
    }

    /// A message without a type is not a lifecycle event: it goes through.
    fn wants(&self, msg: &NewMessage) -> bool {
        msg.attributes
            .get(TYPE_ATTRIBUTE)
            .is_none_or(|t| self.wanted.contains(t.as_str()))
    }
}

#[async_trait]
impl Queue for WantedEvents {
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// An unwanted event is dropped and answers an empty message id.
    async fn send(&self, msg: NewMessage) -> Result<String, QueueError> {
        match self.wants(&msg) {
            true => self.inner.send(msg).await,
            false => Ok(String::new()),
        }
    }

    async fn send_batch(&self, msgs: Vec<NewMessage>) -> Result<Vec<String>, QueueError> {
        let wanted: Vec<NewMessage> = msgs.into_iter().filter(|m| self.wants(m)).collect();
        match wanted.is_empty() {
            true => Ok(Vec::new()),
            false => self.inner.send_batch(wanted).await,
        }
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        self.inner.receive(max, visibility, wait).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt).await
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError> {
        self.inner.delete_batch(receipts).await
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.inner.change_visibility(receipt, timeout).await
    }

    async fn peek(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        self.inner.peek(max).await
    }

    async fn peek_page(&self, cursor: Option<&str>, max: usize) -> Result<PeekPage, QueueError> {
        self.inner.peek_page(cursor, max).await
    }

    async fn approximate_len(&self) -> Result<usize, QueueError> {
        self.inner.approximate_len().await
    }

    async fn oldest_age(&self) -> Result<Option<Duration>, QueueError> {
        self.inner.oldest_age().await
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::embedded::{Embedded, QueueOptions};

    fn subscriptions(json: serde_json::Value) -> Vec<Outgoing> {
        let cfg = serde_json::json!({"webhooks": {"outgoing": json}});
        crate::config::load_str(&cfg.to_string(), &|_| None)
            .unwrap()
            .config
            .webhooks
            .outgoing
    }

    fn event(kind: &str) -> NewMessage {
        NewMessage::new("{}").attribute(TYPE_ATTRIBUTE, kind)
    }

    #[tokio::test]
    async fn only_the_types_an_enabled_subscription_takes_are_queued() {
        let db = Embedded::memory().unwrap();
        let inner: Arc<dyn Queue> = Arc::new(db.queue("events", QueueOptions::default()));
        let subs = subscriptions(serde_json::json!([
            {"id": "a", "url": "http://127.0.0.1:9/a", "events": ["message_received"]},
            {"id": "b", "url": "http://127.0.0.1:9/b", "events": ["agent_response"], "enabled": false}
        ]));
        let q = WantedEvents::around(inner.clone(), &subs);
        q.send(event("message_received")).await.unwrap();
        q.send(event("agent_response")).await.unwrap();
        q.send_batch(vec![event("session_ended"), event("message_received")])
            .await
            .unwrap();
        q.send(NewMessage::new("untyped")).await.unwrap();
        assert_eq!(inner.approximate_len().await.unwrap(), 3);
        let kinds: Vec<Option<String>> = inner
            .peek(10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.attributes.get(TYPE_ATTRIBUTE).cloned())
            .collect();
        assert_eq!(
            kinds,
            vec![
                Some("message_received".into()),
                Some("message_received".into()),
                None
            ]
        );
    }

    #[tokio::test]
    async fn a_subscription_to_every_type_keeps_the_queue_as_it_is() {
        let db = Embedded::memory().unwrap();
        let inner: Arc<dyn Queue> = Arc::new(db.queue("events", QueueOptions::default()));
        let all = subscriptions(serde_json::json!([{"id": "a", "url": "http://127.0.0.1:9/a"}]));
        assert!(Arc::ptr_eq(
            &WantedEvents::around(inner.clone(), &all),
            &inner
        ));
        let none = WantedEvents::around(inner.clone(), &[]);
        none.send(event("message_received")).await.unwrap();
        assert_eq!(
            inner.approximate_len().await.unwrap(),
            0,
            "no subscription, no event"
        );
    }
}
