//! The baseline of `bench/ingress`: a bare hyper server that answers every
//! request 202 with a small JSON body and does nothing else. Prints its
//! address on the first line of stdout.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("bare listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let svc = service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(
                    Response::builder()
                        .status(StatusCode::ACCEPTED)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(br#"{"ok":true}"#)))
                        .unwrap(),
                )
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
