//! The AWS SDK clients, built once per process (Lambda init or server start)
//! and shared: each holds a connection pool, and building one reads the
//! environment and the credential chain, which is too slow for every call.
//!
//! `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_SQS` /
//! `AWS_ENDPOINT_URL_DYNAMODB`) are honoured by aws-config itself, so the
//! same binaries run against AWS, LocalStack, ministack or moto.
//!
//! TLS is rustls with ring, the one TLS stack of the build (reqwest uses the
//! same), instead of the SDK's default aws-lc, which is slower to compile
//! and larger in the Lambda zip.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Builder;

/// One SQS and one DynamoDB client over a shared SDK configuration.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The configuration the clients were built from, for callers that need
    /// another service's client with the same endpoint, credentials and TLS.
    pub config: SdkConfig,
}

impl AwsClients {
    /// Reads region, credentials and endpoint from the environment (the
    /// standard AWS variables and profile files).
    pub async fn from_env() -> Self {
        Self::from_config(sdk_config().await)
    }

    pub fn from_config(config: SdkConfig) -> Self {
        AwsClients {
            sqs: aws_sdk_sqs::Client::new(&config),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            config,
        }
    }
}

/// The SDK configuration from the environment, with the rustls + ring HTTP client.
pub async fn sdk_config() -> SdkConfig {
    config_loader().load().await
}

/// aws-config's loader with the rustls + ring HTTP client, for callers that
/// set the endpoint, region or credentials themselves (tests, tools).
pub fn config_loader() -> aws_config::ConfigLoader {
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http)
}
