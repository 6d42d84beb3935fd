//! `clawhooks try`: what the gateway would do with one hook, computed by
//! the same functions ingress and the handler run (routing, filters, the
//! event, the template, the session key, the action's plan), without
//! sending anything or opening a database.

use anyhow::{bail, Context, Result};
use clawhooks::config::plan::{ActionPlan, CustomCall};
use clawhooks::config::{self, CompiledConfig, Target};
use clawhooks::ingress::trial::{trial, Trial};
use clawhooks::ingress::Hook;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct TryArgs {
    /// Config file; repeat to merge several (later ones win).
    #[arg(long, short, required = true, value_delimiter = ',')]
    pub config: Vec<PathBuf>,
    /// The hook id or path the hook is posted to (`/webhook/<ID>`).
    #[arg(long)]
    pub hook: String,
    /// A file holding the request body.
    #[arg(long)]
    pub body: PathBuf,
    /// A request header, `Name: value`; repeat for several.
    #[arg(long = "header", value_name = "K:V")]
    pub headers: Vec<String>,
}

pub fn run(args: TryArgs) -> Result<()> {
    // Nothing is sent, so a secret left unset does not stop the trial.
    let cfg = config::load::load_files_with(
        &args.config,
        &config::load::process_env,
        config::load::Unset::Withhold,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body =
        std::fs::read(&args.body).with_context(|| format!("reading {}", args.body.display()))?;
    let hook = Hook {
        query: None,
        headers: headers(&args.headers)?,
        body: body.into(),
        peer: std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let hook_id = args.hook.trim_matches('/');
    let now = chrono::Utc::now();
    let tried = trial(&cfg, hook_id, &hook, now).map_err(|r| anyhow::anyhow!("{r}"))?;
    let report = report(&cfg, hook_id, &tried, now)?;
    print!("{}", cfg.scrubbed(&report));
    Ok(())
}

fn headers(given: &[String]) -> Result<http::HeaderMap> {
    let mut map = http::HeaderMap::new();
    for h in given {
        let Some((name, value)) = h.split_once(':') else {
            bail!("--header {h:?} is not Name:value");
        };
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("--header {h:?}: not a header name"))?;
        let value = http::HeaderValue::from_str(value.trim())
            .with_context(|| format!("--header {h:?}: not a header value"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The lines `try` prints; an error for what would fail the hook.
fn report(
    cfg: &CompiledConfig,
    hook_id: &str,
    tried: &Trial,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let handlers = &cfg.config.webhooks.handlers;
    let mut out = String::new();
    writeln!(out, "hook: /webhook/{hook_id}")?;
    for &i in &tried.candidates {
        let h = &handlers[i];
        let why = if tried.refused_by.contains(&i) {
            "filter did not match"
        } else if tried.taken.as_ref().is_some_and(|(t, _)| *t == i) {
            match h.filter {
                Some(_) => "takes the hook: filter matched",
                None => "takes the hook: no filter",
            }
        } else {
            "not tried: an earlier handler took the hook"
        };
        writeln!(out, "handler {:?} (webhooks.handlers[{i}]): {why}", h.id)?;
    }
    let Some((i, ev)) = &tried.taken else {
        writeln!(out, "filter: no handler matched; answered 200 {{\"ok\":true,\"filtered\":true}}, nothing kept or run")?;
        return Ok(out);
    };
    let h = &handlers[*i];
    writeln!(
        out,
        "filter: {}",
        if h.filter.is_some() {
            "matched"
        } else {
            "none"
        }
    )?;
    let prepared = clawhooks::handler::context::prepare(cfg, Some(h), ev, now);
    if let Some(e) = prepared.render_error {
        match e.stage() {
            "transform" => bail!("handler {:?}: the transform failed: {}", h.id, e.message()),
            _ => bail!("handler {:?}: the template does not render: {e}", h.id),
        }
    }
    if h.transform.is_some() {
        writeln!(out, "transform: {}", transformed(&prepared))?;
        if prepared.skip {
            writeln!(
                out,
                "skipped: the hook is done with no action and no session"
            )?;
            return Ok(out);
        }
    }
    writeln!(out, "message: {}", prepared.text)?;
    let (key, persistent) = match &prepared.session_key {
        Some(key) => (key, true),
        None => (&ev.session_key, ev.persistent),
    };
    let session = if persistent {
        "persistent"
    } else {
        "ephemeral, a new one per hook"
    };
    writeln!(out, "session: {key} ({session})")?;
    writeln!(out, "action: {}", action(cfg.plan(h)))?;
    writeln!(out, "nothing was sent")?;
    Ok(out)
}

/// What the transform answered, as JSON: the body the template sees and
/// what else it set.
fn transformed(prepared: &clawhooks::handler::context::Prepared) -> serde_json::Value {
    let mut out = serde_json::json!({"body": prepared.body});
    if let Some(vars) = prepared.context.get("vars") {
        out["vars"] = vars.clone();
    }
    if let Some(key) = &prepared.session_key {
        out["sessionKey"] = key.clone().into();
    }
    if prepared.skip {
        out["skip"] = true.into();
    }
    out
}

fn action(plan: Option<&ActionPlan>) -> String {
    match plan {
        None => "none (the hook only opens its session and emits message_received)".into(),
        Some(ActionPlan::SendMessage { target }) => {
            format!("send_message to {}", target_of(target))
        }
        Some(ActionPlan::RunAgent { agent_id, target }) => format!(
            "run_agent {agent_id:?}{}",
            target
                .as_ref()
                .map(|t| format!(", its answer to {}", target_of(t)))
                .unwrap_or_default()
        ),
        Some(ActionPlan::Forward(f)) => format!("forward {} {:?}", f.method, f.url),
        Some(ActionPlan::Custom(c)) => {
            let call = match &c.call {
                CustomCall::Function(f) => format!("function {f:?}"),
                CustomCall::Lambda { function, .. } => format!("Lambda function {function:?}"),
            };
            let to = c
                .target
                .as_ref()
                .map(|t| format!(", its text to {}", target_of(t)));
            format!("custom {call}{}", to.unwrap_or_default())
        }
    }
}

fn target_of(t: &Target) -> String {
    match &t.peer {
        Some(peer) => format!("channel {:?}, peer {peer:?}", t.channel),
        None => format!("channel {:?}", t.channel),
    }
}
