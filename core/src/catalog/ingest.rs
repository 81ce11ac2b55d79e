//! Reading descriptors from a location: a file, or every `*.yaml`/`*.yml` under a directory, following `Location`
//! entities' targets (relative paths) with protection against cycles. Pure I/O and parsing: nothing is stored here.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

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
    /// The location itself could not be read at all (missing path, unsupported scheme): nothing may be orphaned.
    pub fatal: bool,
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

/// Reads everything a location target (`file:<path>` or `url:<url>`) declares.
pub fn read_location(target: &str) -> ReadOutcome {
    let mut out = ReadOutcome::default();
    let mut visited = HashSet::new();
    match target.strip_prefix("file:") {
        Some(path) => read_path(Path::new(path), target, &mut visited, &mut out, true),
        None => {
            out.fatal = true;
            out.errors.push(format!("{target}: reading URL locations is not supported yet; use a file or directory"));
        }
    }
    out
}

fn read_path(path: &Path, emitted_by: &str, visited: &mut HashSet<PathBuf>, out: &mut ReadOutcome, root: bool) {
    let canonical = match path.canonicalize() {
        Ok(p) => p,
        Err(e) => {
            out.errors.push(format!("{}: {e}", path.display()));
            out.failed_sources.insert(path.display().to_string());
            if root {
                out.fatal = true;
            }
            return;
        }
    };
    if canonical.is_dir() {
        if !visited.insert(canonical.clone()) {
            // Already read through another Location: a cycle or a diamond. Reading it once is enough.
            return;
        }
        let mut files = Vec::new();
        collect_yaml_files(&canonical, &mut files, out);
        files.sort();
        for file in files {
            read_file(&file, emitted_by, visited, out);
        }
    } else {
        read_file(&canonical, emitted_by, visited, out);
    }
}

fn collect_yaml_files(dir: &Path, files: &mut Vec<PathBuf>, out: &mut ReadOutcome) {
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

fn read_file(file: &Path, emitted_by: &str, visited: &mut HashSet<PathBuf>, out: &mut ReadOutcome) {
    let display = file.display().to_string();
    if !visited.insert(file.to_path_buf()) {
        return;
    }
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(format!("{display}: {e}"));
            out.failed_sources.insert(display);
            return;
        }
    };
    let documents = parse_documents(&display, &text);
    let lines: Vec<&str> = text.lines().collect();
    let starts: Vec<usize> = documents.iter().map(|d| d.line).collect();
    let self_location = format!("file:{display}");
    for (i, doc) in documents.into_iter().enumerate() {
        match doc.result {
            Ok(entity) => {
                let end = starts.get(i + 1).map(|l| l.saturating_sub(1)).unwrap_or(lines.len());
                let yaml = document_text(&lines, doc.line, end);
                if entity.kind == Kind::Location {
                    follow_location(file, &entity, visited, out);
                }
                let managed_by_location = if emitted_by.starts_with("file:") && emitted_by != self_location {
                    self_location.clone()
                } else {
                    emitted_by.to_owned()
                };
                out.entities.push(ReadEntity { entity, source_path: display.clone(), yaml, managed_by_location });
            }
            Err(e) => {
                out.errors.push(e.to_string());
                out.failed_sources.insert(display.clone());
            }
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

fn follow_location(file: &Path, location: &Entity, visited: &mut HashSet<PathBuf>, out: &mut ReadOutcome) {
    let base = file.parent().unwrap_or(Path::new("."));
    let mut targets = location.spec_strings("targets");
    if let Some(t) = location.spec_str("target") {
        targets.push(t.to_owned());
    }
    let emitted_by = format!("file:{}", file.display());
    for target in targets {
        if target.starts_with("http://") || target.starts_with("https://") {
            out.errors.push(format!("{}: Location target {target}: URL targets are not supported yet", file.display()));
            out.failed_sources.insert(file.display().to_string());
            continue;
        }
        let path = base.join(target.strip_prefix("./").unwrap_or(&target));
        read_path(&path, &emitted_by, visited, out, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let out = read_location(&normalize_target(dir.to_str().unwrap()).unwrap());
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
        let out = read_location(&normalize_target(dir.to_str().unwrap()).unwrap());
        assert_eq!(out.entities.len(), 1);
        assert_eq!(out.errors.len(), 1);
        assert!(out.errors[0].contains("catalog-info.yaml"), "{:?}", out.errors);
        assert!(out.errors[0].contains("document 2"), "{:?}", out.errors);
        assert_eq!(out.failed_sources.len(), 1);
        assert!(!out.fatal);
    }

    #[test]
    fn a_missing_location_is_fatal() {
        let out = read_location("file:/definitely/not/here");
        assert!(out.fatal);
        assert_eq!(out.errors.len(), 1);
    }
}
