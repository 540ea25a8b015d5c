//! Consul-style log lines (`2026-01-02T03:04:05.678Z [INFO]  agent.server: message: key=value`)
//! to the terminal, and a hub that streams the same lines to `GET /v1/agent/monitor`.

use parking_lot::Mutex;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// One monitor: the least severe level it wants and where its lines go.
type MonitorSink = (Level, mpsc::Sender<String>);

/// Fan-out of formatted log lines to monitor subscribers.
#[derive(Clone, Default)]
pub struct LogHub {
    subscribers: Arc<Mutex<Vec<MonitorSink>>>,
}

impl LogHub {
    /// An empty hub.
    pub fn new() -> LogHub {
        LogHub::default()
    }

    /// Receive lines at `level` or more severe. Lines are dropped for a subscriber that does
    /// not keep up (a monitor must never slow the agent down).
    pub fn subscribe(&self, level: Level) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(512);
        self.subscribers.lock().push((level, tx));
        rx
    }

    fn publish(&self, level: Level, line: &str) {
        let mut subs = self.subscribers.lock();
        if subs.is_empty() {
            return;
        }
        subs.retain(|(min, tx)| {
            if level <= *min {
                match tx.try_send(line.to_string()) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            } else {
                !tx.is_closed()
            }
        });
    }
}

/// Consul's level words.
fn level_word(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "[TRACE]",
        Level::DEBUG => "[DEBUG]",
        Level::INFO => "[INFO] ",
        Level::WARN => "[WARN] ",
        Level::ERROR => "[ERROR]",
    }
}

struct Fields {
    message: String,
    pairs: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name().starts_with("slog.") {
            // raft-rs's slog bridge adds its source location to every line; drop it.
            return;
        }
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.pairs, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name().starts_with("slog.") {
            return;
        }
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.pairs, " {}={:?}", field.name(), value);
        }
    }
}

/// A tracing layer writing Consul-formatted lines to stdout and to a [`LogHub`].
pub struct ConsulLogLayer {
    hub: LogHub,
    max_level: Level,
    json: bool,
}

impl ConsulLogLayer {
    /// Lines at `max_level` or more severe go to stdout; the hub gets what its subscribers ask.
    pub fn new(hub: LogHub, max_level: Level, json: bool) -> ConsulLogLayer {
        ConsulLogLayer {
            hub,
            max_level,
            json,
        }
    }
}

/// raft-rs logs through slog as target "slog"; show it under Consul's `agent.server.raft`.
fn display_target(target: &str) -> &str {
    match target {
        "slog" => "agent.server.raft",
        t if t.starts_with("cairn_agent") => "agent",
        t if t.starts_with("cairn_consensus") => "agent.server.raft",
        t if t.starts_with("cairn_catalog") => "agent.server.fsm",
        t if t.starts_with("cairn_http") => "agent.http",
        t if t.starts_with("cairn_dns") => "agent.dns",
        t if t.starts_with("cairn_health") => "agent.checks",
        t if t.starts_with("cairn_gossip") => "agent.server.serf",
        t => t,
    }
}

impl<S: Subscriber> Layer<S> for ConsulLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = *meta.level();
        let mut fields = Fields {
            message: String::new(),
            pairs: String::new(),
        };
        event.record(&mut fields);
        let target = display_target(meta.target());
        let ts = timestamp();
        let line = if self.json {
            serde_json::json!({
                "@level": level.as_str().to_ascii_lowercase(),
                "@message": fields.message,
                "@module": target,
                "@timestamp": ts,
                "fields": fields.pairs.trim(),
            })
            .to_string()
        } else if fields.pairs.is_empty() {
            format!("{ts} {} {target}: {}", level_word(&level), fields.message)
        } else {
            format!(
                "{ts} {} {target}: {}:{}",
                level_word(&level),
                fields.message,
                fields.pairs
            )
        };
        if level <= self.max_level {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
        self.hub.publish(level, &line);
    }
}

/// RFC 3339 UTC timestamp with milliseconds, computed without a date library.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let millis = now.subsec_millis();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_780), (2026, 11, 23));
    }

    #[test]
    fn lines_reach_monitor_subscribers_at_their_level() {
        let hub = LogHub::new();
        let mut info = hub.subscribe(Level::INFO);
        let mut debug = hub.subscribe(Level::DEBUG);
        let sub = tracing_subscriber::registry().with(ConsulLogLayer::new(
            hub.clone(),
            Level::ERROR,
            false,
        ));
        tracing::subscriber::with_default(sub, || {
            tracing::info!(target: "agent.server", "cluster leadership acquired");
            tracing::debug!(target: "agent", node = "s1", "details");
        });
        let line = info.try_recv().unwrap();
        assert!(
            line.ends_with("[INFO]  agent.server: cluster leadership acquired"),
            "{line}"
        );
        assert!(
            info.try_recv().is_err(),
            "debug line not sent to an info subscriber"
        );
        let _ = debug.try_recv().unwrap();
        let line = debug.try_recv().unwrap();
        assert!(line.ends_with("[DEBUG] agent: details: node=s1"), "{line}");
    }
}
