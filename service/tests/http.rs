//! The shared accept loop over real sockets: its connection caps, header, body and idle
//! timeouts, and a shutdown that lets the request in flight finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use friction_service::http::{self, Body, HttpConfig, RequestBody, Router};
use friction_service::shutdown::{self, Trigger};
use http_body_util::BodyExt;
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Echoes the body's length; `/slow` first waits 300 ms, `/slower` 1.5 s.
struct Echo;

impl Router for Echo {
    async fn route(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        match req.uri().path() {
            "/big" => return http::json(StatusCode::OK, vec![b' '; 8 << 20]),
            "/slow" => tokio::time::sleep(Duration::from_millis(300)).await,
            "/slower" => tokio::time::sleep(Duration::from_millis(1500)).await,
            _ => {}
        }
        match req.into_body().collect().await {
            Ok(body) => http::json(
                StatusCode::OK,
                format!("{{\"bytes\":{}}}", body.to_bytes().len()),
            ),
            Err(e) => http::json(StatusCode::REQUEST_TIMEOUT, e.to_string()),
        }
    }
}

fn limits() -> HttpConfig {
    HttpConfig {
        max_connections: 2,
        max_connections_per_client: 0,
        header_timeout_ms: 300,
        body_timeout_ms: 300,
        body_gap_timeout_ms: 300,
        idle_timeout_ms: 400,
        write_timeout_ms: 400,
        drain_timeout_ms: 5_000,
    }
}

async fn start(config: HttpConfig) -> (SocketAddr, Trigger, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = shutdown::channel();
    let task = tokio::spawn(async move {
        http::serve(listener, Arc::new(Echo), &config, shutdown).await;
    });
    (addr, trigger, task)
}

/// Reads until the peer closes or `within` passes; returns what arrived and whether the
/// connection was closed.
async fn read_all(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into(), false),
        }
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";

#[tokio::test]
async fn a_body_that_stops_halfway_times_out() {
    let (addr, _stop, _task) = start(limits()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n12")
        .await
        .unwrap();
    let (answer, _) = read_all(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 0.3 s"), "{answer}");
}

#[tokio::test]
async fn a_body_that_stalls_is_cut_before_its_total_deadline() {
    let (addr, _stop, _task) = start(HttpConfig {
        body_timeout_ms: 20_000,
        body_gap_timeout_ms: 300,
        ..limits()
    })
    .await;
    // Steady drips within the gap keep the body going…
    let mut steady = TcpStream::connect(addr).await.unwrap();
    steady
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n")
        .await
        .unwrap();
    for byte in [b"a", b"b", b"c", b"d"] {
        tokio::time::sleep(Duration::from_millis(150)).await;
        steady.write_all(byte).await.unwrap();
    }
    let (answer, _) = read_all(&mut steady, Duration::from_millis(500)).await;
    assert!(answer.contains("{\"bytes\":4}"), "{answer}");
    // …a pause longer than the gap ends it, long before the total deadline.
    let started = Instant::now();
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n12")
        .await
        .unwrap();
    let (answer, _) = read_all(&mut stalled, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("stalled"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_client_taking_its_answer_too_slowly_is_cut_off() {
    let (addr, _stop, _task) = start(HttpConfig {
        max_connections: 1,
        idle_timeout_ms: 60_000,
        write_timeout_ms: 400,
        ..limits()
    })
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(addr).await.unwrap();
    slow.write_all(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    // A byte now and then keeps the idle timer quiet, but the answer stays stuck.
    let reader = tokio::spawn(async move {
        let mut byte = [0u8; 1];
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tokio::time::timeout(Duration::from_millis(20), slow.read(&mut byte)).await;
        }
    });
    // The only slot is freed once the write timeout closes the stuck connection.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut next = TcpStream::connect(addr).await.unwrap();
    next.write_all(GET).await.unwrap();
    let (answer, _) = read_all(&mut next, Duration::from_secs(1)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    reader.abort();
}

#[tokio::test]
async fn idle_connections_and_unfinished_headers_are_closed() {
    let (addr, _stop, _task) = start(limits()).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(GET).await.unwrap();
    let (answer, closed) = read_all(&mut idle, Duration::from_secs(3)).await;
    assert!(answer.contains("{\"bytes\":0}"), "{answer}");
    assert!(closed, "an idle keep-alive connection stayed open");

    // The header timeout on its own: the idle timer is far away.
    let (addr, _stop, _task) = start(HttpConfig {
        idle_timeout_ms: 60_000,
        ..limits()
    })
    .await;
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(b"GET / HTTP/1.1\r\nhost").await.unwrap();
    let (_, closed) = read_all(&mut partial, Duration::from_secs(3)).await;
    assert!(
        closed,
        "a connection that never finished its headers stayed open"
    );
}

#[tokio::test]
async fn a_handler_slower_than_the_idle_timeout_still_answers() {
    let (addr, _stop, _task) = start(limits()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slower HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_all(&mut stream, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}

/// Opens a connection from `source` (any 127.x address is this machine) and completes
/// one request on it.
async fn held_from(addr: SocketAddr, source: [u8; 4]) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(GET).await.unwrap();
    let mut buf = [0u8; 512];
    assert!(s.read(&mut buf).await.unwrap() > 0);
    s
}

#[tokio::test]
async fn past_a_cap_a_connection_is_refused_clearly_and_others_go_on() {
    let (addr, _stop, _task) = start(HttpConfig {
        max_connections: 3,
        max_connections_per_client: 2,
        idle_timeout_ms: 60_000,
        header_timeout_ms: 60_000,
        ..limits()
    })
    .await;
    let mut held = vec![
        held_from(addr, [127, 0, 0, 2]).await,
        held_from(addr, [127, 0, 0, 2]).await,
    ];
    // A third from the same address, sending its request at once as clients do: it
    // reads a 429 (not a reset), and the connection is closed.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
    let mut third = socket.connect(addr).await.unwrap();
    third.write_all(GET).await.unwrap();
    let (answer, closed) = read_all(&mut third, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.contains("too_many_connections") && closed,
        "{answer}"
    );
    // Another address is still served, up to the global cap; past it, 503.
    held.push(held_from(addr, [127, 0, 0, 3]).await);
    let mut over = TcpStream::connect(addr).await.unwrap();
    over.write_all(GET).await.unwrap();
    let (answer, closed) = read_all(&mut over, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503") && closed, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    // A freed slot serves the next client, and the same address again once one of its
    // connections closed.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    held.push(held_from(addr, [127, 0, 0, 4]).await);
    drop(held.remove(0));
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    held.push(held_from(addr, [127, 0, 0, 2]).await);
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_then_returns() {
    let (addr, stop, task) = start(limits()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.trigger();
    let (answer, closed) = read_all(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed);
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("serve returned once the connection was done")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}
