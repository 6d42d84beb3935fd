//! The ingress Lambda function: API Gateway HTTP API (payload v2) requests
//! to `clawhooks::ingress`. Wiring only; everything is built once at init.
//!
//! Environment: the config (`CLAWHOOKS_CONFIG`, files bundled beside the
//! bootstrap, or `CLAWHOOKS_CONFIG_JSON`) and the resource names of
//! `clawhooks::aws` (set by `infra/template.yaml`).

use clawhooks::config::scope::Function;
use clawhooks::ingress::Ingress;
use clawhooks::lambda::{self, Init, LambdaError};

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    lambda::init_logging();
    let init = Init::for_function(Function::Ingress).await?;
    lambda::run_http(Ingress {
        config: init.config,
        backend: init.backend,
        clock: init.clock,
    })
    .await
}
