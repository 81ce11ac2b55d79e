//! `POST /api/v1/webhooks/github`: the one receiver for GitHub webhooks. A delivery must carry a valid
//! `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with `PORTOLAN_GITHUB_WEBHOOK_SECRET`, compared in
//! constant time); it is stored in the durable queue, deduplicated on `X-GitHub-Delivery`, acknowledged with 202
//! and processed by the webhook worker (see `jobs`).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode, header};

use crate::ServerState;
use crate::http::{ApiError, ErrorEnvelope};

/// GitHub caps webhook payloads at 25 MB.
const MAX_PAYLOAD: usize = 25 * 1024 * 1024;

/// The webhook routes.
pub fn router() -> Router<ServerState> {
    Router::new().route("/api/v1/webhooks/github", post(github).layer(DefaultBodyLimit::max(MAX_PAYLOAD)))
}

fn receipt(status: &str, delivery: &str, event: &str) -> DeliveryReceipt {
    DeliveryReceipt { status: status.to_owned(), delivery: delivery.to_owned(), event: event.to_owned() }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// The JSON payload: the body itself, or the `payload` field of a form-encoded delivery (a webhook configured
/// with content type `application/x-www-form-urlencoded`).
fn payload_json(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let form = header_text(headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let text = if form {
        url::form_urlencoded::parse(body).find(|(k, _)| k == "payload").map(|(_, v)| v.into_owned())?
    } else {
        String::from_utf8(body.to_vec()).ok()?
    };
    serde_json::from_str::<serde_json::Value>(&text).ok().map(|_| text)
}

/// What the receiver answers to a delivery it accepted.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryReceipt {
    /// `queued` (new) or `duplicate` (already received).
    pub status: String,
    /// `X-GitHub-Delivery`.
    pub delivery: String,
    /// `X-GitHub-Event`.
    pub event: String,
}

/// GitHub's webhook deliveries (`push`, `ping`, deployments…), signed with `PORTOLAN_GITHUB_WEBHOOK_SECRET`,
/// queued durably and processed in the background.
#[utoipa::path(post, path = "/api/v1/webhooks/github", tag = "webhooks", security(()),
    params(
        ("X-GitHub-Event" = String, Header),
        ("X-GitHub-Delivery" = String, Header),
        ("X-Hub-Signature-256" = String, Header, description = "sha256=<HMAC-SHA256 of the body, hex>")),
    request_body(content = Object, description = "GitHub's event payload"),
    responses(
        (status = 202, description = "Queued", body = DeliveryReceipt),
        (status = 200, description = "Already received (a redelivery)", body = DeliveryReceipt),
        (status = 400, description = "Headers missing or the payload is not JSON", body = ErrorEnvelope),
        (status = 401, description = "Unsigned or wrongly signed", body = ErrorEnvelope)))]
pub(crate) async fn github(State(state): State<ServerState>, headers: HeaderMap, body: Bytes) -> Response {
    let event = header_text(&headers, "x-github-event");
    let delivery = header_text(&headers, "x-github-delivery");
    let Some(secret) = state.app.config.github_webhook_secret.as_ref() else {
        tracing::warn!(event, delivery, "GitHub webhook refused: PORTOLAN_GITHUB_WEBHOOK_SECRET is not set");
        return ApiError::unauthorized("webhooks are refused until PORTOLAN_GITHUB_WEBHOOK_SECRET is set")
            .into_response();
    };
    let signature = header_text(&headers, "x-hub-signature-256");
    if !portolan_core::github::signature_is_valid(secret, &body, signature) {
        let why = if signature.is_none() { "unsigned" } else { "wrong signature" };
        tracing::warn!(event, delivery, reason = why, "GitHub webhook refused");
        return ApiError::unauthorized(format!("{why}: X-Hub-Signature-256 must be the HMAC-SHA256 of the body"))
            .into_response();
    }
    let (Some(event), Some(delivery)) = (event, delivery) else {
        return ApiError::bad_request("X-GitHub-Event and X-GitHub-Delivery are required").into_response();
    };
    let Some(payload) = payload_json(&headers, &body) else {
        return ApiError::bad_request("the payload is not JSON").into_response();
    };
    match portolan_core::webhooks::enqueue(&state.app.db, "github", delivery, event, &payload).await {
        Ok(true) => {
            state.webhook_wakeup.notify_one();
            (StatusCode::ACCEPTED, Json(receipt("queued", delivery, event))).into_response()
        }
        Ok(false) => {
            tracing::info!(event, delivery, "GitHub webhook redelivered; already queued");
            (StatusCode::OK, Json(receipt("duplicate", delivery, event))).into_response()
        }
        Err(e) => ApiError::internal("queueing a webhook delivery", e).into_response(),
    }
}
