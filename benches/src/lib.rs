//! Shared pieces of the benchmarks: a load generator (closed loop for throughput, open
//! loop at a fixed rate for latency), process CPU and memory readings, and the request
//! body every HTTP benchmark sends. Figures are reported as ratios against a baseline
//! measured in the same run, because the machines are shared and noisy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A ~9 KB batch of 20 realistic events of every kind, fresh ids each call.
pub fn twenty_event_body(now_ms: i64) -> String {
    let events: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            let mut e = serde_json::json!({
                "event_id": uuid::Uuid::new_v4().to_string(),
                "session_id": "s_7f3c2a9e1b4d4e21",
                "page_view_id": "pv_41d2c9a0",
                "timestamp": now_ms,
                "url": "https://shop.example.com/checkout/payment",
                "viewport_width": 1280,
                "viewport_height": 800,
            });
            let extra = match i % 5 {
                0 | 1 => serde_json::json!({"kind": "heatmap", "type": "click", "x": 640 + i, "y": 912, "client_x": 640, "client_y": 412,
                    "scroll_y": 500, "selector": "main#content > form.checkout > div.actions:nth-of-type(2) > button.primary", "element_tag": "button"}),
                2 => serde_json::json!({"kind": "friction", "type": "rage_click", "click_count": 4, "x": 640, "y": 912,
                    "selector": "main#content > form.checkout > div.actions:nth-of-type(2) > button.primary", "element_tag": "button"}),
                3 => serde_json::json!({"kind": "friction", "type": "javascript_error", "message": "TypeError: Cannot read properties of undefined (reading 'total')",
                    "source": "https://shop.example.com/static/js/app.3f9c2a.js", "line": 120, "column": 17,
                    "stack": "TypeError: Cannot read properties of undefined (reading 'total')\n    at renderTotal (app.js:120:17)\n    at updateCart (app.js:88:5)", "count": 1}),
                _ => serde_json::json!({"kind": "performance", "type": "loadTime", "value": 1843.2}),
            };
            e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            e
        })
        .collect();
    serde_json::json!({ "events": events }).to_string()
}

/// User + system CPU time of a process.
pub fn process_cpu(pid: u32) -> Duration {
    stat_cpu(&pid.to_string(), 11)
}

/// User + system CPU time of this process's children that have ended and been waited
/// for (a generator run with `Command::output`): the difference of two readings around
/// one such run is that run's CPU.
pub fn children_cpu() -> Duration {
    stat_cpu("self", 13)
}

/// The sum of the two tick counts from field `at` of `/proc/<pid>/stat`, counted after
/// the command name.
fn stat_cpu(pid: &str, at: usize) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(at).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(at + 1).and_then(|v| v.parse().ok()).unwrap_or(0);
    // Linux reports in clock ticks of 1/100 s on every platform these benches run on.
    Duration::from_millis(ticks * 10)
}

/// The machine's CPU time so far, all cores, from `/proc/stat`: (idle, total) in clock
/// ticks; `None` when it cannot be read. Two readings give the share of the machine left
/// idle between them.
pub fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // user nice system idle iowait irq softirq steal; guest time is inside user and nice.
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((idle, ticks.iter().sum()))
}

/// The share (0-1) of the machine's CPU left idle between two [`machine_cpu`] readings.
pub fn idle_share(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((idle0, total0), (idle1, total1)) = (before?, after?);
    let total = total1.checked_sub(total0).filter(|t| *t > 0)?;
    Some(idle1.saturating_sub(idle0) as f64 / total as f64)
}

/// Resident set size of a process in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Result of a load run.
#[derive(Debug, Clone)]
pub struct Load {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Other answers and transport errors.
    pub failed: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Sorted latencies of successful requests.
    pub latencies: Vec<Duration>,
}

impl Load {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency percentile (0-100).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[i]
    }
}

/// Builds the request for each send.
pub type MakeRequest = Arc<dyn Fn() -> http::Request<Full<Bytes>> + Send + Sync>;

