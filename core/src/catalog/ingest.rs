//! Reading descriptors from a location: a file, every `*.yaml`/`*.yml` under a directory, or a URL, following
//! `Location` entities' targets (relative paths or URLs) with protection against cycles. Nothing is stored here;
//! URLs are read through a [`UrlReader`] so this stays synchronous and testable.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use serde_json::Value;

use super::model::{Entity, Kind};
use super::parse::parse_documents;

/// One entity read from a file, with the YAML text of its document.
#[derive(Debug, Clone)]
pub struct ReadEntity {
    /// The validated entity.
    pub entity: Entity,
    /// The file it was read from (absolute).
    pub source_path: String,
    /// The document's own YAML text.
    pub yaml: String,
    /// The location that emitted it (`file:<path>`): the file itself, or the Location entity's file.
    pub managed_by_location: String,
}

/// What reading a location produced.
#[derive(Debug, Clone, Default)]
pub struct ReadOutcome {
    /// Valid entities, in reading order.
    pub entities: Vec<ReadEntity>,
    /// Every problem, each naming the file (and document and line where it applies).
    pub errors: Vec<String>,
    /// Files that had at least one problem: entities last read from them are kept, not orphaned.
    pub failed_sources: BTreeSet<String>,
    /// Where a glob over URLs could not be listed (`https://…/blob/main/services/`): entities last read from
    /// under them are kept, not orphaned.
    pub failed_prefixes: BTreeSet<String>,
    /// The location itself could not be read at all (missing path, unsupported scheme): nothing may be orphaned.
    pub fatal: bool,
    /// The location's URL answered "not found" (its file was deleted): everything it declared is orphaned.
    pub not_found: bool,
    /// YAML files found in a directory that declare no Backstage entity (OpenAPI documents, Kubernetes
    /// manifests, CI settings): passed over, not reported as errors.
    pub skipped: Vec<String>,
}

/// What reading a URL gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRead {
    /// The document text.
    Found(String),
    /// The server says there is no such file (a deleted catalog file: what it declared becomes orphaned).
    NotFound,
    /// It could not be read now (network, permissions, rate limit): what it declared is kept.
    Failed(String),
}

/// What listing the files a glob over URLs names gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSearch {
    /// The URLs of the files it matches, sorted (none is no error).
    Found(Vec<String>),
    /// The repository or branch it names does not exist: what it declared becomes orphaned.
    NotFound,
    /// It could not be listed now: what it declared is kept.
    Failed(String),
}

/// Reads a URL's text. Called from a blocking thread.
pub trait UrlReader: Send + Sync {
    /// Reads one `http(s)` URL.
    fn read(&self, url: &str) -> UrlRead;

    /// The files a URL with a glob in its path names
    /// (`https://github.com/acme/mono/blob/main/services/*/catalog-info.yaml`). Only a reader that can list a
    /// server's files can answer; by default, none can.
    fn search(&self, pattern: &str) -> UrlSearch {
        UrlSearch::Failed(format!("{pattern}: a glob in a URL can be expanded only for files on the configured GitHub"))
    }
}

/// A reader for set-ups with no network access: every URL fails.
#[derive(Debug, Clone, Copy)]
pub struct NoUrls;

impl UrlReader for NoUrls {
    fn read(&self, url: &str) -> UrlRead {
        UrlRead::Failed(format!("{url}: reading URLs is not available here"))
    }
}

/// The canonical target string for a path or URL given on the command line or in the UI.
pub fn normalize_target(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.starts_with("http://") || input.starts_with("https://") {
        return Ok(format!("url:{input}"));
    }
    let path = input.strip_prefix("file:").unwrap_or(input);
    // The canonical path when it exists, so `a/../b` and `b` are one location; as given otherwise.
    let absolute =
        std::fs::canonicalize(path).or_else(|_| std::path::absolute(path)).map_err(|e| format!("{path}: {e}"))?;
    Ok(format!("file:{}", absolute.display()))
}

/// Told how far reading a directory has come: (files read, files in the directory).
pub type Progress = dyn Fn(usize, usize) + Send + Sync;

/// Reads everything a location target (`file:<path>` or `url:<url>`) declares.
pub fn read_location(target: &str, urls: &dyn UrlReader) -> ReadOutcome {
    read_location_with_progress(target, urls, None)
}

/// [`read_location`], reporting progress through directories.
pub fn read_location_with_progress(target: &str, urls: &dyn UrlReader, progress: Option<&Progress>) -> ReadOutcome {
    let mut reader = Reader { urls, visited: HashSet::new(), out: ReadOutcome::default(), progress, root: None };
    if let Some(path) = target.strip_prefix("file:") {
        let path = Path::new(path);
        let root = if path.is_dir() { Some(path) } else { path.parent() };
        reader.root = root.and_then(|r| r.canonicalize().ok());
        reader.read_path(Path::new(path), Presence::Root);
    } else if let Some(url) = target.strip_prefix("url:") {
        reader.read_url(url, Presence::Root);
    } else {
        reader.out.fatal = true;
        reader.out.errors.push(format!("{target}: a location is a file path or an http(s) URL"));
    }
    reader.out
}

