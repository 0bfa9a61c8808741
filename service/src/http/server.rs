//! The accept loop. At most `max_connections` are open at once, and at most
//! `max_connections_per_client` from one address; a connection past either cap gets a
//! short canned refusal (503, or 429 for one address) and is closed at once, so an
//! abusive client meets a clear answer instead of exhausting descriptors. The cap is
//! also kept below the process's descriptor limit. Each connection has a header
//! deadline, a body deadline and gap, an idle timeout (no byte moved and no request being
//! handled: idle keep-alive connections, and clients that stop reading their answers), a
//! write timeout (an answer the client takes too slowly) and a small send buffer;
//! on shutdown every connection finishes its request and closes, and `serve` returns
//! once all of them are gone (or the drain timeout passed).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::{Body, RequestBody};
use crate::shutdown::Shutdown;

/// Answers requests; what a service hands to [`serve`].
pub trait Router: Send + Sync + 'static {
    /// The response to one request from `peer`.
    fn route(
        &self,
        req: Request<RequestBody>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response<Body>> + Send;
}

/// Limits of the HTTP server (`FRICTION_HTTP__*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Connections open at once (lowered to fit the process's descriptor limit).
    pub max_connections: usize,
    /// Connections open at once from one client address; 0 for no cap (behind a proxy,
    /// where every connection comes from the proxy's address).
    pub max_connections_per_client: usize,
    /// Time to receive a request's headers.
    pub header_timeout_ms: u64,
    /// Time to receive a request's whole body, from its headers on.
    pub body_timeout_ms: u64,
    /// Longest gap between two pieces of a body.
    pub body_gap_timeout_ms: u64,
    /// A connection that neither sends nor takes a byte for this long, while no request
    /// of it is being handled, is closed: idle keep-alive connections, and clients that
    /// stopped reading their answers.
    pub idle_timeout_ms: u64,
    /// A connection whose answer cannot be written for this long (the client reads too
    /// slowly, or a little now and then) is closed.
    pub write_timeout_ms: u64,
    /// How long shutdown waits for open connections to finish.
    pub drain_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_connections: 4096,
            max_connections_per_client: 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            body_gap_timeout_ms: 15_000,
            idle_timeout_ms: 60_000,
            write_timeout_ms: 30_000,
            drain_timeout_ms: 15_000,
        }
    }
}

impl HttpConfig {
    /// Refuses limits that would stop the server from answering anything.
    pub fn validate(&self) -> Result<(), String> {
        use crate::config::positive;
        positive("http.max_connections", self.max_connections as u64)?;
        positive("http.header_timeout_ms", self.header_timeout_ms)?;
        positive("http.body_timeout_ms", self.body_timeout_ms)?;
        positive("http.body_gap_timeout_ms", self.body_gap_timeout_ms)?;
        positive("http.idle_timeout_ms", self.idle_timeout_ms)?;
        positive("http.write_timeout_ms", self.write_timeout_ms)?;
        positive("http.drain_timeout_ms", self.drain_timeout_ms)
    }
}

/// Descriptors kept free of connections: logs, the database and broker clients, files.
const RESERVED_FDS: u64 = 64;

/// `wanted`, lowered to what the process's descriptor limit leaves for connections.
fn fit_to_fd_limit(wanted: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if !ok || limit.rlim_cur == libc::RLIM_INFINITY {
        return wanted;
    }
    let room = limit.rlim_cur.saturating_sub(RESERVED_FDS).max(1) as usize;
    if room < wanted {
        tracing::warn!(
            max_connections = wanted,
            fd_limit = limit.rlim_cur,
            using = room,
            "max_connections lowered to fit the descriptor limit (raise ulimit -n)"
        );
    }
    wanted.min(room)
}

/// Bytes the kernel may hold for one connection's unread answers. Answers are small;
/// without a bound a client that pipelines requests and never reads makes the server
/// produce megabytes per connection before the idle timer can notice.
const SEND_BUFFER_BYTES: libc::c_int = 64 * 1024;