/// Sends requests for `duration`: closed loop over `connections` when `rate` is None,
/// else open loop at `rate` requests per second: a pacing task releases each request at
/// its due time, and the first idle connection sends it.
pub async fn load(
    make: MakeRequest,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
) -> Load {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(1 << 16)));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    // Open loop only: the pacer's due times, shared by the connections.
    let (schedule, due) = match rate {
        Some(_) => {
            let (schedule, due) = tokio::sync::mpsc::unbounded_channel();
            (Some(schedule), Some(Arc::new(tokio::sync::Mutex::new(due))))
        }
        None => (None, None),
    };
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, make, ok, failed, latencies, stop, due) = (
            client.clone(),
            make.clone(),
            ok.clone(),
            failed.clone(),
            latencies.clone(),
            stop.clone(),
            due.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            loop {
                // At a fixed rate, latency counts from when the request was due, not
                // from when it went out: a late send is time the client waited. Every
                // request due before the end is sent, so a stall at the end is counted.
                let sent = match &due {
                    Some(due) => match due.lock().await.recv().await {
                        Some(at) => at,
                        None => break,
                    },
                    None if stop.load(Ordering::Relaxed) => break,
                    None => Instant::now(),
                };
                match client.request(make()).await {
                    Ok(resp) => {
                        let good = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        if good {
                            ok.fetch_add(1, Ordering::Relaxed);
                            local.push(sent.elapsed());
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies.lock().unwrap().extend(local);
        }));
    }
    let pacer = rate
        .zip(schedule)
        .map(|(rate, schedule)| tokio::spawn(pace(rate, schedule, stop.clone())));
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    if let Some(pacer) = pacer {
        let _ = pacer.await;
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort();
    Load {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed,
        latencies,
    }
}

/// Releases due times at `rate` per second into `schedule` until `stop`. tokio's timer
/// ticks every millisecond, so a release can be up to that late; latency still counts
/// from the due time (bare hyper at the same rate shows what this adds).
async fn pace(
    rate: f64,
    schedule: tokio::sync::mpsc::UnboundedSender<Instant>,
    stop: Arc<AtomicBool>,
) {
    let start = Instant::now();
    for next in 0u64.. {
        let due = start + Duration::from_secs_f64(next as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        if stop.load(Ordering::Relaxed) || schedule.send(due).is_err() {
            return;
        }
    }
}

/// One figure of a benchmark, printed as a row of the results table that `./dev/bench`
/// collects into `benches/RESULTS.md`. `limit` says what holds the figure back and is
/// shown only when the target is not met.
pub fn report(figure: &str, value: &str, baseline: &str, target: &str, met: bool, limit: &str) {
    let verdict = match met {
        true => "met".to_string(),
        false => format!("not met: {limit}"),
    };
    println!("RESULT | {figure} | {value} | {baseline} | {target} | {verdict} |");
}

/// A closed-loop run by wrk, an established generator.
#[derive(Debug, Clone, Copy)]
pub struct WrkRun {
    /// Requests/s it measured.
    pub rps: f64,
    /// wrk's own CPU time per request it completed.
    pub cpu_per_request: Duration,
}

/// Runs wrk (2 threads) for `duration`, POSTing `body` to `url` with `key` over
/// `connections` connections; None when wrk is not installed or printed no rate.
pub fn wrk(
    url: &str,
    key: Option<&str>,
    body: &[u8],
    connections: usize,
    duration: Duration,
) -> Option<WrkRun> {
    let dir = std::env::temp_dir().join(format!("friction-wrk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let body_path = dir.join("body.json");
    std::fs::write(&body_path, body).ok()?;
    let script = dir.join("post.lua");
    let key_line = key.map_or(String::new(), |k| {
        format!("wrk.headers[\"x-api-key\"] = \"{k}\"\n")
    });
    std::fs::write(
        &script,
        format!(
            "local f = io.open(\"{}\", \"rb\")\nwrk.method = \"POST\"\nwrk.body = f:read(\"*a\")\nf:close()\nwrk.headers[\"Content-Type\"] = \"application/json\"\n{key_line}",
            body_path.display()
        ),
    )
    .ok()?;
    let cpu = children_cpu();
    let out = std::process::Command::new("wrk")
        .arg("-t2")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs()))
        .arg("-s")
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let cpu = children_cpu().saturating_sub(cpu);
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    let (rps, requests, non_2xx) = wrk_report(&text)?;
    if non_2xx > 0 {
        eprintln!("wrk saw {non_2xx} non-2xx answers from {url}");
    }
    Some(WrkRun {
        rps,
        cpu_per_request: cpu / u32::try_from(requests.max(1)).unwrap_or(u32::MAX),
    })
}

/// Requests/s, requests completed and non-2xx answers from wrk's printed summary.
pub fn wrk_report(text: &str) -> Option<(f64, u64, u64)> {
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())?;
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Some((rps, requests, non_2xx))
}

/// An open-loop run by oha, an established generator.
#[derive(Debug, Clone, Copy)]
pub struct OhaRun {
    /// Requests/s it sent.
    pub rps: f64,
    /// Answers that were 2xx.
    pub ok: u64,
    /// Other answers and transport errors.
    pub failed: u64,
    /// Median latency, seconds.
    pub p50: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
    /// 99.9th percentile, seconds.
    pub p999: f64,
}

/// What oha reports for a request it cancelled itself at the end of the run.
const OHA_DEADLINE: &str = "aborted due to deadline";

/// Runs oha (`BENCH_OHA`, else `oha` on the PATH) at `rate` requests/s over
/// `connections`, POSTing `body` to `url` with `key`, with its latency correction: each
/// latency counts from when its pacer released the request, not from when a connection
/// was free to send it. Requests under way at the end are waited for (`-w`), as the
/// bench's own generator does. The error says whether oha is missing or failed.
pub fn oha(
    url: &str,
    key: Option<&str>,
    body: &[u8],
    connections: usize,
    duration: Duration,
    rate: f64,
) -> Result<OhaRun, String> {
    let body_path = std::env::temp_dir().join(format!("friction-oha-{}.json", std::process::id()));
    std::fs::write(&body_path, body).map_err(|e| format!("body file: {e}"))?;
    let program = std::env::var("BENCH_OHA").unwrap_or("oha".into());
    let mut command = std::process::Command::new(&program);
    command
        .args(["--no-tui", "--output-format", "json"])
        .args(["--latency-correction", "-w"])
        .args(["-z", &format!("{}s", duration.as_secs())])
        .args(["-c", &connections.to_string(), "-q", &rate.to_string()])
        .args(["-m", "POST", "-T", "application/json", "-D"])
        .arg(&body_path);
    if let Some(k) = key {
        command.args(["-H", &format!("x-api-key: {k}")]);
    }
    let out = command.arg(url).output();
    let _ = std::fs::remove_file(&body_path);
    let out = out.map_err(|e| format!("{program} not run ({e}; ./dev/bench installs it)"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first_line = stderr.lines().next().unwrap_or("no message");
    match out.status.success() {
        true => oha_report(&out.stdout).ok_or(format!("unreadable report ({first_line})")),
        false => Err(format!("oha failed: {} ({first_line})", out.status)),
    }
}

/// Reads oha's JSON report. Transport errors (refused connections, timeouts) count as
/// failed beside the non-2xx answers; oha's own cancellations at the end do not.
pub fn oha_report(json: &[u8]) -> Option<OhaRun> {
    let report: serde_json::Value = serde_json::from_slice(json).ok()?;
    let percentile = |p: &str| report["latencyPercentiles"][p].as_f64();
    let sum = |field: &str, keep: fn(&str) -> bool| -> u64 {
        report[field].as_object().map_or(0, |counts| {
            counts
                .iter()
                .filter(|(name, _)| keep(name))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        })
    };
    Some(OhaRun {
        rps: report["summary"]["requestsPerSec"].as_f64()?,
        ok: sum("statusCodeDistribution", |code| code.starts_with('2')),
        failed: sum("statusCodeDistribution", |code| !code.starts_with('2'))
            + sum("errorDistribution", |error| error != OHA_DEADLINE),
        p50: percentile("p50")?,
        p99: percentile("p99")?,
        p999: percentile("p99.9")?,
    })
}

/// A binary built next to the running benchmark (same target directory and profile).
pub fn sibling_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let path = exe.parent().expect("exe dir").join(name);
    assert!(
        path.exists(),
        "{} missing: build it with the benchmarks (see benches/README.md)",
        path.display()
    );
    path
}

/// Waits until a TCP port accepts connections.
pub async fn wait_for(addr: &str) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{addr} never opened");
}

/// Seconds from an env var, for shorter runs while developing.
pub fn secs(var: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// A process the benchmark started, killed when dropped.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Points an ingest command at the local stack: public `listen` address, an ops port of
/// its own (returned, for `/metrics`), the stack's broker, database `ch` and raw `topic`,
/// warnings only.
pub fn ingest_env(
    command: &mut std::process::Command,
    listen: &str,
    ch: &friction_service::config::ClickHouseConfig,
    topic: &str,
) -> String {
    let stack = friction_testkit::stack();
    let ops = format!("127.0.0.1:{}", friction_testkit::free_port());
    command
        .env("FRICTION_LISTEN", listen)
        .env("FRICTION_OPS_LISTEN", &ops)
        .env(
            "FRICTION_KAFKA_BROKERS",
            stack.get("KAFKA_BROKERS").expect("the stack has a broker"),
        )
        .env("FRICTION_CLICKHOUSE_URL", &ch.clickhouse_url)
        .env("FRICTION_CLICKHOUSE_DATABASE", &ch.clickhouse_database)
        .env("FRICTION_RAW_TOPIC", topic)
        .env("RUST_LOG", "warn");
    ops
}

/// The cumulative buckets of a Prometheus histogram scraped from `http://{ops}/metrics`:
/// (upper bound in seconds, observations at or below it), in order; empty when the scrape
/// fails. `labels` picks one series of a labelled histogram, written as the exposition
/// writes them before `le` (`route="events",`); empty for an unlabelled one.
pub fn histogram_buckets(ops: &str, name: &str, labels: &str) -> Vec<(f64, u64)> {
    use std::io::{Read, Write};
    let mut text = String::new();
    let scraped = std::net::TcpStream::connect(ops).and_then(|mut stream| {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {ops}\r\nConnection: close\r\n\r\n"
        )?;
        stream.read_to_string(&mut text)
    });
    match scraped {
        Ok(_) => parse_buckets(&text, name, labels),
        Err(_) => Vec::new(),
    }
}

/// The buckets of one histogram series in a Prometheus text exposition.
fn parse_buckets(text: &str, name: &str, labels: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{{labels}le=\"");
    text.lines()
        .filter_map(|line| {
            let (le, count) = line.strip_prefix(&prefix)?.split_once("\"} ")?;
            let le = match le {
                "+Inf" => f64::INFINITY,
                le => le.parse().ok()?,
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect()
}

/// What a histogram observed between two scrapes of it: cumulative buckets as in
/// [`histogram_buckets`]; `None` unless both scrapes have the same bounds and something
/// was observed.
pub fn histogram_delta(before: &[(f64, u64)], after: &[(f64, u64)]) -> Option<Vec<(f64, u64)>> {
    if before.is_empty() || before.len() != after.len() {
        return None;
    }
    let delta = before
        .iter()
        .zip(after)
        .map(|(&(b, n0), &(a, n1))| (b == a).then(|| (a, n1.saturating_sub(n0))))
        .collect::<Option<Vec<_>>>()?;
    (delta.last()?.1 > 0).then_some(delta)
}

/// The `p`th percentile (0-100) of cumulative buckets, interpolated linearly inside its
/// bucket as Prometheus's `histogram_quantile` does: an estimate, exact only at bounds.
/// In the last, unbounded bucket it is that bucket's lower bound.
pub fn histogram_quantile(buckets: &[(f64, u64)], p: f64) -> f64 {
    let total = buckets.last().map_or(0, |b| b.1) as f64;
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = total * p / 100.0;
    let mut lower = (0.0, 0u64);
    for &(le, n) in buckets {
        if n as f64 >= rank {
            if le.is_infinite() || n == lower.1 {
                return lower.0;
            }
            let within = (rank - lower.1 as f64) / (n - lower.1) as f64;
            return lower.0 + (le - lower.0) * within;
        }
        lower = (le, n);
    }
    lower.0
}

/// The share (0-1) of the observations of cumulative buckets above `bound`, which must
/// be one of their bounds (else `None`).
pub fn histogram_share_above(buckets: &[(f64, u64)], bound: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    let at_or_below = buckets.iter().find(|(le, _)| *le == bound)?.1;
    Some(total.saturating_sub(at_or_below) as f64 / total.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oha_reports_count_errors_and_other_codes_as_failed() {
        let json = br#"{"summary":{"successRate":1.0,"requestsPerSec":99.5},
            "latencyPercentiles":{"p50":0.001,"p99":0.004,"p99.9":0.009},
            "statusCodeDistribution":{"200":96,"503":2},
            "errorDistribution":{"connection refused":2,"aborted due to deadline":5}}"#;
        let run = oha_report(json).unwrap();
        assert_eq!(run.rps, 99.5);
        assert_eq!((run.ok, run.failed), (96, 4));
        assert_eq!((run.p50, run.p99, run.p999), (0.001, 0.004, 0.009));
        assert!(oha_report(b"not json").is_none());
        // Every request failed: oha writes no percentiles.
        let none = br#"{"summary":{"requestsPerSec":0.0},"latencyPercentiles":{"p99":null}}"#;
        assert!(oha_report(none).is_none());
    }

    #[test]
    fn wrk_reports_rate_requests_and_refusals() {
        let text = "Running 8s test @ http://127.0.0.1:1/v1/events
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms    0.80ms  30.01ms   90.00%
  330000 requests in 8.00s, 60.00MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  41250.00
Transfer/sec:      7.50MB
";
        assert_eq!(wrk_report(text), Some((41250.0, 330000, 12)));
        let clean = text.replace("  Non-2xx or 3xx responses: 12\n", "");
        assert_eq!(wrk_report(&clean), Some((41250.0, 330000, 0)));
        assert_eq!(wrk_report("unable to connect to 127.0.0.1:1"), None);
    }

    #[test]
    fn children_cpu_counts_a_waited_child() {
        let before = children_cpu();
        let spin = "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done";
        let status = std::process::Command::new("sh").args(["-c", spin]).status();
        assert!(status.is_ok_and(|s| s.success()));
        assert!(children_cpu() > before);
    }

    #[test]
    fn histogram_figures_come_from_the_difference_of_two_scrapes() {
        let before = [(0.001, 10), (0.005, 20), (f64::INFINITY, 20)];
        let after = [(0.001, 60), (0.005, 110), (f64::INFINITY, 120)];
        let delta = histogram_delta(&before, &after).unwrap();
        assert_eq!(delta, [(0.001, 50), (0.005, 90), (f64::INFINITY, 100)]);
        // Rank 50 is the last of the first bucket; rank 70 half-way through the second.
        assert!((histogram_quantile(&delta, 50.0) - 0.001).abs() < 1e-12);
        assert!((histogram_quantile(&delta, 70.0) - 0.003).abs() < 1e-12);
        assert_eq!(histogram_quantile(&delta, 99.0), 0.005);
        assert_eq!(histogram_share_above(&delta, 0.005), Some(0.1));
        assert_eq!(histogram_share_above(&delta, 0.002), None);
        assert_eq!(histogram_delta(&[], &after), None);
        assert_eq!(histogram_delta(&before, &before), None);
        assert_eq!(histogram_delta(&before[..2], &after), None);
    }

    #[test]
    fn buckets_are_read_from_one_series() {
        let text = "# TYPE d histogram
d_bucket{route=\"events\",le=\"0.005\"} 7
d_bucket{route=\"events\",le=\"+Inf\"} 9
d_bucket{route=\"sdk\",le=\"0.005\"} 1
d_sum{route=\"events\"} 0.02
k_bucket{le=\"0.001\"} 3
";
        assert_eq!(
            parse_buckets(text, "d", "route=\"events\","),
            [(0.005, 7), (f64::INFINITY, 9)]
        );
        assert_eq!(parse_buckets(text, "k", ""), [(0.001, 3)]);
        assert!(parse_buckets(text, "d", "route=\"none\",").is_empty());
    }

    #[test]
    fn idle_share_needs_two_readings_apart() {
        assert_eq!(idle_share(Some((10, 100)), Some((40, 200))), Some(0.3));
        assert_eq!(idle_share(Some((10, 100)), Some((10, 100))), None);
        assert_eq!(idle_share(None, Some((10, 100))), None);
    }
}
