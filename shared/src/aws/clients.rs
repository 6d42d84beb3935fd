//! The AWS SDK clients, built once per process (Lambda init or server start)
//! and shared: each holds a connection pool, and building one reads the
//! environment, which is too slow for every call.
//!
//! Two ways to the SDK configuration:
//! - [`AwsClients::from_lambda_env`], what the Lambda functions run with:
//!   region, credentials and endpoint from the variables Lambda (or an
//!   emulator running the functions) sets. Lambda hands a function its
//!   role's credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//!   `AWS_SESSION_TOKEN`, so aws-config's credential chain (profiles, SSO,
//!   STS web identity, IMDS) would be code no function runs; it is about a
//!   tenth of each zip.
//! - [`AwsClients::from_env`] (feature `aws-profiles`): aws-config's whole
//!   chain, for `clawhooks serve --backend aws` on a laptop or a server.
//!
//! Both honour `AWS_ENDPOINT_URL` and the per-service
//! `AWS_ENDPOINT_URL_SQS` / `_DYNAMODB` / `_SSM` / `_LAMBDA` (unless
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), so the same binaries run
//! against AWS, LocalStack, ministack or moto.
//!
//! TLS is rustls with ring, the one TLS stack of the build (reqwest uses the
//! same), instead of the SDK's default aws-lc, which is slower to compile
//! and larger in the Lambda zip.

use super::AwsError;
use aws_sdk_sqs::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider, SharedHttpClient,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Builder;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
pub use aws_types::SdkConfig;
use std::sync::Arc;

/// One SQS and one DynamoDB client over a shared SDK configuration.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The configuration the clients were built from, for callers that need
    /// another service's client with the same endpoint, credentials and TLS.
    pub config: SdkConfig,
}

/// Where variables are read: the process environment, or a test's map.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl AwsClients {
    /// Reads region, credentials and endpoint through aws-config's chain
    /// (the standard AWS variables, profile files, SSO, IMDS…).
    #[cfg(feature = "aws-profiles")]
    pub async fn from_env() -> Self {
        Self::from_config(sdk_config().await)
    }

    /// Reads region, credentials and endpoint from the variables Lambda
    /// sets; a missing one is an error that names it.
    pub fn from_lambda_env(env: Env) -> Result<Self, AwsError> {
        Ok(Self::from_config(lambda_env_config(env)?))
    }

    pub fn from_config(config: SdkConfig) -> Self {
        AwsClients {
            sqs: aws_sdk_sqs::Client::new(&config),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            config,
        }
    }
}

/// The rustls + ring HTTP client every SDK client here uses.
pub fn https_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration from Lambda's variables: `AWS_REGION` (or
/// `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN` and the endpoint variables of the module doc.
pub fn lambda_env_config(env: Env) -> Result<SdkConfig, AwsError> {
    let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    let (id, secret) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"));
    let missing: Vec<&'static str> = [
        ("AWS_REGION", region.is_none()),
        ("AWS_ACCESS_KEY_ID", id.is_none()),
        ("AWS_SECRET_ACCESS_KEY", secret.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, absent)| absent.then_some(name))
    .collect();
    let (Some(region), Some(id), Some(secret)) = (region, id, secret) else {
        return Err(AwsError::MissingEnv(missing));
    };
    let credentials = Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment");
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client())
        .time_source(aws_smithy_async::time::SystemTimeSource::new());
    config.set_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep());
    let ignore = var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if !ignore {
        config.set_endpoint_url(var("AWS_ENDPOINT_URL"));
        config = config.service_config(ServiceEndpoints(env));
    }
    Ok(config.build())
}

/// `AWS_ENDPOINT_URL_<SERVICE>`, which the SDK's clients ask for by
/// service before they fall back to `AWS_ENDPOINT_URL`.
struct ServiceEndpoints(Env);

impl std::fmt::Debug for ServiceEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceEndpoints(environment)")
    }
}

impl LoadServiceConfig for ServiceEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        (self.0)(&format!("{}_{service}", key.env())).filter(|v| !v.trim().is_empty())
    }
}

/// The SDK configuration through aws-config's chain, with the rustls +
/// ring HTTP client.
#[cfg(feature = "aws-profiles")]
pub async fn sdk_config() -> SdkConfig {
    config_loader().load().await
}

/// aws-config's loader with the rustls + ring HTTP client, for callers that
/// set the endpoint, region or credentials themselves (tests, tools).
#[cfg(feature = "aws-profiles")]
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Arc::new(move |k| map.get(k).cloned())
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
        ("AWS_SESSION_TOKEN", "session"),
    ];

    #[test]
    fn a_missing_variable_is_named() {
        let err = lambda_env_config(env(&[("AWS_REGION", "eu-west-1")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("AWS_ACCESS_KEY_ID") && text.contains("AWS_SECRET_ACCESS_KEY"));
        assert!(!text.contains("AWS_REGION"), "{text}");
        let err = lambda_env_config(env(&LAMBDA[1..])).unwrap_err();
        assert_eq!(err.to_string(), "missing environment variables: AWS_REGION");
    }

    /// An HTTP server that records each request's head and answers 400.
    fn recorder() -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().map_while(Result::ok) {
                let mut buf = vec![0; 16 * 1024];
                let n = conn.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                if tx.send(head).is_err() {
                    return;
                }
                let answer =
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                conn.write_all(answer).ok();
            }
        });
        (url, rx)
    }

    #[tokio::test]
    async fn each_service_is_signed_for_the_region_and_sent_to_its_endpoint() {
        let (general, to_general) = recorder();
        let (sqs_only, to_sqs) = recorder();
        let mut vars = LAMBDA.to_vec();
        vars.push(("AWS_ENDPOINT_URL", &general));
        vars.push(("AWS_ENDPOINT_URL_SQS", &sqs_only));
        let clients = AwsClients::from_lambda_env(env(&vars)).unwrap();
        let wait = std::time::Duration::from_secs(10);

        assert!(clients.sqs.list_queues().send().await.is_err());
        let head = to_sqs
            .recv_timeout(wait)
            .expect("SQS went to AWS_ENDPOINT_URL_SQS");
        assert!(
            head.contains("x-amz-target: amazonsqs.listqueues"),
            "{head}"
        );
        assert!(head.contains("credential=akidexample/"), "{head}");
        assert!(head.contains("/eu-west-1/sqs/aws4_request"), "{head}");
        assert!(head.contains("x-amz-security-token: session"), "{head}");

        assert!(clients.dynamodb.list_tables().send().await.is_err());
        let head = to_general
            .recv_timeout(wait)
            .expect("DynamoDB went to AWS_ENDPOINT_URL");
        assert!(
            head.contains("x-amz-target: dynamodb_20120810.listtables"),
            "{head}"
        );
    }

    #[test]
    fn region_and_endpoints_come_from_the_environment() {
        let mut vars = LAMBDA.to_vec();
        vars.push(("AWS_DEFAULT_REGION", "us-east-2"));
        let config = lambda_env_config(env(&vars)).unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        let fallback = lambda_env_config(env(&[
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ]))
        .unwrap();
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("us-east-2"));
    }

    #[test]
    fn endpoints_can_be_ignored() {
        let mut vars = LAMBDA.to_vec();
        vars.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"));
        vars.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        let config = lambda_env_config(env(&vars)).unwrap();
        assert_eq!(config.endpoint_url(), None);
        assert!(config.service_config().is_none());
    }
}
