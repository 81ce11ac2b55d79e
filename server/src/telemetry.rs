//! Logging: human-readable or JSON lines, each request in a span carrying its request id. Paths are logged
//! without their query strings, which can hold OAuth codes.

use axum::body::Body;
use http::Request;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};
use tracing_subscriber::EnvFilter;

use portolan_core::config::{Config, LogFormat};

/// Installs the global subscriber. Safe to call once per process.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|e| {
        eprintln!("portolan: PORTOLAN_LOG `{}` is not a valid filter ({e}); using `info`", config.log_filter);
        EnvFilter::new("info")
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi);
    let result = match config.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    if let Err(e) = result {
        eprintln!("portolan: logging already initialised: {e}");
    }
}

fn make_span(req: &Request<Body>) -> Span {
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
}

/// The request tracing layer's type.
pub type RequestTraceLayer =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, fn(&Request<Body>) -> Span, (), DefaultOnResponse>;

/// A trace layer that opens one span per request and logs each response with its status and latency.
pub fn trace_layer() -> RequestTraceLayer {
    TraceLayer::new_for_http()
        .make_span_with(make_span as fn(&Request<Body>) -> Span)
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}
