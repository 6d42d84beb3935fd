//! Discord interactions (slash commands): Ed25519 signatures, the `PING`
//! handshake and the bot guard come with the `discord` scheme; one
//! session per channel; the answer is posted to the channel by the bot.

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "discord",
    about: "Discord interactions: Ed25519 signature and PING, slash commands, a session per channel",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "discord"},
  "filter": {"body": {"type": 2}},
  "sessionMode": "persistent",
  "sessionKey": "discord:{{event.channel_id}}",
  "template": "Discord /{{data.name}} from {{default member.user.username user.username}} in channel {{channel_id}}:{{#each data.options}} {{name}}={{value}}{{/each}}",
  "target": {"channel": "discord", "peer": "{{channel_id}}"}
}"#,
};
