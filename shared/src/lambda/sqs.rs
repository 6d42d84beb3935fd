//! SQS-triggered functions (the handler and egress): the records of one
//! invocation go to a [`Stage`](crate::worker::Stage); the answer is an [`SqsBatchResponse`]
//! naming only the records to try again, so one bad record never sends its
//! batch-mates back (the event source mapping must have
//! `ReportBatchItemFailures`, as `infra/template.yaml` sets). Feature
//! `lambda-sqs`, which ingress leaves out.

use super::{lambda_runtime, LambdaError};
use crate::ports::Received;
use crate::worker::{attempt_following, Backoff, Followers, Route, Settled};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A job the function runs when EventBridge's schedule invokes it (the
/// handler's idle-session sweep); its `Ok` value is the invocation's answer.
pub type Scheduled = Arc<
    dyn Fn() -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<serde_json::Value, String>> + Send>,
        > + Send
        + Sync,
>;

/// Runs an SQS-triggered function until the Lambda runtime stops it: each
/// invocation's records go to the route of the queue they came from
/// ([`crate::worker::StageKind::routes`] says which stage reads which). Any
/// other invocation (a scheduled EventBridge event) runs `scheduled`, if
/// the function has such a job.
pub async fn run_sqs(routes: Vec<Route>, scheduled: Option<Scheduled>) -> Result<(), LambdaError> {
    let routes = Arc::new(routes);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |ev: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let (routes, scheduled) = (routes.clone(), scheduled.clone());
            async move {
                let answer = dispatch(&routes, scheduled.as_ref(), ev.payload).await;
                crate::telemetry::emf::flush();
                answer
            }
        },
    ))
    .await
}

/// One invocation: an SQS batch (it has `Records`) or a scheduled run.
pub async fn dispatch(
    routes: &[Route],
    scheduled: Option<&Scheduled>,
    payload: serde_json::Value,
) -> Result<serde_json::Value, LambdaError> {
    if payload.get("Records").is_some_and(|r| r.is_array()) {
        let event: SqsEvent = serde_json::from_value(payload)?;
        let res = handle_sqs_event(routes, event).await;
        return Ok(serde_json::to_value(res)?);
    }
    match scheduled {
        Some(job) => Ok(job().await?),
        None => Err("this function takes SQS events only".into()),
    }
}