struct Reader<'a> {
    urls: &'a dyn UrlReader,
    progress: Option<&'a Progress>,
    /// `file:<canonical path>` and `url:<url>` already read.
    visited: HashSet<String>,
    out: ReadOutcome,
    /// For a file location, the directory it names (or its file's directory): `$text`-style placeholders may read
    /// files under it, or under their own document's directory, and nowhere else.
    root: Option<std::path::PathBuf>,
}

/// How much a target's absence matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    /// The location itself: if it cannot be read, nothing may be orphaned.
    Root,
    /// A Location entity's target (`presence: required`, Backstage's default): its absence is an error.
    Required,
    /// A Location entity's target with `presence: optional`: it may not exist (yet), and that is no error.
    Optional,
}

/// The largest file a `$text`, `$json` or `$yaml` placeholder reads.
const PLACEHOLDER_MAX_BYTES: u64 = 4 << 20;

impl Reader<'_> {
    fn read_url(&mut self, url: &str, presence: Presence) {
        let key = format!("url:{url}");
        if !self.visited.insert(key.clone()) {
            return;
        }
        if is_url_glob(url) {
            return self.read_url_glob(url, presence);
        }
        self.read_url_text(&key, url, presence, false);
    }

    /// Reads one URL's documents; `walked` when a glob's listing found it rather than a location naming it (then
    /// YAML that declares no entity is passed over, as in a directory walk).
    fn read_url_text(&mut self, key: &str, url: &str, presence: Presence, walked: bool) {
        match self.urls.read(url) {
            UrlRead::Found(text) if walked && !declares_backstage_entity(&text) => {
                self.out.skipped.push(url.to_owned())
            }
            UrlRead::Found(text) => self.read_text(key, url, &text),
            UrlRead::NotFound => self.url_not_found(url, presence),
            UrlRead::Failed(e) => {
                self.out.errors.push(e);
                self.out.failed_sources.insert(url.to_owned());
                if presence == Presence::Root {
                    self.out.fatal = true;
                }
            }
        }
    }

    /// A URL (or the repository a glob names) that the server says does not exist.
    fn url_not_found(&mut self, url: &str, presence: Presence) {
        match presence {
            // An optional target that is not there declares nothing: what it once declared becomes orphaned.
            Presence::Optional => {}
            // Not a failed source: what it used to declare is no longer declared, so it becomes orphaned.
            Presence::Required => self.out.errors.push(format!("{url}: not found")),
            Presence::Root => {
                self.out.errors.push(format!("{url}: not found"));
                self.out.not_found = true;
            }
        }
    }

    /// Every file a glob over URLs matches, passing over YAML that declares no entity, as a directory walk does.
    /// A Location target that matches nothing is no error (a registered glob that matches nothing declares
    /// nothing, like a deleted file); one that cannot be listed keeps what was read from under it.
    fn read_url_glob(&mut self, pattern: &str, presence: Presence) {
        match self.urls.search(pattern) {
            UrlSearch::Found(urls) if urls.is_empty() && presence == Presence::Root => {
                self.out.errors.push(format!("{pattern}: no file matches"));
                self.out.not_found = true;
            }
            UrlSearch::Found(urls) => {
                let total = urls.len();
                for (i, url) in urls.iter().enumerate() {
                    let key = format!("url:{url}");
                    if self.visited.insert(key.clone()) {
                        // Optional: a file deleted between the listing and the read declares nothing any more.
                        self.read_url_text(&key, url, Presence::Optional, true);
                    }
                    if let Some(report) = self.progress {
                        report(i + 1, total);
                    }
                }
            }
            UrlSearch::NotFound => self.url_not_found(pattern, presence),
            UrlSearch::Failed(e) => {
                self.out.errors.push(e);
                self.out.failed_prefixes.insert(glob_prefix(pattern).to_owned());
                if presence == Presence::Root {
                    self.out.fatal = true;
                }
            }
        }
    }

    fn read_path(&mut self, path: &Path, presence: Presence) {
        let out = &mut self.out;
        let canonical = match path.canonicalize() {
            Ok(p) => p,
            Err(e) if presence == Presence::Optional && e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                out.errors.push(format!("{}: {e}", path.display()));
                out.failed_sources.insert(path.display().to_string());
                if presence == Presence::Root {
                    out.fatal = true;
                }
                return;
            }
        };
        if canonical.is_dir() {
            if !self.visited.insert(format!("file:{}", canonical.display())) {
                // Already read through another Location: a cycle or a diamond. Reading it once is enough.
                return;
            }
            let mut files = Vec::new();
            collect_yaml_files(&canonical, &mut files, out);
            files.sort();
            let total = files.len();
            for (i, file) in files.into_iter().enumerate() {
                self.read_file(&file, true);
                if let Some(report) = self.progress {
                    report(i + 1, total);
                }
            }
        } else {
            self.read_file(&canonical, false);
        }
    }

    /// Reads one file; `walked` when a directory walk found it rather than a location naming it.
    fn read_file(&mut self, file: &Path, walked: bool) {
        let display = file.display().to_string();
        let key = format!("file:{display}");
        if !self.visited.insert(key.clone()) {
            return;
        }
        match std::fs::read_to_string(file) {
            Ok(text) if walked && !declares_backstage_entity(&text) => self.out.skipped.push(display),
            Ok(text) => self.read_text(&key, &display, &text),
            Err(e) => {
                self.out.errors.push(format!("{display}: {e}"));
                self.out.failed_sources.insert(display);
            }
        }
    }

    /// Parses one file's documents. `key` is `file:<path>` or `url:<url>`; `display` is the path or URL.
    fn read_text(&mut self, key: &str, display: &str, text: &str) {
        let text = super::parse::normalize_line_breaks(text);
        let text = text.as_ref();
        let documents = parse_documents(display, text);
        let lines: Vec<&str> = text.lines().collect();
        let starts: Vec<usize> = documents.iter().map(|d| d.line).collect();
        for (i, doc) in documents.into_iter().enumerate() {
            match doc.result {
                Ok(mut entity) => {
                    if let Err(e) = self.substitute(key, display, &mut entity) {
                        self.out.errors.push(format!("{display}: document {}, line {}: {e}", doc.index, doc.line));
                        self.out.failed_sources.insert(display.to_owned());
                        continue;
                    }
                    let end = starts.get(i + 1).map(|l| l.saturating_sub(1)).unwrap_or(lines.len());
                    let yaml = document_text(&lines, doc.line, end);
                    if entity.kind == Kind::Location {
                        self.follow_location(key, display, &entity);
                    }
                    // Like Backstage, an entity is managed by the file (or URL) that declares it.
                    let managed_by_location = key.to_owned();
                    self.out.entities.push(ReadEntity {
                        entity,
                        source_path: display.to_owned(),
                        yaml,
                        managed_by_location,
                    });
                }
                Err(e) => {
                    self.out.errors.push(e.to_string());
                    self.out.failed_sources.insert(display.to_owned());
                }
            }
        }
    }

    /// Replaces Backstage's substitution placeholders anywhere in the entity (most often an API's
    /// `spec.definition: {$text: ./openapi.yaml}`): `$text` by the named file's text, `$json` and `$yaml` by its
    /// parsed content. Names are relative to the document's own file or URL, or absolute URLs.
    fn substitute(&mut self, key: &str, display: &str, entity: &mut Entity) -> Result<(), String> {
        let Some(spec) = entity.raw.get_mut("spec") else { return Ok(()) };
        self.substitute_in(key, display, "spec", spec)?;
        entity.spec = entity.raw.get("spec").cloned().unwrap_or(Value::Null);
        Ok(())
    }

    /// [`Reader::substitute`] in `v`, found at the path `at` (for messages).
    fn substitute_in(&mut self, key: &str, display: &str, at: &str, v: &mut Value) -> Result<(), String> {
        if let Some((name, target)) = placeholder(v) {
            let fail = |e: String| format!("{at}: {name} {target}: {e}");
            let text = self.placeholder_text(key, display, &target).map_err(fail)?;
            *v = match name {
                "$text" => Value::String(text),
                "$json" => serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?,
                _ => serde_yaml_ng::from_str(&text).map_err(|e| fail(e.to_string()))?,
            };
            return Ok(());
        }
        match v {
            Value::Object(o) => {
                for (k, child) in o.iter_mut() {
                    self.substitute_in(key, display, &format!("{at}.{k}"), child)?;
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter_mut().enumerate() {
                    self.substitute_in(key, display, &format!("{at}[{i}]"), child)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The text a placeholder names, read relative to its document.
    fn placeholder_text(&mut self, key: &str, display: &str, target: &str) -> Result<String, String> {
        let url = if let Some(base) = key.strip_prefix("url:") {
            Some(url::Url::parse(base).and_then(|b| b.join(target)).map_err(|e| e.to_string())?)
        } else if target.starts_with("http://") || target.starts_with("https://") {
            Some(url::Url::parse(target).map_err(|e| e.to_string())?)
        } else {
            None
        };
        if let Some(url) = url {
            if !matches!(url.scheme(), "http" | "https") {
                return Err("only http(s) URLs can be read".to_owned());
            }
            return match self.urls.read(url.as_str()) {
                UrlRead::Found(text) => Ok(text),
                UrlRead::NotFound => Err(format!("{url}: not found")),
                UrlRead::Failed(e) => Err(e),
            };
        }
        let dir = Path::new(display).parent().unwrap_or(Path::new("."));
        let path = dir.join(target).canonicalize().map_err(|e| e.to_string())?;
        let inside = |d: &Path| d.canonicalize().is_ok_and(|d| path.starts_with(d));
        if !(inside(dir) || self.root.as_deref().is_some_and(inside)) {
            return Err("outside the location's directory".to_owned());
        }
        let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        if size > PLACEHOLDER_MAX_BYTES {
            return Err(format!("{size} bytes, over the {PLACEHOLDER_MAX_BYTES} a placeholder reads"));
        }
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    }

    fn follow_location(&mut self, key: &str, display: &str, location: &Entity) {
        let mut targets = location.spec_strings("targets");
        if let Some(t) = location.spec_str("target") {
            targets.push(t.to_owned());
        }
        let presence = match location.spec_str("presence") {
            Some("optional") => Presence::Optional,
            _ => Presence::Required,
        };
        for target in targets {
            if let Some(base) = key.strip_prefix("url:") {
                // Relative targets of a Location read from a URL are relative to that URL.
                match url::Url::parse(base).and_then(|b| b.join(&target)) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => self.read_url(u.as_str(), presence),
                    _ => {
                        self.out.errors.push(format!("{display}: Location target `{target}` is not a URL"));
                        self.out.failed_sources.insert(display.to_owned());
                    }
                }
            } else if target.starts_with("http://") || target.starts_with("https://") {
                self.read_url(&target, presence);
            } else {
                let base = Path::new(display).parent().unwrap_or(Path::new("."));
                let relative = target.strip_prefix("./").unwrap_or(&target);
                if is_glob(relative) {
                    // `./services/*/catalog-info.yaml`, `**/*.yaml`: every file it matches (none is no error),
                    // passing over YAML that declares no entity, as a directory walk does.
                    let base = if relative.starts_with('/') { Path::new("/") } else { base };
                    for path in glob_files(base, relative).iter().filter_map(|p| p.canonicalize().ok()) {
                        self.read_file(&path, true);
                    }
                } else {
                    self.read_path(&base.join(relative), presence);
                }
            }
        }
    }
}

/// Whether a YAML file found by walking a directory is meant for the catalog: a line at its top level names a
/// Backstage `apiVersion` (`backstage.io/v1alpha1`, `scaffolder.backstage.io/v1beta3`), a document names a
/// Backstage kind, or it is not well-formed YAML (then it is read, and its problem reported, so that a broken
/// catalog file keeps what it declared). Well-formed YAML beside catalog files that declares none of that
/// (OpenAPI documents, Kubernetes manifests, CI settings) is passed over.
fn declares_backstage_entity(text: &str) -> bool {
    use serde::Deserialize as _;
    let names_api_version = text.lines().any(|line| {
        line.strip_prefix("apiVersion:")
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
            .is_some_and(is_backstage_api_version)
    });
    if names_api_version {
        return true;
    }
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        match serde_yaml_ng::Value::deserialize(document) {
            Err(_) => return true,
            Ok(v) => {
                // A Backstage apiVersion written any other way (JSON, flow style), or a Backstage kind with no
                // apiVersion (a catalog file missing one); a Backstage kind under another apiVersion is someone
                // else's (Kustomize's `Component`, OpenShift's `Template`).
                let kind = v.get("kind").and_then(serde_yaml_ng::Value::as_str).and_then(Kind::parse);
                match v.get("apiVersion") {
                    Some(a) if a.as_str().is_some_and(is_backstage_api_version) => return true,
                    None if kind.is_some() => return true,
                    _ => {}
                }
            }
        }
    }
    false
}

/// `backstage.io/v1alpha1`, `scaffolder.backstage.io/v1beta3` and the like.
fn is_backstage_api_version(api_version: &str) -> bool {
    api_version.starts_with("backstage.io/") || api_version.contains(".backstage.io/")
}

/// Whether a Location target is a glob pattern (`*`, `?` or `**`) rather than one path.
fn is_glob(target: &str) -> bool {
    target.contains(['*', '?'])
}

/// Whether a URL's path holds a glob: `*` or `**` (a `?` starts the query in a URL).
fn is_url_glob(url: &str) -> bool {
    url.split(['?', '#']).next().unwrap_or(url).contains('*')
}

/// A glob URL up to the directory its first wildcard is in (`https://…/blob/main/services/` for
/// `https://…/blob/main/services/*/catalog-info.yaml`): every file it can match is under it.
fn glob_prefix(pattern: &str) -> &str {
    let wildcard = pattern.find('*').unwrap_or(pattern.len());
    pattern[..wildcard].rfind('/').map_or(pattern, |slash| &pattern[..=slash])
}

/// Whether a file's `/`-separated path inside a repository matches a glob, with the rules of a file glob
/// ([`glob_files`]): `*` and `?` within one segment, `**` any number of whole segments (at the end: every file
/// below), and wildcards never matching hidden entries, `node_modules` or `target`.
pub(crate) fn glob_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    glob_matches_segments(&pattern, &path)
}

fn glob_matches_segments(pattern: &[&str], path: &[&str]) -> bool {
    let searched = |name: &str| !(name.starts_with('.') || name == "node_modules" || name == "target");
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", [])) => !path.is_empty() && path.iter().all(|name| searched(name)),
        Some((&"**", rest)) => {
            glob_matches_segments(rest, path)
                || (path.len() > 1 && searched(path[0]) && glob_matches_segments(pattern, &path[1..]))
        }
        Some((first, rest)) => {
            let Some((name, below)) = path.split_first() else { return false };
            let here = if is_glob(first) { searched(name) && wildcard_match(first, name) } else { first == name };
            here && glob_matches_segments(rest, below)
        }
    }
}

