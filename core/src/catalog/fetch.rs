//! Reading URL locations: files on the configured GitHub through its contents API (with the portal's token and
//! conditional requests), anything else with a plain HTTPS GET that carries no credentials.

use std::time::Duration;

use super::ingest::{UrlRead, UrlReader};
use crate::github::GithubSync;

/// The largest catalog file read from a URL.
const MAX_BYTES: usize = 4 * 1024 * 1024;

/// The [`UrlReader`] the portal uses.
#[derive(Debug, Clone)]
pub struct HttpUrlReader {
    github: GithubSync,
    http: reqwest::Client,
}

impl HttpUrlReader {
    /// A reader that sends GitHub URLs through `github` and other URLs through a plain client.
    pub fn new(github: GithubSync) -> HttpUrlReader {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(3))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("portolan/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        HttpUrlReader { github, http }
    }

    /// Reads one URL.
    pub async fn read_async(&self, url: &str) -> UrlRead {
        if let Some(blob) = self.github.parse_blob_url(url) {
            return match self.github.file(&blob).await {
                Ok(Some(text)) => UrlRead::Found(text),
                Ok(None) => UrlRead::NotFound,
                Err(e) => UrlRead::Failed(format!("{url}: {e}")),
            };
        }
        let response = match self.http.get(url).send().await {
            Ok(r) => r,
            Err(e) => return UrlRead::Failed(format!("{url}: {}", without_url(&e))),
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return UrlRead::NotFound;
        }
        if !status.is_success() {
            return UrlRead::Failed(format!("{url}: the server answered {status}"));
        }
        if response.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
            return UrlRead::Failed(format!("{url}: larger than {} MB", MAX_BYTES / 1024 / 1024));
        }
        match response.bytes().await {
            Ok(b) if b.len() > MAX_BYTES => {
                UrlRead::Failed(format!("{url}: larger than {} MB", MAX_BYTES / 1024 / 1024))
            }
            Ok(b) => match String::from_utf8(b.to_vec()) {
                Ok(text) => UrlRead::Found(text),
                Err(_) => UrlRead::Failed(format!("{url}: not UTF-8 text")),
            },
            Err(e) => UrlRead::Failed(format!("{url}: {}", without_url(&e))),
        }
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(u) = e.url() {
        text = text.replace(&format!(" for url ({u})"), "");
    }
    text
}

impl UrlReader for HttpUrlReader {
    fn read(&self, url: &str) -> UrlRead {
        // Called on a blocking thread of the runtime (see `catalog::import`).
        tokio::runtime::Handle::current().block_on(self.read_async(url))
    }
}
