//! What the service logs: the filter behind `SWITCHBOARD_LOG`, with the libraries that would log
//! secrets held below the level where they do.
//!
//! The WebSocket library (tungstenite) logs every frame it reads or writes at `trace` — the
//! console's hello frame carries its access token — so whatever the filter asks for, tungstenite
//! and tokio-tungstenite log at `debug` at most (handshakes and close frames, never payloads).

use tracing_subscriber::filter::{Directive, EnvFilter};

/// What is logged when `SWITCHBOARD_LOG` is not set.
pub const DEFAULT: &str = "info,sqlx=warn,tower_http=info";

/// Targets that log payloads at `trace`, and the most they may log.
const CAPPED: [&str; 2] = ["tungstenite=debug", "tokio_tungstenite=debug"];

/// The filter for `spec` (the `SWITCHBOARD_LOG` syntax; [`DEFAULT`] when absent or unreadable),
/// with [`CAPPED`] libraries held at their cap even when the spec names them.
pub fn filter(spec: Option<&str>) -> EnvFilter {
    let spec = spec.unwrap_or(DEFAULT);
    // A spec that names a capped target at a finer level loses that directive: the cap stands.
    let kept: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|d| !CAPPED.iter().any(|c| d.starts_with(c.split('=').next().unwrap_or_default())))
        .collect();
    let mut filter = EnvFilter::try_new(kept.join(",")).unwrap_or_else(|_| EnvFilter::new(DEFAULT));
    for cap in CAPPED {
        filter = filter.add_directive(cap.parse::<Directive>().expect("a valid directive"));
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_frames_are_never_logged_whatever_the_filter_asks() {
        for spec in ["trace", "tungstenite=trace", "trace,tokio_tungstenite=trace,tungstenite::protocol=trace"] {
            let text = filter(Some(spec)).to_string();
            assert!(text.contains("tungstenite=debug") && !text.contains("tungstenite=trace"), "{spec}: {text}");
            assert!(!text.contains("tungstenite::protocol=trace"), "{spec}: {text}");
        }
        assert!(filter(Some("trace")).to_string().contains("trace"), "the rest stays at trace");
    }
}