fn limit_send_buffer(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let size = SEND_BUFFER_BYTES;
    // SAFETY: setsockopt reads `size` for the length given; the descriptor is open.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Open connections per client address.
#[derive(Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of a client; counted until dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn admit(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<ClientSlot> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(ip).or_insert(0);
        if cap > 0 && *count >= cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.clients.open.lock() {
            if let Some(count) = open.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

/// Refused connections being closed gracefully at once; past it they are just dropped.
const MAX_LINGERING: usize = 128;

/// Answers a connection past a cap and closes it. The answer fits in the socket's send
/// buffer; the connection then stops sending and drains what the client sent for up to
/// a second before closing, so the kernel does not reset it and the client reads the
/// answer instead of a connection error.
fn refuse(stream: TcpStream, lingering: &Arc<Semaphore>, status: &str, message: &str) {
    let body =
        format!(r#"{{"success":false,"error":"too_many_connections","message":"{message}"}}"#);
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let drain = async {
            let mut left: usize = 64 * 1024;
            while left > 0 {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    });
}

/// Logs at most once per interval, counting what it did not log.
struct Throttled {
    last: Option<Instant>,
    skipped: u64,
}

impl Throttled {
    const EVERY: Duration = Duration::from_secs(10);

    fn ready(&mut self) -> Option<u64> {
        if self.last.is_some_and(|at| at.elapsed() < Self::EVERY) {
            self.skipped += 1;
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.skipped))
    }
}

/// Serves `router` on `listener` until `shutdown`, then drains open connections.
pub async fn serve<R: Router>(
    listener: TcpListener,
    router: Arc<R>,
    config: &HttpConfig,
    mut shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(fit_to_fd_limit(
        config.max_connections.max(1),
    )));
    let clients = Arc::new(PerClient::default());
    let lingering = Arc::new(Semaphore::new(MAX_LINGERING));
    let (mut accept_errors, mut refusals) = (
        Throttled {
            last: None,
            skipped: 0,
        },
        Throttled {
            last: None,
            skipped: 0,
        },
    );
    // Every connection task holds a sender; `recv` yields `None` once all are gone.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_timeout_ms))
        .keep_alive(true);
    let builder = Arc::new(builder);
    let limits = Limits {
        body: Duration::from_millis(config.body_timeout_ms),
        body_gap: Duration::from_millis(config.body_gap_timeout_ms),
        idle: Duration::from_millis(config.idle_timeout_ms),
        write: Duration::from_millis(config.write_timeout_ms),
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors, most likely: back off instead of spinning.
                    if let Some(skipped) = accept_errors.ready() {
                        tracing::warn!(error = %e, skipped, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refuse(
                stream,
                &lingering,
                "503 Service Unavailable",
                "the server is at its connection limit; retry shortly",
            );
            if let Some(skipped) = refusals.ready() {
                tracing::warn!(skipped, "connection refused: at max_connections");
            }
            continue;
        };
        let Some(client) = clients.admit(peer.ip(), config.max_connections_per_client) else {
            refuse(
                stream,
                &lingering,
                "429 Too Many Requests",
                "too many connections from this address; close some and retry",
            );
            if let Some(skipped) = refusals.ready() {
                tracing::warn!(%peer, skipped, "connection refused: at max_connections_per_client");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        limit_send_buffer(&stream);
        let connection = Connection {
            router: router.clone(),
            builder: builder.clone(),
            limits,
            shutdown: shutdown.clone(),
            _permit: permit,
            _client: client,
            _open: open_tx.clone(),
        };
        tokio::spawn(connection.run(stream, peer));
    }
    drop(open_tx);
    let drain = Duration::from_millis(config.drain_timeout_ms);
    if tokio::time::timeout(drain, open_rx.recv()).await.is_err() {
        tracing::warn!(
            drain_ms = config.drain_timeout_ms,
            "connections still open after the drain timeout"
        );
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    body: Duration,
    body_gap: Duration,
    idle: Duration,
    write: Duration,
}

struct Connection<R> {
    router: Arc<R>,
    builder: Arc<http1::Builder>,
    limits: Limits,
    shutdown: Shutdown,
    _permit: OwnedSemaphorePermit,
    _client: ClientSlot,
    _open: mpsc::Sender<()>,
}

impl<R: Router> Connection<R> {
    async fn run(mut self, stream: TcpStream, peer: SocketAddr) {
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let (router, limits) = (self.router.clone(), self.limits);
        let requests = activity.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let router = router.clone();
            let busy = Busy::start(requests.clone());
            async move {
                let _busy = busy;
                let req = req.map(|body| RequestBody::new(body, limits.body, limits.body_gap));
                Ok::<_, Infallible>(router.route(req, peer).await)
            }
        });
        let conn = self.builder.serve_connection(io, service);
        tokio::pin!(conn);
        let idle = watch(activity, self.limits.idle, self.limits.write);
        tokio::pin!(idle);
        let mut draining = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = &mut idle => {
                    tracing::debug!(%peer, "closing a connection without progress");
                    return;
                }
                _ = self.shutdown.wait(), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// What the idle and write timers watch on one connection.
struct Activity {
    /// Moves on every read or write that moved bytes, and when a request ends.
    progress: AtomicU64,
    /// Requests being handled now.
    handling: AtomicUsize,
    /// When the current write started waiting for the client (ms from `born`; 0: none).
    write_blocked_at: AtomicU64,
    born: Instant,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            progress: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            write_blocked_at: AtomicU64::new(0),
            born: Instant::now(),
        }
    }
}

impl Activity {
    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64 + 1
    }
}

/// Counts a request as handled until dropped (also when its handler is cancelled).
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Self {
        activity.handling.fetch_add(1, Ordering::Relaxed);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
        self.0.progress.fetch_add(1, Ordering::Relaxed);
    }
}

/// Resolves once a whole `idle` window passed without a byte read or written and with no
/// request being handled (a slow handler never loses its connection to the idle timer),
/// or once a write has waited `write` for the client to take it.
async fn watch(activity: Arc<Activity>, idle: Duration, write: Duration) {
    let tick = (idle.min(write) / 2).min(Duration::from_secs(1));
    let mut seen = activity.progress.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let progress = activity.progress.load(Ordering::Relaxed);
        if progress != seen {
            seen = progress;
            quiet_since = Instant::now();
        }
        let idle_now = activity.handling.load(Ordering::Relaxed) == 0;
        if idle_now && quiet_since.elapsed() >= idle {
            return;
        }
        let blocked_at = activity.write_blocked_at.load(Ordering::Relaxed);
        if blocked_at != 0 && activity.now_ms() - blocked_at >= write.as_millis() as u64 {
            return;
        }
    }
}

/// A socket that counts the reads and writes that moved bytes (one relaxed add each).
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    /// Notes when a write starts waiting for the client, and when it stops.
    fn blocked(&self, pending: bool) {
        let at = &self.activity.write_blocked_at;
        match pending {
            true if at.load(Ordering::Relaxed) == 0 => {
                at.store(self.activity.now_ms(), Ordering::Relaxed)
            }
            true => {}
            false => at.store(0, Ordering::Relaxed),
        }
    }

    fn moved<T>(&self, result: Poll<io::Result<T>>, bytes: bool) -> Poll<io::Result<T>> {
        if bytes && matches!(result, Poll::Ready(Ok(_))) {
            self.activity.progress.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() > before;
        this.moved(result, read)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.blocked(result.is_pending());
        this.moved(result, !buf.is_empty())
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.blocked(result.is_pending());
        this.moved(result, true)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
