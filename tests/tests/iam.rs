//! The SQS permissions of each function in `infra/template.yaml` are what
//! its code calls, and no more: a call the role does not allow fails only
//! once deployed (emulators do not enforce IAM), and a grant no code uses
//! widens what a leaked credential can do.
//!
//! The calls are listed by hand from the code (`shared/src/aws/sqs.rs` is
//! the only SQS caller; which queues each function touches is in the
//! stages); the grants are read from the template's policies and event
//! source mappings. Batch variants (`SendMessageBatch`, ...) count as their
//! single form, as the SAM policy templates grant them together.

use std::collections::BTreeSet;

type Grants = BTreeSet<(String, String)>;

/// What each function's code calls: (SQS action, queue's logical id).
fn calls(function: &str) -> Grants {
    let mapping = |q: &str| {
        // The event source mapping receives and deletes for the function.
        ["ReceiveMessage", "DeleteMessage", "GetQueueAttributes"].map(|a| (a, q.to_string()))
    };
    let send = |q: &str| [("SendMessage", q.to_string())];
    let mut v: Vec<(&str, String)> = Vec::new();
    match function {
        "IngressFunction" => {
            v.extend(send("HandlerQueue")); // accepting a hook
            v.extend(send("EventsQueue")); // DELETE /sessions: session_ended
            v.extend(send("DeliveryQueue")); // POST /dlq/replay
                                             // GET /dlq peeks, replay receives, deletes, releases and counts.
            for a in [
                "ReceiveMessage",
                "DeleteMessage",
                "ChangeMessageVisibility",
                "GetQueueAttributes",
            ] {
                v.push((a, "DeliveryDeadLetterQueue".into()));
                // POST /dlq/handler/replay, the same pass on the handler's.
                v.push((a, "HandlerDeadLetterQueue".into()));
            }
        }
        "HandlerFunction" => {
            v.extend(mapping("HandlerQueue"));
            v.push(("ChangeMessageVisibility", "HandlerQueue".into())); // retry backoff
            v.extend(send("EventsQueue"));
            v.extend(send("HandlerDeadLetterQueue")); // hooks that do not parse
        }
        "EgressFunction" => {
            v.extend(mapping("EventsQueue"));
            v.extend(mapping("DeliveryQueue"));
            // A failed record's backoff; held-back FIFO records released.
            v.push(("ChangeMessageVisibility", "EventsQueue".into()));
            v.push(("ChangeMessageVisibility", "DeliveryQueue".into()));
            v.extend(send("DeliveryQueue")); // retries, delayed
            v.extend(send("DeliveryDeadLetterQueue")); // given-up deliveries
            v.extend(send("EventsDeadLetterQueue")); // events that do not parse
            v.extend(send("EventsQueue")); // `error` events
        }
        other => panic!("no call list for {other}"),
    }
    v.into_iter().map(|(a, q)| (a.to_string(), q)).collect()
}

/// The lines of one resource of the template (up to the next resource).
fn resource<'t>(template: &'t str, name: &str) -> Vec<&'t str> {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| *l != header);
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("{name} not in the template"));
    std::iter::once(first)
        .chain(lines.take_while(|l| l.is_empty() || l.starts_with("   ") || l.starts_with("  #")))
        .collect()
}

/// `X` out of `!GetAtt X.Arn` / `!GetAtt X.QueueName` on `line`.
fn queue_of(line: &str) -> Option<String> {
    let rest = line.split("!GetAtt ").nth(1)?;
    Some(rest.split('.').next()?.trim().to_string())
}

/// The SQS actions the function's policies and SQS events grant.
fn granted(template: &str, function: &str) -> Grants {
    let lines = resource(template, function);
    let mut out = Grants::new();
    let mut grant = |actions: &[&str], queue: String| {
        for a in actions {
            out.insert((a.to_string(), queue.clone()));
        }
    };
    for (i, line) in lines.iter().enumerate() {
        let queue = queue_of(line);
        if line.contains("SQSSendMessagePolicy") {
            grant(
                &["SendMessage"],
                queue.expect("queue of SQSSendMessagePolicy"),
            );
        } else if line.contains("SQSPollerPolicy") {
            let actions = [
                "ReceiveMessage",
                "DeleteMessage",
                "ChangeMessageVisibility",
                "GetQueueAttributes",
            ];
            grant(&actions, queue.expect("queue of SQSPollerPolicy"));
        } else if line.trim_start().starts_with("Queue: !GetAtt") {
            let actions = ["ReceiveMessage", "DeleteMessage", "GetQueueAttributes"];
            grant(&actions, queue.unwrap());
        } else if let Some(action) = line.trim().strip_prefix("Action: sqs:") {
            let resource = lines[i + 1..]
                .iter()
                .find(|l| l.trim_start().starts_with("Resource:"))
                .and_then(|l| queue_of(l))
                .unwrap_or_else(|| panic!("{function}: sqs:{action} names no queue"));
            grant(&[action.trim()], resource);
        }
    }
    out
}

fn template() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap()
}

/// Each function reads its own secrets (`shared/src/aws/secrets.rs`, one
/// `GetParametersByPath` at init) and nobody else's; no secret is a
/// template parameter that would land in every function's environment.
#[test]
fn each_function_may_read_its_own_secrets_folder_only() {
    let template = template();
    for (function, folder) in [
        ("IngressFunction", "ingress"),
        ("HandlerFunction", "handler"),
        ("EgressFunction", "egress"),
    ] {
        let lines = resource(&template, function);
        let ssm: Vec<&str> = lines
            .iter()
            .filter(|l| l.contains("Action: ssm:"))
            .copied()
            .collect();
        assert_eq!(
            ssm,
            ["              Action: ssm:GetParametersByPath"],
            "{function}"
        );
        let resources: Vec<&str> = lines
            .iter()
            .filter(|l| l.contains(":parameter"))
            .copied()
            .collect();
        let want = format!(":parameter${{SecretsPath}}/{folder}\"");
        assert!(
            resources.len() == 1 && resources[0].ends_with(&want),
            "{function} may read {resources:?}, not just {want}"
        );
        let path = lines
            .iter()
            .find(|l| l.contains("CLAWHOOKS_SECRETS_PATH"))
            .unwrap_or_else(|| panic!("{function} is not told its secrets path"));
        assert!(
            path.ends_with(&format!("\"${{SecretsPath}}/{folder}\"")),
            "{path}"
        );
    }
    assert!(
        !template.contains("NoEcho"),
        "a secret is a template parameter"
    );
}

#[test]
fn each_function_may_make_exactly_the_sqs_calls_its_code_makes() {
    let template = template();
    for function in ["IngressFunction", "HandlerFunction", "EgressFunction"] {
        let (needed, given) = (calls(function), granted(&template, function));
        let missing: Vec<_> = needed.difference(&given).collect();
        let surplus: Vec<_> = given.difference(&needed).collect();
        assert!(
            missing.is_empty() && surplus.is_empty(),
            "{function}: calls not allowed {missing:?}; grants no call uses {surplus:?}"
        );
    }
}
