//! A function's secrets from SSM Parameter Store: the SecureString (or
//! String) parameters directly under one path, each named after the
//! `${VAR}` it fills in the config (`/clawhooks/handler/DISCORD_TOKEN`).
//!
//! Read once at init, so a warm function makes no SSM call per event, and
//! kept out of the function's environment: `lambda:GetFunctionConfiguration`
//! shows the path, never a value. Each function's role may read its own
//! path only (`infra/template.yaml`).

use super::AwsError;
use aws_sdk_ssm::error::DisplayErrorContext;
use std::collections::BTreeMap;

/// The parameters directly under `path`, decrypted, by their last name
/// segment. Every page is read: a deployment may hold more than the ten
/// parameters SSM returns at a time.
pub async fn read_secrets(
    client: &aws_sdk_ssm::Client,
    path: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut found = BTreeMap::new();
    let mut pages = client
        .get_parameters_by_path()
        .path(path)
        .recursive(false)
        .with_decryption(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::Ssm {
            op: "GetParametersByPath",
            path: path.to_string(),
            message: DisplayErrorContext(&e).to_string(),
        })?;
        for p in page.parameters() {
            let (Some(name), Some(value)) = (p.name(), p.value()) else {
                continue;
            };
            let var = name.rsplit('/').next().unwrap_or(name);
            found.insert(var.to_string(), value.to_string());
        }
    }
    Ok(found)
}