/// The files under `base` that a glob pattern matches, sorted and canonical: `*` and `?` match within one path
/// segment, `**` any number of whole segments (at the end: every file below). Symbolic links are not followed
/// (a link to a parent would make `**` walk forever), and hidden entries, `node_modules` and `target` are not
/// searched.
fn glob_files(base: &Path, pattern: &str) -> Vec<std::path::PathBuf> {
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let mut found = Vec::new();
    if let Ok(base) = base.canonicalize() {
        glob_walk(&base, &segments, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

/// What a directory holds, without following links: (path, is a directory), hidden entries left out.
fn glob_children(dir: &Path) -> Vec<(std::path::PathBuf, bool)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !(name.starts_with('.') || name == "node_modules" || name == "target")
        })
        .filter_map(|e| {
            let t = e.file_type().ok()?;
            (t.is_dir() || t.is_file()).then(|| (e.path(), t.is_dir()))
        })
        .collect()
}

fn glob_walk(dir: &Path, segments: &[&str], found: &mut Vec<std::path::PathBuf>) {
    let Some((first, rest)) = segments.split_first() else { return };
    let last = rest.is_empty();
    if *first == "**" {
        // Zero segments here, or one more directory and `**` again; at the end, every file below.
        glob_walk(dir, rest, found);
        for (child, is_dir) in glob_children(dir) {
            if is_dir {
                glob_walk(&child, segments, found);
            } else if last {
                found.push(child);
            }
        }
    } else if !is_glob(first) {
        // Named as it is (`..`, `.github` and links included).
        let path = dir.join(first);
        match (last, path.is_dir()) {
            (true, false) if path.is_file() => found.push(path),
            (false, true) => glob_walk(&path, rest, found),
            _ => {}
        }
    } else {
        for (child, is_dir) in glob_children(dir) {
            let name = child.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !wildcard_match(first, &name) {
                continue;
            }
            match (last, is_dir) {
                (true, false) => found.push(child),
                (false, true) => glob_walk(&child, rest, found),
                _ => {}
            }
        }
    }
}

