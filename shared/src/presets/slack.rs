//! Slack's Events API: mentions of the app and direct messages, one
//! session per thread (a message outside a thread starts one: its `ts`),
//! answered in that thread. The `slack` scheme brings `url_verification`,
//! the bot guard (`allowBots`) and the `event_id` key that makes Slack's
//! retries one delivery.

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "slack",
    about: "Slack Events API: app mentions and DMs, a session per thread, answered in the thread",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "slack"},
  "filter": {"body": {"type": "event_callback",
                      "event": {"$or": [{"type": "app_mention"},
                                        {"type": "message", "channel_type": "im"}],
                                "subtype": {"$exist": false}}}},
  "sessionMode": "persistent",
  "sessionKey": "slack:{{event.team_id}}:{{event.event.channel}}:{{default event.event.thread_ts event.event.ts}}",
  "template": "Slack message from <@{{event.event.user}}> in {{event.event.channel}}:\n\n{{event.event.text}}",
  "target": {"channel": "slack", "peer": "{{event.event.channel}}",
             "thread": "{{default event.event.thread_ts event.event.ts}}"}
}"#,
};
