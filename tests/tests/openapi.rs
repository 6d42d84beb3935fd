//! The OpenAPI document served at `/openapi.json` matches the router:
//! every documented operation is routed (neither the unknown-path 404 nor
//! a 405), admin operations refuse a caller without the secret, and the
//! schemas the answers reference are in the document.

use clawhooks::api::openapi::OPERATIONS;
use clawhooks::config::load_str;
use clawhooks_e2e::ingress_kit::{ingress_for, post, Serve};
use http::{Method, StatusCode};

const CONFIG: &str = r#"{"webhooks":{"incoming":{"secret":"s3cret","secretHeader":"X-Hook-Key"}}}"#;

fn call(method: &str, path: &str, secret: Option<&str>) -> clawhooks::api::Call {
    let headers: Vec<(&str, &str)> = secret.map(|s| vec![("x-hook-key", s)]).unwrap_or_default();
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
    for op in OPERATIONS {
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
        let answer = ing.handle(call(op.method, &path, Some("s3cret"))).await;
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
        let anonymous = ing.handle(call(op.method, &path, None)).await;
        if op.admin {
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{} {path}",
                op.method
            );
            assert_eq!(documented["security"].as_array().unwrap().len(), 2);
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
        let answer = ing.handle(call("get", path, Some("s3cret"))).await;
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
