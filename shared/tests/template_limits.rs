//! Limits on what a config template may do.

/// Found by the `template` fuzz target: an inline partial calling itself
/// overflowed the stack and aborted the process at render time. Partials
/// are now a load error.
#[test]
fn templates_with_partials_are_refused_at_load() {
    for t in [
        r#"{{#*inline \"p\"}}x{{> p}}{{/inline}}{{> p}}"#,
        r#"{{#if data}}{{> other}}{{/if}}"#,
    ] {
        let text = format!(r#"{{"webhooks":{{"handlers":[{{"id":"h","template":"{t}"}}]}}}}"#);
        let e = clawhooks::config::load_str(&text, &|_| None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "webhooks.handlers[0].template: handler \"h\": partials and decorators ({{> …}}, {{#*inline …}}) are not supported in templates"
        );
    }
    assert!(clawhooks::config::load_str(
        r#"{"webhooks":{"handlers":[{"id":"h","template":"{{#each data}}{{this}}{{/each}}"}]}}"#,
        &|_| None
    )
    .is_ok());
}
