//! A coalescing handler on Lambda folds what one SQS batch holds. When a
//! turn fails after its agent answered, SQS may hand its hooks back in
//! other batches: the head then answers with the kept reply, and each hook
//! it folded resolves through the turn its progress names, so none is lost
//! and the agent is not asked twice. The handler stage on an embedded
//! backend, its messages handed to `lambda::handle_sqs_event` as the SQS
//! records of separate invocations, with an OpenAI-compatible agent and a
//! chat stand-in on 127.0.0.1.

mod handler_support;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use clawhooks::lambda::handle_sqs_event;
use clawhooks::ports::Received;
use clawhooks::worker::{Route, StageKind};
use clawhooks_e2e::{Recorder, Reply};
use handler_support::*;
use serde_json::json;
use std::time::Duration;

fn config(model: &Recorder, chat: &Recorder) -> String {
    json!({"webhooks": {
        "handlers": [{"id": "alerts", "action": "run_agent", "agentId": "bot",
                      "sessionMode": "persistent", "sessionKey": "ops",
                      "template": "alert {{name}} fired",
                      "target": {"channel": "chat", "peer": "ops"},
                      "coalesce": {"window": "2s", "max": 10}}],
        "agents": {"bot": {"type": "openai", "url": model.url("/v1"), "model": "m"}},
        "channels": {"chat": {"type": "webhook", "url": chat.url("/in")}}
    }})
    .to_string()
}

/// The session's messages visible now, in order, as one SQS batch of its
/// group would hold them (the embedded queue hands out a group's head,
/// then what follows it).
async fn visible(h: &Harness) -> Vec<Received> {
    let q = h.backend.handler_queue.as_ref();
    let hide = Duration::from_secs(30);
    let mut msgs = q.receive(10, hide, Duration::ZERO).await.unwrap();
    if let Some(head) = msgs.first().cloned() {
        msgs.extend(q.receive_following(&head, 9, hide).await.unwrap());
    }
    msgs
}

/// One Lambda invocation with `msgs` as its records; the records it does
/// not report failed are deleted, as the event source mapping does.
async fn invoke(h: &Harness, routes: &[Route], msgs: &[&Received]) -> SqsBatchResponse {
    let queue = h.backend.handler_queue.name();
    let records: Vec<_> = msgs
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id, "receiptHandle": m.receipt, "body": m.body,
                "attributes": {"ApproximateReceiveCount": m.receive_count.to_string(),
                               "MessageGroupId": m.group.clone().unwrap_or_default()},
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
            })
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(json!({"Records": records})).unwrap();
    let response = handle_sqs_event(routes, event).await;
    for m in msgs {
        let failed = response
            .batch_item_failures
            .iter()
            .any(|f| f.item_identifier == m.message_id);
        if !failed {
            h.backend.handler_queue.delete(&m.receipt).await.unwrap();
        }
    }
    response
}

#[tokio::test]
async fn a_turn_split_across_batches_answers_each_hook_once() {
    let model = Recorder::start_with(Reply::json(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": "all looked at"}}]}),
    ))
    .await;
    let chat = Recorder::start().await;
    chat.script([Reply::status(503)]);
    let h = Harness::new(&config(&model, &chat));
    let routes = StageKind::Handler.routes(&h.backend, h.stage.clone());
    let mut ids = Vec::new();
    for name in ["a0", "a1", "a2"] {
        let body = json!({"name": name}).to_string();
        ids.push(h.post("alerts", &[], &body).await.event_id());
    }
    h.clock.advance(chrono::Duration::seconds(3));

    // One batch: a0 folds a1 and a2, the agent answers, the chat fails.
    let first = visible(&h).await;
    assert_eq!(first.len(), 3);
    let failed = invoke(&h, &routes, &[&first[0], &first[1], &first[2]]).await;
    assert_eq!(
        failed.batch_item_failures.len(),
        3,
        "the group goes back whole"
    );
    assert_eq!((model.count(), chat.count()), (1, 1));
    let prompt = model.requests()[0].json()["messages"].to_string();
    assert!(
        ["a0", "a1", "a2"].iter().all(|a| prompt.contains(a)),
        "{prompt}"
    );

    // Back in two batches: the head alone, then the hooks it folded.
    h.clock.advance(chrono::Duration::seconds(120));
    let again = visible(&h).await;
    assert_eq!(again.len(), 3);
    let head = invoke(&h, &routes, &[&again[0]]).await;
    assert!(head.batch_item_failures.is_empty(), "{head:?}");
    let rest = invoke(&h, &routes, &[&again[1], &again[2]]).await;
    assert!(rest.batch_item_failures.is_empty(), "{rest:?}");

    assert_eq!(model.count(), 1, "the agent is asked once");
    assert_eq!(chat.count(), 2, "one failed post, one answer");
    assert_eq!(chat.requests()[1].json()["text"], "all looked at");
    for id in &ids {
        let status = h.status(id).await;
        assert_eq!(status["status"], "done", "{status}");
        assert_eq!(status["result"]["turn"], ids[0].as_str(), "{status}");
    }
    assert!(visible(&h).await.is_empty(), "every hook was deleted");
    let received = h.events().await;
    let turns = of_kind(&received, "message_received");
    assert_eq!(turns.len(), 3, "each hook joined the session once");
}
