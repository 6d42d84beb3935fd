//! On Lambda the counters go to CloudWatch as embedded-metric-format log
//! lines (JSON documents written after each invocation on stdout, which the Lambda
//! runtime ships to CloudWatch Logs and CloudWatch turns into metrics):
//! no agent, no API call, no extra permission.

use metrics_cloudwatch_embedded::{Builder, Collector};
use std::sync::OnceLock;

/// The CloudWatch namespace of every clawhooks metric.
pub const NAMESPACE: &str = "clawhooks";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the collector for `function` (a dimension on every metric).
/// A failure is logged: metrics must not keep a function from starting.
pub fn install(function: &'static str) {
    match Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("function", function)
        .init()
    {
        Ok(collector) => {
            super::describe();
            let _ = COLLECTOR.set(collector);
        }
        Err(e) => tracing::warn!(error = %e, "could not install the CloudWatch metrics collector"),
    }
}

/// Writes what this invocation counted on stdout, as EMF documents (one
/// line per metric and label set).
pub fn flush() {
    flush_to(std::io::stdout());
}

fn flush_to(out: impl std::io::Write) {
    if let Some(collector) = COLLECTOR.get() {
        if let Err(e) = collector.flush(out) {
            tracing::warn!(error = %e, "could not write the invocation's metrics");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_s_counts_go_out_as_embedded_metric_documents() {
        install("ingress");
        crate::telemetry::hook_answered("accepted", std::time::Duration::from_millis(3));
        let mut out = Vec::new();
        flush_to(&mut out);
        let text = String::from_utf8(out).unwrap();
        let doc: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|d| d.get("clawhooks_hooks_total").is_some())
            .unwrap_or_else(|| panic!("no hooks document in {text}"));
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE, "{text}");
        assert_eq!(doc["function"], "ingress", "{text}");
        assert_eq!(doc["outcome"], "accepted", "{text}");
        assert!(
            doc["clawhooks_hooks_total"].as_f64().unwrap() >= 1.0,
            "{text}"
        );
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert!(names.contains(&"clawhooks_hooks_total"), "{text}");
    }
}
