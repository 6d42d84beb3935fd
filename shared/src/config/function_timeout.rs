//! Whether a Lambda function's timeout fits the longest work one of its
//! invocations can be given. An invocation that runs out of time is killed
//! mid-batch: its records come back only after the queue's visibility
//! timeout, and a hook that always needs longer than the function has is
//! retried until it is dead-lettered. So each function checks at init,
//! from the config, that a whole batch fits, and refuses to start with the
//! setting to change if it cannot.
//!
//! Records of one FIFO message group (one session) in a batch run one after
//! another, so the worst batch is `batch size × the longest record`.

use super::error::{ConfigError, ConfigErrors};
use super::scope::Function;
use super::{Action, Config};
use std::time::Duration;

/// Time an invocation keeps for what is not an outbound call: reading and
/// writing state, queueing events, answering the runtime. Ingress answers
/// 503 as soon as its accept timeout passes, so it needs less.
pub fn headroom(function: Function) -> Duration {
    match function {
        Function::Ingress => Duration::from_secs(1),
        Function::Handler | Function::Egress => Duration::from_secs(5),
    }
}

/// What the template gives a function (`CLAWHOOKS_FUNCTION_TIMEOUT`,
/// `CLAWHOOKS_BATCH_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation {
    pub timeout: Duration,
    pub batch_size: u32,
}

/// The longest one record can take, with the path of the setting behind it.
struct Longest {
    path: String,
    takes: Duration,
    why: String,
}

/// An error naming the setting that makes a batch outlast `invocation`.
pub fn check(
    config: &Config,
    function: Function,
    invocation: Invocation,
) -> Result<(), ConfigErrors> {
    let Some(longest) = longest_record(config, function) else {
        return Ok(());
    };
    let batch = longest.takes * invocation.batch_size.max(1);
    let headroom = headroom(function);
    if batch + headroom <= invocation.timeout {
        return Ok(());
    }
    Err(ConfigErrors(vec![ConfigError::new(
        longest.path,
        format!(
            "{} ({} s); a batch of {} may take {} s, which with {} s of headroom does not fit the {} function's timeout of {} s: raise the template's FunctionTimeout, lower its batch size, or shorten this timeout",
            longest.why,
            longest.takes.as_secs_f64(),
            invocation.batch_size,
            batch.as_secs_f64(),
            headroom.as_secs(),
            function.name(),
            invocation.timeout.as_secs()
        ),
    )]))
}

fn longest_record(config: &Config, function: Function) -> Option<Longest> {
    let w = &config.webhooks;
    let candidates: Vec<Longest> = match function {
        Function::Ingress => vec![Longest {
            path: "webhooks.incoming.acceptTimeout".into(),
            takes: Duration::from_secs(w.incoming.accept_timeout.0),
            why: "a hook's answer may wait for the backend up to acceptTimeout".into(),
        }, Longest {
            path: "webhooks.incoming.maxWait".into(),
            takes: Duration::from_secs(w.incoming.max_wait.0),
            why: "a caller waiting for the answer (Prefer: wait, respond) is held up to maxWait from the hook's arrival".into(),
        }],
        Function::Handler => w
            .handlers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| handler_takes(config, i, h))
            .collect(),
        Function::Egress => w
            .outgoing
            .iter()
            .enumerate()
            .map(|(i, o)| Longest {
                path: format!("webhooks.outgoing[{i}].timeoutMs"),
                takes: Duration::from_millis(o.timeout_ms),
                why: format!("a delivery to {:?} may take up to timeoutMs", o.id),
            })
            .collect(),
    };
    candidates.into_iter().max_by_key(|l| l.takes)
}

