//! Discord interactions (slash commands): Ed25519 signatures, the `PING`
//! handshake and the bot guard come with the `discord` scheme. Discord
//! gives an interaction 3 seconds: the command is answered at once with
//! the deferred `{"type":5}` ("thinking…"), and the agent's answer follows
//! as the interaction's follow-up message (a `discord_followup` channel,
//! authorized by the interaction's own token). One session per channel.

use super::Preset;

pub const PRESET: Preset = Preset {
    name: "discord",
    about: "Discord interactions: Ed25519 signature and PING, slash commands deferred and answered as a follow-up, a session per channel",
    handler: r#"{
  "action": "run_agent",
  "verify": {"scheme": "discord"},
  "filter": {"body": {"type": 2}},
  "sessionMode": "persistent",
  "sessionKey": "discord:{{event.channel_id}}",
  "template": "Discord /{{data.name}} from {{default member.user.username user.username}} in channel {{channel_id}}:{{#each data.options}} {{name}}={{value}}{{/each}}",
  "respond": {"immediate": "{\"type\":5}", "contentType": "application/json"},
  "target": {"channel": "discord", "peer": "{{application_id}}/{{token}}"}
}"#,
};
