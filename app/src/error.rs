//! Errors as people see them: one enum for every server function, and the pages that show it with the right
//! HTTP status.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// What can go wrong in a server function. Internal details are logged on the server, never sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// The thing asked for does not exist; the text says what.
    NotFound(String),
    /// The request needs a signed-in person.
    Unauthorized,
    /// The person may not do this; the text names the action.
    Forbidden(String),
    /// The input cannot be used; the text says why.
    Invalid(String),
    /// Something failed on the server; see the logs for the request id.
    Internal,
    /// The server function call itself failed (network, encoding).
    Call(String),
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::NotFound(what) => write!(f, "{what} was not found."),
            AppError::Unauthorized => f.write_str("You need to sign in to see this page."),
            AppError::Forbidden(action) => write!(f, "You may not {action}."),
            AppError::Invalid(why) => f.write_str(why),
            AppError::Internal => f.write_str("Something went wrong on our side. It has been logged."),
            AppError::Call(message) => write!(f, "The portal could not be reached: {message}"),
        }
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Call(value.to_string())
    }
}

impl AppError {
    /// The HTTP status this error stands for.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound(_) => 404,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::Invalid(_) => 400,
            AppError::Internal => 500,
            AppError::Call(_) => 502,
        }
    }

    /// A short title for the error page.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "Not found",
            AppError::Unauthorized => "Sign in required",
            AppError::Forbidden(_) => "Not allowed",
            AppError::Invalid(_) => "Cannot do that",
            AppError::Internal => "Something went wrong",
            AppError::Call(_) => "Portal unreachable",
        }
    }
}

/// Shows an error and, during server rendering, sets the response status to match.
#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(error.status());
    view! {
        <Title text=error.title() />
        <section class="error-page" aria-labelledby="error-title">
            <p class="error-code">{error.status()}</p>
            <h1 id="error-title">{error.title()}</h1>
            <p>{error.to_string()}</p>
            <p>
                <a href="/">"Back to the home page"</a>
            </p>
        </section>
    }
}

/// The page for a path that matches no route: a real 404.
#[component]
pub fn NotFound() -> impl IntoView {
    view! { <ErrorPage error=AppError::NotFound("This page".to_owned()) /> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_http_statuses() {
        assert_eq!(AppError::NotFound("x".into()).status(), 404);
        assert_eq!(AppError::Unauthorized.status(), 401);
        assert_eq!(AppError::Forbidden("edit".into()).status(), 403);
        assert_eq!(AppError::Internal.status(), 500);
    }

    #[test]
    fn internal_errors_say_nothing_of_the_cause() {
        assert!(!AppError::Internal.to_string().contains("sql"));
        assert_eq!(AppError::Forbidden("edit payments-api".into()).to_string(), "You may not edit payments-api.");
    }
}
