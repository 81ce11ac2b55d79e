//! Reading URL locations: files on the configured GitHub through its contents API (with the portal's token and
//! conditional requests), anything else with a plain HTTPS GET that carries no credentials. A glob in a GitHub URL
//! (`…/blob/main/services/*/catalog-info.yaml`) is expanded from one listing of the repository's git tree.

use std::time::Duration;

use super::ingest::{UrlRead, UrlReader, UrlSearch, glob_matches};
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

    /// The files a glob URL of a file on the configured GitHub names, from one (conditional) request to the git
    /// trees API: `…/acme/mono/blob/main/services/*/catalog-info.yaml`.
    pub async fn search_async(&self, pattern: &str) -> UrlSearch {
        let Some(glob) = self.github.parse_blob_url(pattern) else {
            return UrlSearch::Failed(format!(
                "{pattern}: a glob in a URL can be expanded only for files on the configured GitHub \
                 (`<PORTOLAN_GITHUB_URL>/<owner>/<repo>/blob/<ref>/<glob>`)"
            ));
        };
        match self.github.files(&glob.repo, &glob.git_ref).await {
            Ok(Some(mut paths)) => {
                paths.retain(|p| glob_matches(&glob.path, p));
                paths.sort();
                UrlSearch::Found(paths.iter().map(|p| self.github.blob_url(&glob.repo, &glob.git_ref, p)).collect())
            }
            Ok(None) => UrlSearch::NotFound,
            Err(e) => UrlSearch::Failed(format!("{pattern}: {e}")),
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

    fn search(&self, pattern: &str) -> UrlSearch {
        tokio::runtime::Handle::current().block_on(self.search_async(pattern))
    }
}
