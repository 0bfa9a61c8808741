//! The baseline: a bare hyper 1.x server that reads the body and answers the same JSON
//! ingest answers, doing nothing else.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const ANSWER: &[u8] =
    br#"{"success":true,"processed":20,"breakdown":{"friction":8,"heatmap":8,"performance":4}}"#;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes().len())
                    .unwrap_or(0);
                let mut response = hyper::Response::new(Full::new(Bytes::from_static(ANSWER)));
                if body == 0 {
                    *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
                }
                Ok::<_, Infallible>(response)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
