//! Telegram bot webhooks: the `telegram` scheme checks
//! `X-Telegram-Bot-Api-Secret-Token` and knows a retried update by its
//! `update_id`; text messages from people (not bots), one session per
//! chat, answered as a reply to the message.

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "telegram",
    about: "Telegram bot webhook: secret token, text messages, a session per chat, answered as a reply",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "telegram"},
  "filter": {"body": {"message": {"text": {"$exist": true},
                                  "from": {"is_bot": {"$neq": true}}}}},
  "sessionMode": "persistent",
  "sessionKey": "telegram:{{event.message.chat.id}}",
  "template": "Telegram message from {{message.from.first_name}}{{#if message.from.username}} (@{{message.from.username}}){{/if}} in {{default message.chat.title \"a private chat\"}}:\n\n{{message.text}}",
  "target": {"channel": "telegram", "peer": "{{message.chat.id}}",
             "thread": "{{message.message_id}}"}
}"#,
};
