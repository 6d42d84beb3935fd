//! Each Lambda function depends only on the AWS crates its code calls: a
//! crate a function never uses still costs build time, and whatever of it
//! the code reaches (a client built "just in case", a trait object's
//! methods) ends up in a zip that `scripts/lambda-build.sh` caps at
//! 4,000,000 bytes.
//!
//! The dependencies come from `cargo tree -p <function>`, which resolves
//! features for that package alone, as `cargo lambda build` of one function
//! would; it reads only Cargo.lock, so the test is cheap and offline.

use std::collections::BTreeSet;
use std::process::Command;

/// The names of the crates `package` links (normal dependencies, no dev or
/// build ones), with the features given.
fn linked_crates(package: &str, features: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["tree", "--offline", "-q", "--manifest-path", manifest])
        .args([
            "-p", package, "-e", "normal", "--prefix", "none", "-f", "{p}",
        ]);
    for f in features {
        cmd.args(["--features", f]);
    }
    let out = cmd.output().expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The AWS service SDKs among `crates`. aws-sdk-sts comes with aws-config
/// (its credential chain's assume-role and web-identity providers), which
/// only the local binary links ([`no_function_links_the_credential_chain_or_a_regex_engine`]).
fn service_sdks(crates: &BTreeSet<String>) -> BTreeSet<&str> {
    crates
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with("aws-sdk-") && *c != "aws-sdk-sts")
        .collect()
}

/// Fails naming each crate of `absent` that `package` links.
fn assert_absent(package: &str, crates: &BTreeSet<String>, absent: &[&str]) {
    let present: Vec<_> = absent.iter().filter(|c| crates.contains(**c)).collect();
    assert!(present.is_empty(), "{package} links {present:?}");
}

/// Services every function calls at init or through the backend: SQS and
/// DynamoDB (the backend's queues and tables), and SSM where the config's
/// secrets come from Parameter Store. Anything else must be named here.
const BACKEND: [&str; 3] = ["aws-sdk-dynamodb", "aws-sdk-sqs", "aws-sdk-ssm"];

fn assert_services(package: &str, crates: &BTreeSet<String>, only_extra: &[&str]) {
    let sdks = service_sdks(crates);
    for needed in ["aws-sdk-dynamodb", "aws-sdk-sqs"].iter().chain(only_extra) {
        assert!(sdks.contains(needed), "{package} lacks {needed}: {sdks:?}");
    }
    let unexpected: Vec<_> = sdks
        .iter()
        .filter(|s| !BACKEND.contains(s) && !only_extra.contains(s))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{package} links AWS SDKs it does not call: {unexpected:?}"
    );
}

#[test]
fn ingress_links_the_backend_and_api_gateway_glue_only() {
    let crates = linked_crates("clawhooks-ingress", &[]);
    assert_services("clawhooks-ingress", &crates, &[]);
    assert!(crates.contains("lambda_http"));
    assert_absent("clawhooks-ingress", &crates, &["aws-sdk-lambda"]);
    // Ingress never runs a transform: no JavaScript engine in its zip.
    assert_absent("clawhooks-ingress", &crates, &["rquickjs", "rquickjs-sys"]);
}

#[test]
fn transforms_run_in_the_handler_egress_and_the_local_binary() {
    // QuickJS is about 470 KB of a zip; ingress only loads the scripts.
    for package in ["clawhooks-handler", "clawhooks-egress", "clawhooks-local"] {
        let crates = linked_crates(package, &[]);
        assert!(
            crates.contains("rquickjs"),
            "{package} has no transform engine"
        );
    }
}

#[test]
fn no_function_links_the_credential_chain_or_a_regex_engine() {
    // Lambda hands a function its credentials in the environment
    // (`aws::clients`), and its log filter is `Targets`, not `EnvFilter`.
    let unused = ["aws-config", "aws-sdk-sts", "regex", "regex-automata"];
    for package in ["clawhooks-ingress", "clawhooks-handler", "clawhooks-egress"] {
        assert_absent(package, &linked_crates(package, &[]), &unused);
    }
    let local = linked_crates("clawhooks-local", &["aws"]);
    assert!(
        local.contains("aws-config"),
        "serve --backend aws has no credential chain"
    );
}

#[test]
fn the_handler_links_lambda_invoke_and_sqs_glue_but_no_api_gateway() {
    let crates = linked_crates("clawhooks-handler", &[]);
    assert_services("clawhooks-handler", &crates, &["aws-sdk-lambda"]);
    assert!(crates.contains("aws_lambda_events"));
    assert_absent("clawhooks-handler", &crates, &["lambda_http"]);
}

#[test]
fn egress_links_the_backend_and_sqs_glue_only() {
    let crates = linked_crates("clawhooks-egress", &[]);
    assert_services("clawhooks-egress", &crates, &[]);
    assert!(crates.contains("aws_lambda_events"));
    assert_absent(
        "clawhooks-egress",
        &crates,
        &["aws-sdk-lambda", "lambda_http"],
    );
}

#[test]
fn the_local_binary_with_aws_has_every_service_but_no_lambda_runtime() {
    let crates = linked_crates("clawhooks-local", &["aws"]);
    assert_services("clawhooks-local", &crates, &["aws-sdk-lambda"]);
    assert_absent(
        "clawhooks-local",
        &crates,
        &["lambda_http", "lambda_runtime", "aws_lambda_events"],
    );
}
