//! HTTP plumbing shared by every route: the JSON error envelope, metrics, security headers and CSRF checks.

pub mod csrf;
pub mod extract;
pub mod fn_status;
pub mod headers;
pub mod limits;
pub mod metrics;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

/// Escapes text for HTML element content and quoted attribute values, for the few pages the server writes
/// itself (the API reference, refusal pages).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An error from the JSON API: `{"error": {"code": "...", "message": "..."}}` with a matching status.
/// Server errors carry a generic message; their cause goes to the log.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<&'static str>,
    fields: Vec<portolan_types::scaffold::FieldProblem>,
}

/// Every error the JSON API answers: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The error inside [`ErrorEnvelope`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code: `unauthorized`, `forbidden`, `bad_request`, `not_found`, `too_large`,
    /// `rate_limited`, `internal`, `bad_gateway`, `unavailable`, `unprocessable`, `not_configured`, `conflict`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// For `unprocessable`: the request field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `unprocessable` form values (scaffolder templates): every field at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<portolan_types::scaffold::FieldProblem>,
}

impl ApiError {
    /// 401: no or bad credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 500: logs the cause, shows nothing of it.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context} failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; see the server log for this request id".to_owned(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 429: the client sent too much; the caller adds `Retry-After`.
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 413: the body is larger than this route takes.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// The sentence for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 422: a field of a well-formed request is wrong.
    pub fn unprocessable(field: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "unprocessable",
            message: format!("{field}: {}", message.into()),
            field: Some(field),
            fields: Vec::new(),
        }
    }

    /// 422: form values that do not satisfy a form, every field named in `fields`.
    pub fn invalid_fields(fields: Vec<portolan_types::scaffold::FieldProblem>) -> Self {
        let message = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, code: "unprocessable", message, field: None, fields }
    }

    /// 502: a system the portal relies on (GitHub) failed.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_GATEWAY,
            code: "bad_gateway",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 409: the request needs something this portal has not been set up with (a GitHub token, say).
    pub fn not_configured(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "not_configured",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 409: the request conflicts with how the thing is managed (a check declared in git, say).
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field.map(str::to_owned),
                fields: self.fields,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