/// The outbound calls of one hook of handler `i`, added up.
fn handler_takes(config: &Config, i: usize, h: &super::Handler) -> Option<Longest> {
    let w = &config.webhooks;
    let channel = h
        .target
        .as_ref()
        .and_then(|t| w.channels.get(&t.channel))
        .and_then(|c| c.kind().timeout());
    let at = format!("webhooks.handlers[{i}]");
    match h.action {
        Action::SendMessage => Some(Longest {
            path: format!("{at}.target.channel"),
            takes: channel?,
            why: format!("handler {:?} sends to a channel whose timeoutMs is", h.id),
        }),
        Action::RunAgent => {
            let agent = w.agents.get(h.agent_id.as_deref()?)?;
            let takes = agent.provider().timeout() + channel.unwrap_or_default();
            Some(Longest {
                path: format!("{at}.agentId"),
                takes,
                why: format!(
                    "handler {:?} waits for its agent's timeoutMs, then its channel's",
                    h.id
                ),
            })
        }
        Action::Forward => Some(Longest {
            path: format!("{at}.forward.timeoutMs"),
            takes: Duration::from_millis(h.forward.as_ref()?.timeout_ms),
            why: format!("handler {:?} forwards with timeoutMs", h.id),
        }),
        Action::Custom => {
            let custom = h.custom.as_ref().filter(|c| c.lambda.is_some())?;
            Some(Longest {
                path: format!("{at}.custom.timeoutMs"),
                takes: Duration::from_millis(custom.timeout_ms) + channel.unwrap_or_default(),
                why: format!(
                    "handler {:?} waits for its Lambda function's timeoutMs, then its channel's",
                    h.id
                ),
            })
        }
        Action::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        crate::config::load_str(text, &|_| None).unwrap().config
    }

    const AGENT: &str = r#"{"webhooks":{
        "handlers":[{"id":"ask","action":"run_agent","agentId":"main","target":{"channel":"slack"}}],
        "agents":{"main":{"type":"openai","url":"http://127.0.0.1:1/v1","model":"m"}},
        "channels":{"slack":{"type":"slack","webhookUrl":"http://127.0.0.1:1/x"}},
        "outgoing":[{"id":"o","url":"http://127.0.0.1:1/o","timeoutMs":20000}]}}"#;

    fn inv(timeout: u64, batch_size: u32) -> Invocation {
        Invocation {
            timeout: Duration::from_secs(timeout),
            batch_size,
        }
    }

    #[test]
    fn an_agent_call_longer_than_the_function_names_the_handler_and_the_setting() {
        let c = config(AGENT);
        let err = check(&c, Function::Handler, inv(30, 10))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("webhooks.handlers[0].agentId: handler \"ask\""),
            "{err}"
        );
        assert!(
            err.contains("(135 s); a batch of 10 may take 1350 s"),
            "{err}"
        );
        assert!(err.contains("FunctionTimeout"), "{err}");
        // The template's defaults: one record a batch, 180 s.
        check(&c, Function::Handler, inv(180, 1)).expect("135 s + headroom fits 180 s");
        check(&c, Function::Handler, inv(139, 1)).expect_err("135 s + 5 s headroom is 140 s");
        check(&c, Function::Handler, inv(140, 1)).expect("just fits");
    }

    #[test]
    fn egress_is_sized_by_the_slowest_receiver_and_ingress_by_accept_timeout() {
        let c = config(AGENT);
        let err = check(&c, Function::Egress, inv(180, 10))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("webhooks.outgoing[0].timeoutMs"), "{err}");
        check(&c, Function::Egress, inv(180, 8)).expect("8 × 20 s + 5 s fits");
        check(&c, Function::Ingress, inv(30, 1))
            .expect("the default acceptTimeout fits API Gateway's 30 s");
        let slow = config(r#"{"webhooks":{"incoming":{"acceptTimeout":29}}}"#);
        check(&slow, Function::Ingress, inv(30, 1)).expect("29 s + 1 s fits");
        let err = check(&slow, Function::Ingress, inv(20, 1))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("webhooks.incoming.acceptTimeout"), "{err}");
        let waiting = config(r#"{"webhooks":{"incoming":{"maxWait":29}}}"#);
        check(&waiting, Function::Ingress, inv(30, 1)).expect("29 s + 1 s fits");
        let err = check(&waiting, Function::Ingress, inv(20, 1))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("webhooks.incoming.maxWait"), "{err}");
    }

    #[test]
    fn a_custom_lambda_is_sized_by_its_timeout() {
        let c = config(
            r#"{"webhooks":{"handlers":[{"id":"fn","action":"custom","custom":{"lambda":"f","timeoutMs":200000}}]}}"#,
        );
        let err = check(&c, Function::Handler, inv(180, 1))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("webhooks.handlers[0].custom.timeoutMs: handler \"fn\""),
            "{err}"
        );
        let quick = config(
            r#"{"webhooks":{"handlers":[{"id":"fn","action":"custom","custom":{"lambda":"f"}}]}}"#,
        );
        check(&quick, Function::Handler, inv(180, 1)).expect("the default 120 s fits");
    }

    #[test]
    fn a_config_without_outbound_calls_fits_any_timeout() {
        let c = config(r#"{"webhooks":{"handlers":[{"id":"x"}]}}"#);
        for f in [Function::Handler, Function::Egress] {
            check(&c, f, inv(3, 10)).expect("nothing to wait for");
        }
    }
}
