//! A function's secrets come from SSM Parameter Store, read with the real
//! SDK from the AWS emulator: every page, decrypted, only its own folder.

use clawhooks::aws::secrets::read_secrets;
use clawhooks_e2e::emulator;

#[tokio::test]
async fn a_function_reads_every_secret_of_its_own_folder_and_nothing_else() {
    let emu = emulator::shared();
    let ssm = aws_sdk_ssm::Client::new(&emu.sdk_config().await);
    let root = format!("/{}", emulator::unique("secrets"));
    let put = |name: String, value: String| {
        let ssm = ssm.clone();
        async move {
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .send()
                .await
                .unwrap();
        }
    };
    // More than one page (SSM answers ten at a time).
    for n in 0..13 {
        put(format!("{root}/handler/TOKEN_{n}"), format!("value-{n}")).await;
    }
    put(format!("{root}/handler/deeper/NOT_MINE"), "x".into()).await;
    put(format!("{root}/ingress/INBOUND"), "y".into()).await;

    let found = read_secrets(&ssm, &format!("{root}/handler"))
        .await
        .unwrap();
    assert_eq!(found.len(), 13, "{:?}", found.keys());
    for n in 0..13 {
        assert_eq!(
            found[&format!("TOKEN_{n}")],
            format!("value-{n}"),
            "decrypted"
        );
    }
    assert!(read_secrets(&ssm, &format!("{root}/egress"))
        .await
        .unwrap()
        .is_empty());
}
