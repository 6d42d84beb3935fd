//! Which Lambda function uses which part of the config, so that each is
//! given only its own secrets: ingress the inbound ones (the shared secret,
//! per-hook secrets, provider signature secrets) and the admin secrets (it
//! serves the admin routes and the console), the handler the channel,
//! agent, forward and custom credentials, egress the outgoing signing keys.
//! A function loads the whole config with the others' secrets withheld
//! ([`super::load::Unset::Withhold`]) and refuses to start if a secret of
//! its own part is among them.

use super::error::{ConfigError, ConfigErrors};
use super::CompiledConfig;

/// The three Lambda functions of the deployed stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Ingress,
    Handler,
    Egress,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Ingress => "ingress",
            Function::Handler => "handler",
            Function::Egress => "egress",
        }
    }

    /// Whether this function reads the config value at `path` (a JSON path
    /// as the loader writes it). Parts owned by no one function (templates,
    /// network, session defaults) are read by all.
    pub fn uses(self, path: &str) -> bool {
        owner(path).is_none_or(|f| f == self)
    }
}

/// The one function that reads the value at `path`, if only one does.
pub fn owner(path: &str) -> Option<Function> {
    if under(path, "webhooks.incoming") || under(path, "webhooks.admin") {
        return Some(Function::Ingress);
    }
    if under(path, "webhooks.channels") || under(path, "webhooks.agents") {
        return Some(Function::Handler);
    }
    if under(path, "webhooks.outgoing") {
        return Some(Function::Egress);
    }
    let rest = path.strip_prefix("webhooks.handlers[")?;
    let (_, field) = rest.split_once(']')?;
    let field = field.strip_prefix('.')?;
    if under(field, "secret") || under(field, "verify") {
        Some(Function::Ingress)
    } else if under(field, "forward") || under(field, "custom") || under(field, "transform") {
        Some(Function::Handler)
    } else {
        None
    }
}

/// `path` is `prefix` or lies inside it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// An error for each withheld variable that `function` uses. `looked_in`
/// says where the function looked, for the message.
pub fn check_withheld(
    config: &CompiledConfig,
    function: Function,
    looked_in: &str,
) -> Result<(), ConfigErrors> {
    let errors: Vec<ConfigError> = config
        .withheld
        .iter()
        .filter(|w| function.uses(&w.path))
        .map(|w| {
            ConfigError::new(
                &w.path,
                format!(
                    "${{{}}} is not set for the {} function (looked in {looked_in})",
                    w.variable,
                    function.name()
                ),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{load_files_with, Unset};

    #[test]
    fn each_secret_has_the_function_that_uses_it() {
        for (path, owner_) in [
            ("webhooks.incoming.secret", Some(Function::Ingress)),
            ("webhooks.admin.secret", Some(Function::Ingress)),
            ("webhooks.admin.secrets[1]", Some(Function::Ingress)),
            ("webhooks.handlers[3].secret", Some(Function::Ingress)),
            (
                "webhooks.handlers[0].verify.secrets[1]",
                Some(Function::Ingress),
            ),
            (
                "webhooks.handlers[0].forward.headers.Authorization",
                Some(Function::Handler),
            ),
            (
                "webhooks.handlers[0].forward.secret",
                Some(Function::Handler),
            ),
            (
                "webhooks.handlers[0].custom.options.token",
                Some(Function::Handler),
            ),
            (
                "webhooks.channels.discord.botToken",
                Some(Function::Handler),
            ),
            ("webhooks.agents.main.apiKey", Some(Function::Handler)),
            ("webhooks.outgoing[2].secret", Some(Function::Egress)),
            ("webhooks.outgoing[2].headers.X-Key", Some(Function::Egress)),
            ("webhooks.handlers[0].template", None),
            ("webhooks.handlers[0].secretive", None),
            ("webhooks.incomingish", None),
        ] {
            assert_eq!(owner(path), owner_, "{path}");
        }
        assert!(Function::Egress.uses("webhooks.handlers[0].template"));
        assert!(!Function::Egress.uses("webhooks.incoming.secret"));
    }

    fn load(dir: &std::path::Path, env: &[(&str, &str)]) -> CompiledConfig {
        let file = dir.join("c.json");
        std::fs::write(
            &file,
            r#"{"webhooks":{
              "incoming":{"secret":"${IN}"},
              "handlers":[{"id":"gh","action":"send_message","template":"x",
                           "target":{"channel":"discord"}}],
              "channels":{"discord":{"type":"discord","botToken":"${BOT}","channelId":"1"}},
              "outgoing":[{"id":"o","url":"https://out.example","secret":"${SIGN}"}]}}"#,
        )
        .unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        load_files_with(&[file], &lookup, Unset::Withhold).expect("loads with secrets withheld")
    }

    #[test]
    fn a_function_starts_with_only_its_own_secrets() {
        let dir = tempdir();
        let ingress = load(&dir, &[("IN", "s3cret")]);
        check_withheld(&ingress, Function::Ingress, "here").expect("ingress has its secret");
        let secret = ingress.config.webhooks.incoming.secret.as_ref().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        // The egress key was withheld: a random Standard Webhooks key, not
        // empty and not guessable, so nothing signs or matches with a known value.
        let out = ingress.config.webhooks.outgoing[0].secret.as_ref().unwrap();
        assert!(out.expose().starts_with("whsec_") && out.expose().len() > 40);
        assert_ne!(
            out.expose(),
            load(&dir, &[]).config.webhooks.outgoing[0]
                .secret
                .as_ref()
                .unwrap()
                .expose()
        );

        let egress = load(&dir, &[("SIGN", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]);
        check_withheld(&egress, Function::Egress, "here").expect("egress has its key");
    }

    #[test]
    fn a_function_missing_its_own_secret_names_the_path_the_variable_and_where_it_looked() {
        let dir = tempdir();
        let handler = load(&dir, &[("IN", "s3cret")]);
        let err = check_withheld(&handler, Function::Handler, "SSM /clawhooks/handler")
            .expect_err("the bot token is the handler's");
        assert_eq!(
            err.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["webhooks.channels.discord.botToken: ${BOT} is not set for the handler function (looked in SSM /clawhooks/handler)"]
        );
    }

    #[test]
    fn one_process_running_everything_still_needs_every_secret() {
        let dir = tempdir();
        let file = dir.join("c.json");
        load(&dir, &[]);
        let err = crate::config::load_files(&[file], &|_| None).expect_err("unset is an error");
        assert!(
            err.to_string()
                .contains("environment variable IN is not set"),
            "{err}"
        );
    }

    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("clawhooks-scope-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
