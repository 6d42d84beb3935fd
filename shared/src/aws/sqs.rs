//! [`Queue`] on Amazon SQS, standard or FIFO (told apart by the `.fifo`
//! suffix SQS itself requires).
//!
//! On a FIFO queue a message's group is its `MessageGroupId`, so one
//! session's messages are handed out one at a time, in order; its
//! deduplication id is the caller's (the event id) or a fresh one, so a
//! retried send of the same event is dropped by SQS within its 5-minute
//! window. Dead-lettering is the queue's redrive policy, set by
//! [`super::bootstrap`] or the SAM template, never code of ours.

use crate::ports::{NewMessage, Queue, QueueError, Received};
use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// SQS's historical message size limit (body plus attributes). AWS raised
/// it to 1 MiB in 2025; emulators and older regions still refuse more than
/// this, and an error from SQS names the actual limit when it differs.
pub const SQS_MAX_MESSAGE_BYTES: usize = 262_144;
/// Entries per batch call, SQS's limit.
const BATCH: usize = 10;
/// Longest visibility timeout SQS accepts: 12 hours.
const MAX_VISIBILITY_SECS: u64 = 12 * 3600;
/// Longest long-poll SQS accepts.
const MAX_WAIT_SECS: u64 = 20;
/// A peek's long poll: enough for SQS to ask all its servers.
const PEEK_WAIT: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    name: String,
    fifo: bool,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        let url = url.into();
        let name = url.rsplit('/').next().unwrap_or(&url).to_string();
        let fifo = name.ends_with(".fifo");
        SqsQueue {
            client,
            url,
            name,
            fifo,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    fn backend_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        op: &str,
        e: SdkError<E, R>,
    ) -> QueueError {
        QueueError::Backend {
            queue: self.name.clone(),
            message: format!("{op}: {}", DisplayErrorContext(&e)),
        }
    }

    /// Turns SQS's "message too long" refusals into [`QueueError::TooLarge`],
    /// so ingress can answer 413 rather than 503.
    fn send_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        op: &str,
        size: usize,
        e: SdkError<E, R>,
    ) -> QueueError {
        let code = e.code().unwrap_or_default();
        let message = e.message().unwrap_or_default();
        if is_size_refusal(code, message) {
            return QueueError::TooLarge {
                size,
                limit: limit_in(message).unwrap_or(SQS_MAX_MESSAGE_BYTES),
            };
        }
        self.backend_error(op, e)
    }

    fn check_delay(&self, msg: &NewMessage) -> Result<(), QueueError> {
        if self.fifo && !msg.delay.is_zero() {
            // SQS refuses per-message delays on FIFO queues; saying so here
            // beats an opaque InvalidParameterValue from the service.
            return Err(QueueError::Backend {
                queue: self.name.clone(),
                message: "FIFO queues take no per-message delay; use a standard queue".into(),
            });
        }
        Ok(())
    }

    fn group_and_dedup(&self, msg: &NewMessage) -> (Option<String>, Option<String>) {
        if !self.fifo {
            return (None, None);
        }
        // No group means no ordering asked for: a group of its own.
        let group = msg
            .group
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let dedup = match &msg.dedup_id {
            Some(id) => fifo_token(id),
            None => uuid::Uuid::new_v4().to_string(),
        };
        (Some(fifo_token(&group)), Some(dedup))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, msg: NewMessage) -> Result<String, QueueError> {
        self.check_delay(&msg)?;
        let size = message_size(&msg);
        let (group, dedup) = self.group_and_dedup(&msg);
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(msg.body)
            .set_delay_seconds(delay_seconds(msg.delay, self.fifo))
            .set_message_group_id(group)
            .set_message_deduplication_id(dedup)
            .set_message_attributes(attributes(&msg.attributes))
            .send()
            .await
            .map_err(|e| self.send_error("SendMessage", size, e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }

    async fn send_batch(&self, msgs: Vec<NewMessage>) -> Result<Vec<String>, QueueError> {
        let mut ids = Vec::with_capacity(msgs.len());
        for chunk in batches(msgs) {
            let mut entries = Vec::with_capacity(chunk.len());
            let mut size = 0;
            for (i, msg) in chunk.into_iter().enumerate() {
                self.check_delay(&msg)?;
                size += message_size(&msg);
                let (group, dedup) = self.group_and_dedup(&msg);
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(msg.body)
                    .set_delay_seconds(delay_seconds(msg.delay, self.fifo))
                    .set_message_group_id(group)
                    .set_message_deduplication_id(dedup)
                    .set_message_attributes(attributes(&msg.attributes))
                    .build()
                    .map_err(|e| QueueError::Backend {
                        queue: self.name.clone(),
                        message: e.to_string(),
                    })?;
                entries.push(entry);
            }
            let n = entries.len();
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| self.send_error("SendMessageBatch", size, e))?;
            if let Some(failed) = out.failed().first() {
                let message = failed.message().unwrap_or_default();
                if is_size_refusal(failed.code(), message) {
                    return Err(QueueError::TooLarge {
                        size,
                        limit: limit_in(message).unwrap_or(SQS_MAX_MESSAGE_BYTES),
                    });
                }
                return Err(QueueError::Backend {
                    queue: self.name.clone(),
                    message: format!(
                        "SendMessageBatch: {} of {n} entries failed, first: {} {message}",
                        out.failed().len(),
                        failed.code()
                    ),
                });
            }
            // Entries come back in any order; the ids say which is which.
            let mut chunk_ids = vec![String::new(); n];
            for ok in out.successful() {
                if let Ok(i) = ok.id().parse::<usize>() {
                    if let Some(slot) = chunk_ids.get_mut(i) {
                        *slot = ok.message_id().to_string();
                    }
                }
            }
            ids.extend(chunk_ids);
        }
        Ok(ids)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, BATCH) as i32)
            .visibility_timeout(ceil_secs(visibility).min(MAX_VISIBILITY_SECS) as i32)
            .wait_time_seconds(wait.as_secs().min(MAX_WAIT_SECS) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| self.backend_error("ReceiveMessage", e))?;
        Ok(out.messages().iter().map(received).collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| self.backend_error("DeleteMessage", e))?;
        Ok(())
    }

    async fn delete_batch(&self, receipts: &[String]) -> Result<(), QueueError> {
        for chunk in receipts.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .build()
                        .map_err(|e| QueueError::Backend {
                            queue: self.name.clone(),
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| self.backend_error("DeleteMessageBatch", e))?;
            if let Some(failed) = out.failed().first() {
                return Err(QueueError::Backend {
                    queue: self.name.clone(),
                    message: format!(
                        "DeleteMessageBatch: {} entries failed, first: {} {}",
                        out.failed().len(),
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                });
            }
        }
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(ceil_secs(timeout).min(MAX_VISIBILITY_SECS) as i32)
            .send()
            .await
            .map_err(|e| self.backend_error("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// SQS cannot read a message without receiving it, so this receives
    /// with a visibility timeout of zero: every message stays visible to
    /// other receivers (a concurrent replay takes them as if no listing
    /// ran), but SQS counts each of these receives in the message's
    /// `ApproximateReceiveCount`. Peek only queues without a redrive policy
    /// (dead-letter queues): on a queue with one, peeked messages reach
    /// `maxReceiveCount` and are moved to its dead-letter queue.
    ///
    /// Receives long-poll for a second, so SQS asks all its servers and
    /// not a sample. One receive returns at most ten messages; the loop
    /// asks again while a full batch brings something new, so a message is
    /// usually counted once per peek, but past ten messages SQS may hand
    /// back ones already seen and a listing may miss some.
    ///
    /// Refused on FIFO queues: there a receive, even with a zero timeout,
    /// can hold the message group (the emulators do), which would stall a
    /// session. The queues listings read (dead-letter queues of standard
    /// queues) are standard.
    async fn peek(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        if self.fifo {
            return Err(QueueError::Unsupported(
                "it is an SQS FIFO queue, which cannot be listed without receiving its messages (a receive holds their message group); read it with the SQS console or `aws sqs receive-message`".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        while out.len() < max {
            let got = self.receive(BATCH, Duration::ZERO, PEEK_WAIT).await?;
            let (full, before) = (got.len() == BATCH, out.len());
            for mut m in got {
                if out.len() < max && seen.insert(m.message_id.clone()) {
                    m.receipt.clear();
                    out.push(m);
                }
            }
            if !full || out.len() == before {
                break;
            }
        }
        Ok(out)
    }

    async fn approximate_len(&self) -> Result<usize, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| self.backend_error("GetQueueAttributes", e))?;
        Ok(out
            .attributes()
            .map(|a| {
                a.values()
                    .filter_map(|v| v.parse::<usize>().ok())
                    .sum::<usize>()
            })
            .unwrap_or(0))
    }
}

fn received(m: &aws_sdk_sqs::types::Message) -> Received {
    let system = m.attributes();
    let sys = |k: MessageSystemAttributeName| system.and_then(|a| a.get(&k)).cloned();
    Received {
        message_id: m.message_id().unwrap_or_default().to_string(),
        receipt: m.receipt_handle().unwrap_or_default().to_string(),
        body: m.body().unwrap_or_default().to_string(),
        receive_count: sys(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        group: sys(MessageSystemAttributeName::MessageGroupId),
        attributes: m
            .message_attributes()
            .map(|a| {
                a.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn attributes(attrs: &BTreeMap<String, String>) -> Option<HashMap<String, MessageAttributeValue>> {
    if attrs.is_empty() {
        return None;
    }
    Some(
        attrs
            .iter()
            .filter_map(|(k, v)| {
                let value = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(v)
                    .build()
                    .ok()?;
                Some((k.clone(), value))
            })
            .collect(),
    )
}

/// The size SQS counts: body, plus each attribute's name, type and value.
fn message_size(msg: &NewMessage) -> usize {
    msg.body.len()
        + msg
            .attributes
            .iter()
            .map(|(k, v)| k.len() + "String".len() + v.len())
            .sum::<usize>()
}

/// Splits messages into SQS batches: at most ten entries and at most one
/// message-size limit of payload per call.
fn batches(msgs: Vec<NewMessage>) -> Vec<Vec<NewMessage>> {
    let mut out: Vec<Vec<NewMessage>> = Vec::new();
    let mut size = 0;
    for m in msgs {
        let s = message_size(&m);
        match out.last_mut() {
            Some(last) if last.len() < BATCH && size + s <= SQS_MAX_MESSAGE_BYTES => {
                size += s;
                last.push(m);
            }
            _ => {
                size = s;
                out.push(vec![m]);
            }
        }
    }
    out
}

fn delay_seconds(delay: Duration, fifo: bool) -> Option<i32> {
    if fifo || delay.is_zero() {
        return None;
    }
    Some(ceil_secs(delay.min(crate::ports::queue::MAX_DELAY)) as i32)
}

/// Whole seconds, rounded up so a delay is never cut short.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A group or deduplication id SQS accepts: at most 128 characters from
/// `[A-Za-z0-9!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~]`. Session keys and event ids
/// usually are; anything else is replaced by its SHA-256, which keeps equal
/// keys equal (the same group, the same dedup id) and distinct keys distinct.
fn fifo_token(s: &str) -> String {
    let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        return s.to_string();
    }
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_size_refusal(code: &str, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    matches!(
        code,
        "MessageTooLong" | "BatchRequestTooLong" | "AWS.SimpleQueueService.BatchRequestTooLong"
    ) || m.contains("shorter than")
        || m.contains("too long")
}

/// "Message must be shorter than 262144 bytes." → 262144.
fn limit_in(message: &str) -> Option<usize> {
    message
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|d| d.parse::<usize>().ok())
        .find(|n| *n >= 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_tokens_keep_valid_ids_and_hash_the_rest() {
        assert_eq!(fifo_token("hook:1234-abcd"), "hook:1234-abcd");
        let spaced = fifo_token("session with spaces");
        assert_eq!(spaced.len(), 64);
        assert_eq!(spaced, fifo_token("session with spaces"));
        assert_ne!(spaced, fifo_token("session with spaces!"));
        assert_eq!(fifo_token(&"x".repeat(200)).len(), 64);
        assert_eq!(fifo_token("é").len(), 64);
    }

    #[test]
    fn batches_respect_count_and_size() {
        let small: Vec<_> = (0..23).map(|i| NewMessage::new(format!("m{i}"))).collect();
        let sizes: Vec<_> = batches(small).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 3]);
        let big: Vec<_> = (0..3)
            .map(|_| NewMessage::new("x".repeat(SQS_MAX_MESSAGE_BYTES / 2)))
            .collect();
        let sizes: Vec<_> = batches(big).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 1]);
    }

    #[test]
    fn delays_round_up_and_fifo_queues_take_none() {
        assert_eq!(delay_seconds(Duration::from_millis(1500), false), Some(2));
        assert_eq!(delay_seconds(Duration::ZERO, false), None);
        assert_eq!(delay_seconds(Duration::from_secs(5), true), None);
        assert_eq!(delay_seconds(Duration::from_secs(3600), false), Some(900));
    }

    #[test]
    fn size_refusals_are_recognised_with_their_limit() {
        let m = "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.";
        assert!(is_size_refusal("InvalidParameterValue", m));
        assert_eq!(limit_in(m), Some(262_144));
        assert!(!is_size_refusal("AccessDenied", "not allowed"));
    }
}
