//! The OpenAPI document served at `/openapi.json` matches the router:
//! every documented operation is routed (neither the unknown-path 404 nor
//! a 405), every routed path is documented (or excluded here by name, with
//! the console's), admin operations refuse a caller without the admin
//! secret (and one with the hook secret), the schemas the answers
//! reference are in the document, and docs/http-api.md names every route.

use clawhooks::api::routes::{Route, ANY, ROUTES};
use clawhooks::config::load_str;
use clawhooks::ingress::Ingress;
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
    let documented_routes: Vec<&Route> =
        ROUTES.iter().filter(|r| r.operation().is_some()).collect();
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        documented_routes.len()
    );
    for (i, route) in documented_routes.iter().enumerate() {
        let (method, op_path) = (route.method.to_lowercase(), route.openapi_path());
        // Refused calls come from an address of their own per operation,
        // under the failed-authentication limit.
        let refused = |mut c: clawhooks::api::Call| {
            c.peer = std::net::IpAddr::from([198, 51, 100, i as u8]);
            c
        };
        let documented = &doc["paths"][&op_path][&method];
        assert!(
            documented.is_object(),
            "{method} {op_path} not in the document"
        );
        let path = op_path
            .replace("{hookId}", "h")
            .replace("{eventId}", "e")
            .replace("{key}", "k");
        let answer = ing
            .handle(call(&method, &path, Some("admin-s3cret-for-openapi")))
            .await;
        let error = answer.body["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!error.starts_with("no route"), "{} {path}: {error}", method);
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}",
            method
        );
        let anonymous = ing.handle(refused(call(&method, &path, None))).await;
        if route.admin {
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{} {path}",
                method
            );
            assert_eq!(
                documented["security"],
                serde_json::json!([{"adminBearer": []}])
            );
            let hook_secret_as_bearer = ing
                .handle(refused(call(&method, &path, Some("s3cret"))))
                .await;
            assert_eq!(
                hook_secret_as_bearer.status,
                StatusCode::UNAUTHORIZED,
                "{} {path} with the hook secret",
                method
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

/// The hook route's answers a sender may get without an event: a hook no
/// filter took (`{"ok":true,"filtered":true}`) and one a noise guard
/// ignored, beside the accepted and the waited-for ones.
#[tokio::test]
async fn the_hook_route_documents_its_filtered_and_ignored_answers() {
    let (ing, _) = ingress_for(load_str(CONFIG, &|_| None).unwrap(), 1_700_000_000);
    let doc = ing.handle(call("get", "/openapi.json", None)).await.body;
    let answers = doc["paths"]["/webhook/{hookId}"]["post"]["responses"].to_string();
    for (name, key) in [
        ("HookFiltered", "filtered"),
        ("HookIgnored", "ignored"),
        ("HookAccepted", "eventId"),
    ] {
        assert!(
            answers.contains(&format!("#/components/schemas/{name}")),
            "{name} not among the hook route's answers: {answers}"
        );
        let schema = &doc["components"]["schemas"][name];
        assert!(
            schema["properties"][key].is_object(),
            "{name} has no {key}: {schema}"
        );
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

/// Routes of the table the document leaves out, by name, and why.
const NOT_DOCUMENTED: &[(&str, &str)] = &[
    ("*", "/webhook"),        // no hook id: 404 to any method
    ("*", "/webhook/"),       // the same
    ("GET", "/health/"),      // /health with a trailing slash
    ("GET", "/openapi.json"), // the document itself
];

/// The console's routes (`api::console::routes`): its page, assets,
/// session and stream, outside the document.
const CONSOLE: &[(&str, &str)] = &[
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/app.js"),
    ("GET", "/console/thread.js"),
    ("GET", "/console/subscriptions.js"),
    ("GET", "/console/playground.js"),
    ("GET", "/console/app.css"),
    ("GET", "/console/icon.svg"),
    ("GET", "/console/session"),
    ("POST", "/console/login"),
    ("POST", "/console/logout"),
    ("POST", "/console/logout-everywhere"),
    ("GET", "/console/stream"),
];

/// Every path literal given to axum's `.route(` in `shared/src/api`.
fn route_literals() -> Vec<String> {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for rest in text.split(".route(").skip(1) {
                    if let Some(literal) = rest.trim_start().strip_prefix('"') {
                        found.push(literal.split('"').next().unwrap().to_string());
                    }
                }
                // The console's scripts: one table of (path, include_str!(…)).
                let pieces: Vec<&str> = text.split("include_str!(\"assets/").collect();
                for before in &pieces[..pieces.len() - 1] {
                    if let Some((_, path)) = before.rsplit_once("\"/console/") {
                        let path = path.split('"').next().unwrap();
                        if path.ends_with(".js") {
                            found.push(format!("/console/{path}"));
                        }
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    let api = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src/api");
    walk(&api, &mut found);
    found
}

#[tokio::test]
async fn every_routed_path_is_in_the_document_or_excluded_by_name() {
    let (ing, _) = ingress_for(load_str(CONFIG, &|_| None).unwrap(), 1_700_000_000);
    let doc = ing.handle(call("get", "/openapi.json", None)).await.body;
    for route in ROUTES {
        let named = (route.method, route.path);
        let documented =
            doc["paths"][route.openapi_path()][route.method.to_lowercase()].is_object();
        assert_eq!(
            documented,
            !NOT_DOCUMENTED.contains(&named),
            "{} {}: in the document: {documented}; routed ones are documented unless NOT_DOCUMENTED names them",
            route.method,
            route.path
        );
    }
    for (method, path) in NOT_DOCUMENTED {
        assert!(
            ROUTES
                .iter()
                .any(|r| (r.method, r.path) == (*method, *path)),
            "NOT_DOCUMENTED names {method} {path}, which is not in api::routes::ROUTES"
        );
    }
    // A route given to axum outside the table would be served undocumented.
    let literals = route_literals();
    for literal in &literals {
        assert!(
            CONSOLE.iter().any(|(_, p)| p == literal),
            "{literal:?} is routed outside api::routes::ROUTES and is not a console route"
        );
    }
    // Each console path is routed: another method is a 405, not the
    // unknown-path 404 (its own method may stream without end).
    for (method, path) in CONSOLE {
        assert!(
            literals.iter().any(|l| l == path),
            "CONSOLE names {method} {path}, which is not routed"
        );
        patch_is_refused(&ing, path).await;
    }
}

/// `PATCH path` with the admin secret: a 405, which only a routed path
/// answers (any other gets the unknown-path 404).
async fn patch_is_refused(ing: &Ingress, path: &str) -> clawhooks::api::Answer {
    let answer = ing
        .handle(call("patch", path, Some("admin-s3cret-for-openapi")))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "PATCH {path}"
    );
    answer
}

/// Whether `text` names `method path` as docs/http-api.md writes routes:
/// `GET /events/<eventId>/deliveries` for `/events/{eventId}/deliveries`.
fn names_route(text: &str, method: Option<&str>, path: &str) -> bool {
    let pieces: Vec<&str> = path
        .split('{')
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                p
            } else {
                p.split_once('}').map_or(p, |(_, rest)| rest)
            }
        })
        .collect();
    let start = match method {
        Some(m) => format!("{m} {}", pieces[0]),
        None => format!("`{}", pieces[0]),
    };
    text.match_indices(&start).any(|(at, _)| {
        let mut rest = &text[at + start.len()..];
        for piece in &pieces[1..] {
            let Some(after) = rest.strip_prefix('<').and_then(|r| r.split_once('>')) else {
                return false;
            };
            let Some(r) = after.1.strip_prefix(piece) else {
                return false;
            };
            rest = r;
        }
        rest.starts_with(['`', '[', '?', ' ', ','])
    })
}

#[test]
fn docs_http_api_names_every_route() {
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/http-api.md");
    let text = std::fs::read_to_string(page).unwrap();
    let aliases = [("*", "/webhook"), ("*", "/webhook/"), ("GET", "/health/")];
    for route in ROUTES
        .iter()
        .filter(|r| !aliases.contains(&(r.method, r.path)))
    {
        assert!(
            names_route(&text, Some(route.method), route.path),
            "docs/http-api.md does not name {} {}",
            route.method,
            route.path
        );
    }
    for (method, path) in CONSOLE.iter().filter(|(_, p)| *p != "/console/") {
        assert!(
            names_route(&text, Some(method), path) || names_route(&text, None, path),
            "docs/http-api.md does not name {method} {path}"
        );
    }
    assert!(!names_route(&text, Some("GET"), "/nowhere"));
    assert!(
        !names_route(&text, Some("POST"), "/dlq"),
        "a prefix of POST /dlq/replay is no route"
    );
}

#[tokio::test]
async fn another_method_is_a_405_naming_the_routes_methods() {
    let (ing, _) = ingress_for(load_str(CONFIG, &|_| None).unwrap(), 1_700_000_000);
    for route in ROUTES.iter().filter(|r| r.method == ANY) {
        let answer = ing.handle(call("patch", route.path, None)).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "PATCH {}: no hook id",
            route.path
        );
    }
    for (path, allow) in [
        ("/webhook/h", "POST, GET"),
        ("/health", "GET"),
        ("/openapi.json", "GET"),
        ("/sessions/k", "GET, DELETE"),
        ("/dlq/replay", "POST"),
        ("/metrics", "GET"),
        ("/config", "GET"),
    ] {
        let answer = patch_is_refused(&ing, path).await;
        assert_eq!(answer.headers["allow"], allow, "PATCH {path}");
    }
}
