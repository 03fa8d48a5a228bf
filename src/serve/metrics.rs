//! Counters for operations, and a tiny HTTP/1.1 endpoint: `/healthz` and Prometheus text
//! metrics at `/metrics`. API request and 429 counts are not exported: the Genesys client does
//! not count them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Everything `/metrics` shows. Shared by the serve loop and the endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (campaign, result) -> runs; result: ok, failed, missed, overlap, outside_window, leased_elsewhere.
    runs: BTreeMap<(String, String), u64>,
    /// (campaign, outcome) -> messages; outcome: sent, failed, uncertain, capped, not_sent.
    sends: BTreeMap<(String, String), u64>,
    /// (campaign, reason) -> skipped session-and-campaign pairs.
    skips: BTreeMap<(String, String), u64>,
    last_success: BTreeMap<String, Timestamp>,
    reloads: BTreeMap<String, u64>,
}

impl Metrics {
    pub fn run(&self, campaign: &str, result: &str) {
        self.runs(campaign, result, 1);
    }

    /// `n` occurrences with one result (e.g. the missed ones of a downtime).
    pub fn runs(&self, campaign: &str, result: &str, n: usize) {
        *self.lock().runs.entry((campaign.to_owned(), result.to_owned())).or_default() += n as u64;
    }

    pub fn sends(&self, campaign: &str, outcome: &str, n: usize) {
        *self.lock().sends.entry((campaign.to_owned(), outcome.to_owned())).or_default() += n as u64;
    }

    pub fn skips(&self, campaign: &str, reason: &str, n: usize) {
        *self.lock().skips.entry((campaign.to_owned(), reason.to_owned())).or_default() += n as u64;
    }

    pub fn success(&self, campaign: &str, at: Timestamp) {
        self.lock().last_success.insert(campaign.to_owned(), at);
    }

    pub fn reload(&self, result: &str) {
        *self.lock().reloads.entry(result.to_owned()).or_default() += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        let mut family = |name: &str, help: &str, kind: &str, rows: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in rows {
                out.push_str(&format!("{name}{{{labels}}} {value}\n"));
            }
        };
        let pairs = |map: &BTreeMap<(String, String), u64>, key: &str| -> Vec<(String, String)> {
            map.iter()
                .map(|((c, k), v)| (format!("campaign=\"{}\",{key}=\"{}\"", escape(c), escape(k)), v.to_string()))
                .collect()
        };
        family("runner_runs_total", "Scheduled occurrences by result.", "counter", pairs(&inner.runs, "result"));
        family("runner_sends_total", "Messages by delivery outcome.", "counter", pairs(&inner.sends, "outcome"));
        family(
            "runner_skips_total",
            "Skipped session-and-campaign pairs by reason.",
            "counter",
            pairs(&inner.skips, "reason"),
        );
        family(
            "runner_last_success_timestamp_seconds",
            "The scheduled time of the last successful run of each campaign (Unix time).",
            "gauge",
            inner
                .last_success
                .iter()
                .map(|(c, t)| (format!("campaign=\"{}\"", escape(c)), t.as_second().to_string()))
                .collect(),
        );
        family(
            "runner_reloads_total",
            "Campaign reloads by result (applied or invalid).",
            "counter",
            inner.reloads.iter().map(|(r, n)| (format!("result=\"{}\"", escape(r)), n.to_string())).collect(),
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The answer to one request line: (status line, content type, body).
pub fn respond(request_line: &str, metrics: &Metrics) -> (&'static str, &'static str, String) {
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    if method != "GET" && method != "HEAD" {
        return ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".to_owned());
    }
    match path {
        "/healthz" => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_owned()),
        "/metrics" => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.render()),
        _ => ("404 Not Found", "text/plain; charset=utf-8", "not found: try /healthz or /metrics\n".to_owned()),
    }
}

/// Serves `/healthz` and `/metrics` until the task is dropped. One request per connection.
pub async fn serve(listener: tokio::net::TcpListener, metrics: std::sync::Arc<Metrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            // Read up to the end of the headers (or 8 KiB), at most 5 seconds.
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                while len < buf.len() {
                    match stream.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => len += n,
                    }
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let text = String::from_utf8_lossy(&buf[..len]);
            let line = text.lines().next().unwrap_or("");
            let (status, content_type, body) = respond(line, &metrics);
            let head_only = line.starts_with("HEAD ");
            let mut answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            if !head_only {
                answer.push_str(&body);
            }
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.run("cart", "ok");
        m.run("cart", "ok");
        m.sends("cart", "sent", 3);
        m.skips("cart", "outside_window", 2);
        m.success("cart", "2026-12-01T09:00:00Z".parse().unwrap());
        let text = m.render();
        assert!(
            text.contains("# TYPE runner_runs_total counter\nrunner_runs_total{campaign=\"cart\",result=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("runner_sends_total{campaign=\"cart\",outcome=\"sent\"} 3\n"));
        assert!(text.contains("runner_skips_total{campaign=\"cart\",reason=\"outside_window\"} 2\n"));
        assert!(text.contains("runner_last_success_timestamp_seconds{campaign=\"cart\"} 1796115600\n"), "{text}");
        assert!(text.contains("# HELP runner_last_success_timestamp_seconds The scheduled time of the last"), "{text}");
        m.runs("cart", "missed", 4);
        assert!(m.render().contains("runner_runs_total{campaign=\"cart\",result=\"missed\"} 4\n"));
        assert_eq!(respond("GET /metrics HTTP/1.1", &m).1, "text/plain; version=0.0.4; charset=utf-8");
        assert_eq!(respond("GET /healthz HTTP/1.1", &m).0, "200 OK");
        assert_eq!(respond("GET /other HTTP/1.1", &m).0, "404 Not Found");
        assert_eq!(respond("POST /metrics HTTP/1.1", &m).0, "405 Method Not Allowed");
    }

    #[tokio::test]
    async fn answers_over_tcp() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = std::sync::Arc::new(Metrics::default());
        metrics.run("a", "ok");
        let server = tokio::spawn(serve(listener, metrics));
        for (path, status) in [("/metrics", "200 OK"), ("/nope", "404 Not Found")] {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).await.unwrap();
            assert!(answer.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{answer}");
        }
        server.abort();
    }
}
