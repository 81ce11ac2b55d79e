use axum::{Router, routing::get};

#[tokio::main]
async fn main() {
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("0.0.0.0:${{ values.port }}").await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
