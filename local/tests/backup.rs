//! `clawhooks backup` copies a live database; a server started on the copy
//! serves the events the original had accepted.

mod common;

use common::spawned::{post_hooks, serve, TempDir};
use std::process::Command;

#[tokio::test]
async fn a_backup_of_a_live_server_restores_into_a_new_server_with_its_events() {
    clawhooks::outbound::http::install_crypto_provider();
    let dir = TempDir::new("backup");
    let (config, db, copy) = (
        dir.0.join("config.json"),
        dir.0.join("clawhooks.db"),
        dir.0.join("copy.db"),
    );
    std::fs::write(&config, r#"{"webhooks":{"incoming":{"secret":"s"}}}"#).unwrap();
    let client = reqwest::Client::new();
    let (live, base) = serve(&config, &db);
    let bodies = (0..3).map(|n| serde_json::json!({ "n": n }));
    let ids = post_hooks(&client, &base, "kept", bodies).await;

    let out = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["backup", "--db"])
        .arg(&db)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("backed up "), "{said}");
    drop(live);

    let (_restored, base) = serve(&config, &copy);
    for id in &ids {
        let r = client
            .get(format!("{base}/events/{id}"))
            .header("X-Webhook-Secret", "s")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "event {id} in the restored copy");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["event"]["eventId"].as_str(), Some(id.as_str()), "{v}");
    }

    let missing = Command::new(env!("CARGO_BIN_EXE_clawhooks"))
        .args(["backup", "--db"])
        .arg(dir.0.join("nope.db"))
        .arg(dir.0.join("x.db"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("nope.db does not exist"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