/// Processes one SQS event and says which records failed.
///
/// Records of one FIFO message group are processed in order, one after
/// another; once one fails, the group's later records in the batch are not
/// processed and are reported failed too, so SQS hands the group back in its
/// original order. Different groups (and records of standard queues) run
/// concurrently.
pub async fn handle_sqs_event(routes: &[Route], event: SqsEvent) -> SqsBatchResponse {
    let mut sources: HashMap<String, String> = HashMap::new();
    let mut msgs = Vec::with_capacity(event.records.len());
    for rec in &event.records {
        let msg = received(rec);
        let source = rec
            .event_source_arn
            .as_deref()
            .and_then(|arn| arn.rsplit(':').next())
            .unwrap_or_default();
        sources.insert(msg.message_id.clone(), source.to_string());
        msgs.push(msg);
    }
    let sources = Arc::new(sources);

    let mut tasks = tokio::task::JoinSet::new();
    for chain in crate::worker::by_group(msgs) {
        let (routes, sources) = (routes.to_vec(), sources.clone());
        tasks.spawn(async move { work_chain(&routes, &sources, chain).await });
    }

    let mut failed: Vec<String> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(ids) => failed.extend(ids),
            Err(e) => {
                // Which records the panicking task held is unknown here:
                // report the whole batch, so nothing is lost (at-least-once).
                tracing::error!(error = %e, "stage task panicked; the whole batch will be retried");
                failed = sources.keys().cloned().collect();
                break;
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    for id in failed {
        let mut f = BatchItemFailure::default();
        f.item_identifier = id;
        response.batch_item_failures.push(f);
    }
    response
}

/// One group's records in order: the ids of those that failed. A record a
/// stage folded into an earlier one's work is done with it; after a
/// failure the rest of the group goes back.
async fn work_chain(
    routes: &[Route],
    sources: &HashMap<String, String>,
    chain: Vec<Received>,
) -> Vec<String> {
    let mut failed = Vec::new();
    let mut broken = false;
    let mut folded = std::collections::HashSet::new();
    for (i, msg) in chain.iter().enumerate() {
        let source = sources.get(&msg.message_id).map_or("", String::as_str);
        if broken {
            release(routes, source, msg).await;
            failed.push(msg.message_id.clone());
            continue;
        }
        if folded.contains(&msg.message_id) {
            continue;
        }
        let followers = Followers::batch(msg, &chain[i + 1..]);
        if process_record(routes, source, msg, &followers).await {
            folded.extend(followers.taken().into_iter().map(|m| m.message_id));
        } else {
            broken = true;
            failed.push(msg.message_id.clone());
        }
    }
    failed
}

/// `true` when the record is done (Lambda deletes it). The retry delay of
/// a failed record doubles with each receive ([`Backoff::Doubling`]).
async fn process_record(
    routes: &[Route],
    source: &str,
    msg: &Received,
    followers: &Followers<'_>,
) -> bool {
    let Some(route) = routes.iter().find(|r| r.queue.name() == source) else {
        // Not ours to process: leave it for redrive rather than drop it.
        tracing::error!(source, message_id = %msg.message_id, "record from a queue this function has no route for");
        return false;
    };
    let (queue, stage) = (route.queue.as_ref(), route.stage.as_ref());
    let backoff = Backoff::Doubling;
    attempt_following(queue, stage, msg, followers, backoff, None).await == Settled::Ack
}

/// A record held back behind a failed one of its FIFO group goes back at
/// once: while it stays in flight SQS hands out nothing of its group, so it
/// would hold up even the failed record's retry until its own visibility
/// timeout ran out.
async fn release(routes: &[Route], source: &str, msg: &Received) {
    let Some(route) = routes.iter().find(|r| r.queue.name() == source) else {
        return;
    };
    if let Err(e) = route
        .queue
        .change_visibility(&msg.receipt, std::time::Duration::ZERO)
        .await
    {
        tracing::warn!(stage = route.stage.name(), message_id = %msg.message_id, error = %e, "could not release a held-back record");
    }
}

/// An SQS record as the stages see messages from any queue.
pub fn received(rec: &SqsMessage) -> Received {
    Received {
        message_id: rec.message_id.clone().unwrap_or_default(),
        receipt: rec.receipt_handle.clone().unwrap_or_default(),
        body: rec.body.clone().unwrap_or_default(),
        receive_count: rec
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        group: rec.attributes.get("MessageGroupId").cloned(),
        attributes: rec
            .message_attributes
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.string_value.clone()?)))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{NewMessage, Queue, QueueError};
    use crate::worker::{Stage, StageError};
    use async_trait::async_trait;
    use std::sync::Mutex;
    use std::time::Duration;

    /// A stage that fails the bodies it is told to, and records what it saw.
    struct Picky {
        fail: Vec<&'static str>,
        seen: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Stage for Picky {
        fn name(&self) -> &'static str {
            "picky"
        }
        async fn process(&self, msg: &Received) -> Result<(), StageError> {
            self.seen.lock().unwrap().push(msg.body.clone());
            if self.fail.contains(&msg.body.as_str()) {
                Err(StageError::retry("told to"))
            } else {
                Ok(())
            }
        }
        /// A body `fold…` takes the next record of its group into its work.
        async fn process_following(
            &self,
            msg: &Received,
            followers: &crate::worker::Followers<'_>,
        ) -> Result<(), StageError> {
            if msg.body.starts_with("fold") {
                followers.take(1, Duration::from_secs(60)).await;
            }
            self.process(msg).await
        }
    }

    /// Only a name: the SQS glue never sends or receives itself.
    struct Named(&'static str, Mutex<Vec<(String, Duration)>>);

    #[async_trait]
    impl Queue for Named {
        fn name(&self) -> &str {
            self.0
        }
        async fn send(&self, _: NewMessage) -> Result<String, QueueError> {
            unreachable!("the glue does not send")
        }
        async fn receive(
            &self,
            _: usize,
            _: Duration,
            _: Duration,
        ) -> Result<Vec<Received>, QueueError> {
            unreachable!("the glue does not receive")
        }
        async fn delete(&self, _: &str) -> Result<(), QueueError> {
            unreachable!("Lambda deletes, not the glue")
        }
        async fn peek(&self, _: usize) -> Result<Vec<Received>, QueueError> {
            unreachable!("the glue does not read queues")
        }
        async fn change_visibility(&self, r: &str, t: Duration) -> Result<(), QueueError> {
            self.1.lock().unwrap().push((r.to_string(), t));
            Ok(())
        }
        async fn approximate_len(&self) -> Result<usize, QueueError> {
            Ok(0)
        }
    }

    fn record(id: &str, body: &str, group: Option<&str>, queue: &str) -> serde_json::Value {
        let mut attributes = serde_json::json!({ "ApproximateReceiveCount": "2" });
        if let Some(g) = group {
            attributes["MessageGroupId"] = g.into();
        }
        serde_json::json!({
            "messageId": id, "receiptHandle": format!("r-{id}"), "body": body,
            "attributes": attributes,
            "messageAttributes": { "hookId": { "stringValue": "github", "dataType": "String" } },
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:us-east-1:111122223333:{queue}"),
            "awsRegion": "us-east-1"
        })
    }

    fn event(records: Vec<serde_json::Value>) -> SqsEvent {
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    fn failed(r: &SqsBatchResponse) -> Vec<String> {
        let mut ids: Vec<_> = r
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        ids.sort();
        ids
    }

    fn route(queue: &'static str, stage: Arc<Picky>) -> (Route, Arc<Named>) {
        let q = Arc::new(Named(queue, Mutex::new(Vec::new())));
        (
            Route {
                queue: q.clone(),
                stage,
            },
            q,
        )
    }

    #[tokio::test]
    async fn only_the_failed_records_are_reported() {
        let stage = Arc::new(Picky {
            fail: vec!["bad"],
            seen: Mutex::default(),
        });
        let (r, _) = route("q", stage.clone());
        let res = handle_sqs_event(
            &[r],
            event(vec![
                record("1", "ok", None, "q"),
                record("2", "bad", None, "q"),
                record("3", "ok", None, "q"),
            ]),
        )
        .await;
        assert_eq!(failed(&res), vec!["2"]);
        assert_eq!(stage.seen.lock().unwrap().len(), 3);
    }

    /// A record a stage folds into the one before it is done with it, not
    /// run again; when that one fails, it goes back with it. No window is
    /// waited for: the batch is what there is.
    #[tokio::test]
    async fn a_folded_record_is_settled_with_the_record_that_took_it() {
        let stage = Arc::new(Picky {
            fail: vec!["fold-b1"],
            seen: Mutex::default(),
        });
        let (r, queue) = route("q.fifo", stage.clone());
        let started = std::time::Instant::now();
        let res = handle_sqs_event(
            &[r],
            event(vec![
                record("a1", "fold-a1", Some("a"), "q.fifo"),
                record("a2", "a2", Some("a"), "q.fifo"),
                record("a3", "a3", Some("a"), "q.fifo"),
                record("b1", "fold-b1", Some("b"), "q.fifo"),
                record("b2", "b2", Some("b"), "q.fifo"),
            ]),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no window waited"
        );
        assert_eq!(failed(&res), vec!["b1", "b2"]);
        let mut seen = stage.seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, ["a3", "fold-a1", "fold-b1"], "a2 was folded into a1");
        let released: Vec<String> = (queue.1.lock().unwrap().iter())
            .filter(|(_, t)| t.is_zero())
            .map(|(r, _)| r.clone())
            .collect();
        assert_eq!(
            released,
            ["r-b2"],
            "the record folded into a failed one goes back"
        );
    }

    #[tokio::test]
    async fn a_failed_fifo_record_holds_back_the_rest_of_its_group_only() {
        let stage = Arc::new(Picky {
            fail: vec!["a2"],
            seen: Mutex::default(),
        });
        let (r, queue) = route("q.fifo", stage.clone());
        let res = handle_sqs_event(
            &[r],
            event(vec![
                record("1", "a1", Some("a"), "q.fifo"),
                record("2", "b1", Some("b"), "q.fifo"),
                record("3", "a2", Some("a"), "q.fifo"),
                record("4", "b2", Some("b"), "q.fifo"),
                record("5", "a3", Some("a"), "q.fifo"),
            ]),
        )
        .await;
        assert_eq!(failed(&res), vec!["3", "5"]);
        let seen = stage.seen.lock().unwrap().clone();
        assert!(
            !seen.contains(&"a3".to_string()),
            "a3 ran after a2 failed: {seen:?}"
        );
        let a: Vec<_> = seen.iter().filter(|b| b.starts_with('a')).collect();
        assert_eq!(a, vec!["a1", "a2"]);
        // The failed record waits its backoff (second receive: 10 s), not
        // the queue's long visibility timeout; the one held back behind it
        // goes back at once, so it does not block its group's retry.
        let mut changes = queue.1.lock().unwrap().clone();
        changes.sort();
        assert_eq!(
            changes,
            vec![
                ("r-3".to_string(), Duration::from_secs(10)),
                ("r-5".to_string(), Duration::ZERO)
            ]
        );
    }

    #[tokio::test]
    async fn records_go_to_the_route_of_their_queue_and_strangers_fail() {
        let events = Arc::new(Picky {
            fail: vec![],
            seen: Mutex::default(),
        });
        let deliveries = Arc::new(Picky {
            fail: vec![],
            seen: Mutex::default(),
        });
        let (r1, _) = route("p-events.fifo", events.clone());
        let (r2, _) = route("p-delivery", deliveries.clone());
        let res = handle_sqs_event(
            &[r1, r2],
            event(vec![
                record("1", "e", Some("s"), "p-events.fifo"),
                record("2", "d", None, "p-delivery"),
                record("3", "x", None, "elsewhere"),
            ]),
        )
        .await;
        assert_eq!(failed(&res), vec!["3"]);
        assert_eq!(*events.seen.lock().unwrap(), vec!["e"]);
        assert_eq!(*deliveries.seen.lock().unwrap(), vec!["d"]);
    }

    #[test]
    fn records_carry_receive_count_group_and_attributes() {
        let ev = event(vec![record("1", "b", Some("g"), "q.fifo")]);
        let msg = received(&ev.records[0]);
        assert_eq!(msg.receive_count, 2);
        assert_eq!(msg.group.as_deref(), Some("g"));
        assert_eq!(msg.receipt, "r-1");
        assert_eq!(
            msg.attributes.get("hookId").map(String::as_str),
            Some("github")
        );
    }

    #[tokio::test]
    async fn scheduled_invocations_run_the_job_and_batches_go_to_the_stage() {
        let stage = Arc::new(Picky {
            fail: vec!["bad"],
            seen: Mutex::default(),
        });
        let (r, _) = route("q", stage.clone());
        let job: Scheduled = Arc::new(|| Box::pin(async { Ok(serde_json::json!({ "swept": 2 })) }));
        let scheduled = serde_json::json!({
            "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}
        });
        let out = dispatch(std::slice::from_ref(&r), Some(&job), scheduled.clone())
            .await
            .unwrap();
        assert_eq!(out["swept"], 2);
        assert!(stage.seen.lock().unwrap().is_empty());
        assert!(dispatch(std::slice::from_ref(&r), None, scheduled)
            .await
            .is_err());

        let batch = serde_json::json!({ "Records": [record("1", "bad", None, "q")] });
        let out = dispatch(&[r], Some(&job), batch).await.unwrap();
        assert_eq!(out["batchItemFailures"][0]["itemIdentifier"], "1");
    }
}
