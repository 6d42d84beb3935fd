//! The OpenAPI document served at `/openapi.json` matches the router:
//! every documented operation is routed (neither the unknown-path 404 nor
//! a 405), admin operations refuse a caller without the admin secret (and
//! one with the hook secret), and the
//! schemas the answers reference are in the document.

use clawhooks::api::openapi::OPERATIONS;
use clawhooks::config::load_str;
use clawhooks_e2e::ingress_kit::{ingress_for, post, Serve};
use http::{Method, StatusCode};

const CONFIG: &str = r#"{"webhooks":{"incoming":{"secret":"s3cret","secretHeader":"X-Hook-Key"},
  "admin":{"secret":"admin-s3cret-for-openapi"}}}"#;

/// A call with the hook secret in its header and, for `Some`, an
/// `Authorization: Bearer` (the admin secret, or a wrong one).
fn call(method: &str, path: &str, bearer: Option<&str>) -> clawhooks::api::Call {
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let mut headers: Vec<(&str, &str)> = vec![("x-hook-key", "s3cret")];
    headers.extend(auth.as_deref().map(|a| ("authorization", a)));
    let mut c = post(path, &headers, b"{}");
    c.method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    c
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_admin_ones_need_the_secret() {
    let (ing, _) = ingress_for(load_str(CONFIG, &|_| None).unwrap(), 1_700_000_000);
    let doc = ing.handle(call("get", "/openapi.json", None)).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.body;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["secretHeader"]["name"],
        "X-Hook-Key"
    );
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        OPERATIONS.len()
    );
    for (i, op) in OPERATIONS.iter().enumerate() {
        // Refused calls come from an address of their own per operation,
        // under the failed-authentication limit.
        let refused = |mut c: clawhooks::api::Call| {
            c.peer = std::net::IpAddr::from([198, 51, 100, i as u8]);
            c
        };
        let documented = &doc["paths"][op.path][op.method];
        assert!(
            documented.is_object(),
            "{} {} not in the document",
            op.method,
            op.path
        );
        let path = op
            .path
            .replace("{hookId}", "h")
            .replace("{eventId}", "e")
            .replace("{key}", "k");
        let answer = ing
            .handle(call(op.method, &path, Some("admin-s3cret-for-openapi")))
            .await;
        let error = answer.body["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !error.starts_with("no route"),
            "{} {path}: {error}",
            op.method
        );
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}",
            op.method
        );
        let anonymous = ing.handle(refused(call(op.method, &path, None))).await;
        if op.admin {
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{} {path}",
                op.method
            );
            assert_eq!(
                documented["security"],
                serde_json::json!([{"adminBearer": []}])
            );
            let hook_secret_as_bearer = ing
                .handle(refused(call(op.method, &path, Some("s3cret"))))
                .await;
            assert_eq!(
                hook_secret_as_bearer.status,
                StatusCode::UNAUTHORIZED,
                "{} {path} with the hook secret",
                op.method
            );
        }
    }
    // Every schema a response references is defined.
    let text = doc.to_string();
    for name in text.split("\"#/components/schemas/").skip(1) {
        let name = name.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{name} referenced, not defined"
        );
    }
    for name in [
        "EventRecord",
        "SessionRecord",
        "Attempt",
        "DeadLetter",
        "RefusalBody",
    ] {
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
}

#[tokio::test]
async fn a_path_the_document_does_not_name_is_not_routed() {
    let (ing, _) = ingress_for(load_str(CONFIG, &|_| None).unwrap(), 1_700_000_000);
    for path in ["/eventz", "/session", "/dlq/other", "/openapi.yaml", "/"] {
        let answer = ing
            .handle(call("get", path, Some("admin-s3cret-for-openapi")))
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            answer.body["error"]
                .as_str()
                .unwrap()
                .starts_with("no route"),
            "{path}"
        );
    }
}