/// `*` (any run of characters) and `?` (one character) against a single path segment.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match with one backtracking point for the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// `{$text: <target>}` (or `$json`, `$yaml`): the placeholder's name and target.
fn placeholder(v: &Value) -> Option<(&'static str, String)> {
    let (k, target) = v.as_object().filter(|o| o.len() == 1)?.iter().next()?;
    let name = ["$text", "$json", "$yaml"].into_iter().find(|n| n == k)?;
    Some((name, target.as_str()?.to_owned()))
}

fn collect_yaml_files(dir: &Path, files: &mut Vec<std::path::PathBuf>, out: &mut ReadOutcome) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "node_modules" || name == "target" {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_yaml_files(&path, files, out),
            Ok(t) if t.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) => files.push(path),
            _ => {}
        }
    }
}

/// The lines of one document (1-based `start`, inclusive `end`), without its `---` separator.
fn document_text(lines: &[&str], start: usize, end: usize) -> String {
    let from = start.saturating_sub(1).min(lines.len());
    let to = end.clamp(from, lines.len());
    let mut doc: Vec<&str> = lines[from..to].to_vec();
    while doc.first().is_some_and(|l| l.trim() == "---" || l.trim().is_empty()) {
        doc.remove(0);
    }
    while doc.last().is_some_and(|l| l.trim() == "---" || l.trim().is_empty()) {
        doc.pop();
    }
    doc.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn component(name: &str) -> String {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
        )
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("portolan-ingest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn directories_are_walked_and_locations_followed_once_even_in_a_cycle() {
        let dir = temp("cycle");
        write(&dir, "a/catalog-info.yaml", &component("alpha"));
        write(&dir, "b/catalog-info.yml", &format!("{}---\n{}", component("beta"), component("gamma")));
        write(&dir, "notes.txt", "not yaml");
        // A location pointing at b, and b's sibling pointing back at the root: a cycle.
        write(
            &dir,
            "locations/all.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: all\nspec:\n  targets:\n    - ../b/catalog-info.yml\n    - ../locations\n",
        );
        let out = read_location(&normalize_target(dir.to_str().unwrap()).unwrap(), &NoUrls);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let mut names: Vec<&str> = out.entities.iter().map(|e| e.entity.metadata.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["all", "alpha", "beta", "gamma"]);
        let gamma = out.entities.iter().find(|e| e.entity.metadata.name == "gamma").unwrap();
        assert!(gamma.yaml.contains("name: gamma") && !gamma.yaml.contains("name: beta"), "{}", gamma.yaml);
    }

    #[test]
    fn a_bad_document_is_reported_and_its_file_kept_from_orphaning() {
        let dir = temp("bad");
        write(&dir, "catalog-info.yaml", &format!("{}---\nkind: [unclosed\n", component("ok")));
        let out = read_location(&normalize_target(dir.to_str().unwrap()).unwrap(), &NoUrls);
        assert_eq!(out.entities.len(), 1);
        assert_eq!(out.errors.len(), 1);
        assert!(out.errors[0].contains("catalog-info.yaml"), "{:?}", out.errors);
        assert!(out.errors[0].contains("document 2"), "{:?}", out.errors);
        assert_eq!(out.failed_sources.len(), 1);
        assert!(!out.fatal);
    }

    #[test]
    fn placeholders_are_replaced_by_the_files_they_name_and_never_read_outside() {
        let dir = temp("placeholders");
        let api = |name: &str, definition: &str| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    {definition}\n"
            )
        };
        write(&dir, "apis/openapi.yaml", "openapi: 3.0.0\npaths: {}\n");
        write(&dir, "apis/schema.json", r#"{"openapi": "3.1.0"}"#);
        write(
            &dir,
            "apis/catalog-info.yaml",
            &[
                api("text", "$text: ./openapi.yaml"),
                api("json", "$json: schema.json"),
                api("yaml", "$yaml: ./openapi.yaml"),
                api("escape", "$text: ../../../../../../etc/hostname"),
                api("missing", "$text: ./nope.yaml"),
            ]
            .join("---\n"),
        );
        let file = dir.join("apis/catalog-info.yaml");
        let out = read_location(&normalize_target(file.to_str().unwrap()).unwrap(), &NoUrls);
        let definition = |name: &str| {
            let e = out.entities.iter().find(|e| e.entity.metadata.name == name).map(|e| &e.entity);
            e.map(|e| (e.raw["spec"]["definition"].clone(), e.spec["definition"].clone()))
        };
        let text = definition("text").expect("read");
        assert_eq!(text.0, json!("openapi: 3.0.0\npaths: {}\n"));
        assert_eq!(text.0, text.1, "spec and the stored document agree");
        assert_eq!(definition("json").unwrap().0, json!({"openapi": "3.1.0"}));
        assert_eq!(definition("yaml").unwrap().0, json!({"openapi": "3.0.0", "paths": {}}));
        assert!(out.entities.iter().find(|e| e.entity.metadata.name == "text").unwrap().yaml.contains("$text"));
        assert!(definition("escape").is_none() && definition("missing").is_none());
        assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
        assert!(
            out.errors[0].contains("document 4") && out.errors[0].contains("outside the location"),
            "{:?}",
            out.errors
        );
        assert!(out.errors[1].contains("document 5") && out.errors[1].contains("nope.yaml"), "{:?}", out.errors);
        assert_eq!(out.failed_sources.len(), 1, "the file's other entities are kept");
    }

    /// URLs answered from a map.
    struct Urls(Vec<(&'static str, &'static str)>);

    impl UrlReader for Urls {
        fn read(&self, url: &str) -> UrlRead {
            self.0.iter().find(|(u, _)| *u == url).map_or(UrlRead::NotFound, |(_, t)| UrlRead::Found((*t).to_owned()))
        }
    }

    /// A server whose files can be listed: every URL under `https://git.example.com/acme/mono/blob/main/`, or
    /// a listing that fails.
    struct Listed {
        files: Vec<(&'static str, String)>,
        fails: bool,
    }

    const MONO: &str = "https://git.example.com/acme/mono/blob/main/";

    impl UrlReader for Listed {
        fn read(&self, url: &str) -> UrlRead {
            let path = url.strip_prefix(MONO).unwrap_or(url);
            self.files.iter().find(|(p, _)| *p == path).map_or(UrlRead::NotFound, |(_, t)| UrlRead::Found(t.clone()))
        }

        fn search(&self, pattern: &str) -> UrlSearch {
            if self.fails {
                return UrlSearch::Failed(format!("{pattern}: rate limited"));
            }
            let Some(glob) = pattern.strip_prefix(MONO) else { return UrlSearch::NotFound };
            let mut found: Vec<String> =
                self.files.iter().filter(|(p, _)| glob_matches(glob, p)).map(|(p, _)| format!("{MONO}{p}")).collect();
            found.sort();
            UrlSearch::Found(found)
        }
    }

    #[test]
    fn url_globs_read_every_file_the_server_lists_for_them() {
        let location = "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: mono\nspec:\n  targets:\n    - ./services/*/catalog-info.yaml\n    - ./teams/**/*.yaml\n";
        let listed = Listed {
            files: vec![
                ("catalog-info.yaml", location.to_owned()),
                ("services/pay/catalog-info.yaml", component("pay")),
                ("services/ship/catalog-info.yaml", component("ship")),
                ("services/ship/deep/catalog-info.yaml", component("too-deep")),
                ("services/.hidden/catalog-info.yaml", component("hidden")),
                ("teams/a/b/team.yaml", component("team-b")),
                ("teams/openapi.yaml", "openapi: 3.0.0\npaths: {}\n".to_owned()),
            ],
            fails: false,
        };
        let out = read_location(&format!("url:{MONO}catalog-info.yaml"), &listed);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let names: Vec<&str> = out.entities.iter().map(|e| e.entity.metadata.name.as_str()).collect();
        assert_eq!(names, ["pay", "ship", "team-b", "mono"]);
        assert_eq!(out.skipped, [format!("{MONO}teams/openapi.yaml")], "YAML that declares no entity");
        assert_eq!(out.entities[0].source_path, format!("{MONO}services/pay/catalog-info.yaml"));

        // A glob registered as the location itself.
        let out = read_location(&format!("url:{MONO}services/**/catalog-info.yaml"), &listed);
        let names: Vec<&str> = out.entities.iter().map(|e| e.entity.metadata.name.as_str()).collect();
        assert_eq!(names, ["pay", "ship", "too-deep"]);

        // A Location's glob that matches nothing is no error; a registered one declares nothing, like a deleted
        // file, and so does a repository that does not exist (their entities are orphaned).
        let nothing = "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: n\nspec:\n  targets: [./nothing/*.yaml]\n";
        let listed_nothing = Listed { files: vec![("n.yaml", nothing.to_owned())], fails: false };
        let out = read_location(&format!("url:{MONO}n.yaml"), &listed_nothing);
        assert!(out.errors.is_empty() && out.entities.len() == 1, "{:?}", out.errors);
        let out = read_location(&format!("url:{MONO}nothing/*.yaml"), &listed);
        assert_eq!(out.errors, [format!("{MONO}nothing/*.yaml: no file matches")]);
        assert!(out.not_found && !out.fatal, "{out:?}");
        let out = read_location("url:https://git.example.com/acme/gone/blob/main/*.yaml", &listed);
        assert!(out.not_found && !out.fatal, "{out:?}");

        // A listing that fails keeps everything read from under the glob's directory, and names the glob.
        let failing = Listed { fails: true, ..listed };
        let out = read_location(&format!("url:{MONO}catalog-info.yaml"), &failing);
        assert_eq!(
            out.errors,
            [
                format!("{MONO}services/*/catalog-info.yaml: rate limited"),
                format!("{MONO}teams/**/*.yaml: rate limited")
            ]
        );
        assert_eq!(
            out.failed_prefixes.iter().collect::<Vec<_>>(),
            [&format!("{MONO}services/"), &format!("{MONO}teams/")]
        );
        assert!(!out.fatal, "the Location itself was read");
        let out = read_location(&format!("url:{MONO}services/*/catalog-info.yaml"), &failing);
        assert!(out.fatal, "nothing of the location could be read");
    }

    #[test]
    fn url_glob_matching_follows_the_file_glob_rules() {
        assert!(glob_matches("*.yaml", "a.yaml"));
        assert!(!glob_matches("*.yaml", "dir/a.yaml"), "anchored at the root");
        assert!(glob_matches("./services/*/catalog-info.yaml", "services/pay/catalog-info.yaml"));
        assert!(!glob_matches("services/*/catalog-info.yaml", "services/pay/x/catalog-info.yaml"));
        assert!(glob_matches("**/catalog-info.yaml", "catalog-info.yaml"), "`**` may be no directory");
        assert!(glob_matches("**/catalog-info.yaml", "a/b/c/catalog-info.yaml"));
        assert!(glob_matches("services/**", "services/a/b.yaml"));
        assert!(!glob_matches("services/**", "services"), "`**` at the end is the files below");
        assert!(glob_matches("svc-?/c.yaml", "svc-a/c.yaml"));
        assert!(!glob_matches("svc-?/c.yaml", "svc-ab/c.yaml"));
        assert!(!glob_matches("**/c.yaml", "node_modules/x/c.yaml"), "not searched, as in a file glob");
        assert!(!glob_matches("*/c.yaml", ".github/c.yaml"));
        assert!(glob_matches(".github/*.yaml", ".github/c.yaml"), "named, it is read");
        assert!(is_url_glob("https://h/o/r/blob/main/*/c.yaml?x=1"));
        assert!(!is_url_glob("https://h/o/r/blob/main/c.yaml?x=*"), "a `*` in the query is no glob");
        assert_eq!(glob_prefix("https://h/o/r/blob/main/a/*/c.yaml"), "https://h/o/r/blob/main/a/");
        assert_eq!(glob_prefix("https://h/o/r/blob/main/a*.yaml"), "https://h/o/r/blob/main/");
    }

    #[test]
    fn placeholders_in_a_document_read_from_a_url_are_relative_to_it() {
        let urls = Urls(vec![
            (
                "https://git.example.com/acme/pay/blob/main/catalog-info.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: pay\nspec:\n  type: graphql\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./schema/pay.graphql\n",
            ),
            ("https://git.example.com/acme/pay/blob/main/schema/pay.graphql", "type Query { pay: String }\n"),
        ]);
        let out = read_location("url:https://git.example.com/acme/pay/blob/main/catalog-info.yaml", &urls);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.entities[0].entity.spec["definition"], json!("type Query { pay: String }\n"));
    }

    #[test]
    fn a_walked_directory_passes_over_yaml_that_declares_no_entity() {
        let dir = temp("other-yaml");
        write(&dir, "catalog-info.yaml", &component("alpha"));
        write(&dir, "api/openapi.yaml", "openapi: 3.0.0\ninfo: {title: x}\npaths: {}\n");
        write(&dir, "deploy/k8s.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: alpha\n");
        write(&dir, "ci.yml", "on: [push]\njobs: {build: {runs-on: ubuntu-latest}}\n");
        write(&dir, "empty.yaml", "");
        write(
            &dir,
            "teams/t.yaml",
            "apiVersion: \"backstage.io/v1alpha1\"\nkind: Group\nmetadata:\n  name: t\nspec:\n  type: team\n  children: []\n",
        );
        assert!(declares_backstage_entity("---\napiVersion: 'scaffolder.backstage.io/v1beta3'\nkind: Template\n"));
        assert!(!declares_backstage_entity("spec:\n  apiVersion: backstage.io/v1alpha1\n"), "not at the top level");
        // A catalog file broken or half-written is read, so its problem is reported and what it declared is kept.
        assert!(declares_backstage_entity("kind: [unclosed\n"));
        assert!(declares_backstage_entity("kind: component\nmetadata: {name: x}\n"), "a Backstage kind");
        let kustomize = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: []\n";
        assert!(!declares_backstage_entity(kustomize), "someone else's Component");
        let json = r#"{"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "j"}}"#;
        assert!(declares_backstage_entity(json), "JSON is YAML too");
        let out = read_location(&normalize_target(dir.to_str().unwrap()).unwrap(), &NoUrls);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let mut names: Vec<&str> = out.entities.iter().map(|e| e.entity.metadata.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["alpha", "t"]);
        let mut skipped: Vec<String> = out.skipped.iter().map(|p| p.rsplit('/').next().unwrap().to_owned()).collect();
        skipped.sort();
        assert_eq!(skipped, ["ci.yml", "empty.yaml", "k8s.yaml", "openapi.yaml"]);
        // Named on its own, a file is read whatever it holds, and its problems are reported.
        let named = read_location(&normalize_target(dir.join("deploy/k8s.yaml").to_str().unwrap()).unwrap(), &NoUrls);
        assert_eq!(named.errors.len(), 1, "{:?}", named.errors);
        assert!(named.errors[0].contains("k8s.yaml") && named.errors[0].contains("Deployment"), "{:?}", named.errors);
    }

    #[test]
    fn optional_location_targets_may_be_missing_and_required_ones_may_not() {
        let dir = temp("presence");
        write(&dir, "a/catalog-info.yaml", &component("alpha"));
        let location = |name: &str, presence: &str, target: &str| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\nspec:\n{presence}  targets:\n    - ./a/catalog-info.yaml\n    - {target}\n"
            )
        };
        write(&dir, "optional.yaml", &location("optional", "  presence: optional\n", "./later/catalog-info.yaml"));
        let out = read_location(&normalize_target(dir.join("optional.yaml").to_str().unwrap()).unwrap(), &NoUrls);
        assert!(out.errors.is_empty() && out.failed_sources.is_empty(), "{:?}", out.errors);
        assert_eq!(out.entities.len(), 2);
        write(&dir, "required.yaml", &location("required", "", "./later/catalog-info.yaml"));
        let out = read_location(&normalize_target(dir.join("required.yaml").to_str().unwrap()).unwrap(), &NoUrls);
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        assert!(out.errors[0].contains("later/catalog-info.yaml"), "{:?}", out.errors);
        assert!(!out.fatal, "the location itself was read");
        // An optional URL target that is not found is no error either.
        let urls = Urls(vec![(
            "https://git.example.com/acme/loc.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: remote\nspec:\n  presence: optional\n  target: ./gone.yaml\n",
        )]);
        let out = read_location("url:https://git.example.com/acme/loc.yaml", &urls);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
    }

    #[test]
    fn glob_targets_read_every_file_they_match() {
        let dir = temp("glob");
        write(&dir, "services/pay/catalog-info.yaml", &component("pay"));
        write(&dir, "services/ship/catalog-info.yaml", &component("ship"));
        write(&dir, "services/ship/deep/er/catalog-info.yaml", &component("deep"));
        write(&dir, "services/notes/readme.md", "# not matched");
        write(&dir, "services/.hidden/catalog-info.yaml", &component("hidden"));
        let location = |name: &str, target: &str| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\nspec:\n  targets:\n    - {target}\n"
            )
        };
        let names = |file: &str| {
            let out = read_location(&normalize_target(dir.join(file).to_str().unwrap()).unwrap(), &NoUrls);
            assert!(out.errors.is_empty(), "{:?}", out.errors);
            let mut names: Vec<String> = out.entities.iter().map(|e| e.entity.metadata.name.clone()).collect();
            names.sort();
            names
        };
        write(&dir, "one.yaml", &location("one", "./services/*/catalog-info.yaml"));
        assert_eq!(names("one.yaml"), ["one", "pay", "ship"]);
        write(&dir, "all.yaml", &location("all", "services/**/catalog-info.yaml"));
        assert_eq!(names("all.yaml"), ["all", "deep", "pay", "ship"]);
        write(&dir, "none.yaml", &location("none", "./nothing/*/catalog-info.yaml"));
        assert_eq!(names("none.yaml"), ["none"], "a glob that matches nothing is no error");
        // A trailing `**` takes every file below, passing over YAML that declares nothing; a link back up is not
        // followed; an absolute pattern starts at the root.
        write(&dir, "services/pay/openapi.yaml", "openapi: 3.0.0\npaths: {}\n");
        std::os::unix::fs::symlink(&dir, dir.join("services/pay/loop")).unwrap();
        write(&dir, "below.yaml", &location("below", "services/**"));
        assert_eq!(names("below.yaml"), ["below", "deep", "pay", "ship"]);
        let absolute = format!("{}/services/*/catalog-info.yaml", dir.canonicalize().unwrap().display());
        write(&dir, "absolute.yaml", &location("absolute", &absolute));
        assert_eq!(names("absolute.yaml"), ["absolute", "pay", "ship"]);
    }

    #[test]
    fn wildcards_match_within_one_segment() {
        assert!(wildcard_match("*.yaml", "catalog-info.yaml"));
        assert!(wildcard_match("catalog-*.y?ml", "catalog-info.yaml"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("*.yaml", "catalog-info.yml"));
        assert!(!wildcard_match("?", ""));
        assert!(!wildcard_match("a*c", "abcd"));
    }

    #[test]
    fn a_missing_location_is_fatal() {
        let out = read_location("file:/definitely/not/here", &NoUrls);
        assert!(out.fatal);
        assert_eq!(out.errors.len(), 1);
    }
}
