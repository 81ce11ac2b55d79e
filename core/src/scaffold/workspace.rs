//! The files a run builds before it publishes them: kept in memory (a skeleton is small), keyed by a relative
//! path that has been checked to stay inside the workspace, and read from a template's skeleton, which is a
//! directory next to the template file or, for a dry-run, the files sent with the request.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::expr::Engine;

/// Files larger than this are refused when a skeleton is read.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Skeletons with more files than this are refused.
pub const MAX_FILES: usize = 5_000;

/// One file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Contents, as bytes (binary files stay as they are).
    pub bytes: Vec<u8>,
    /// Whether it is executable.
    pub executable: bool,
}

/// The files of a run, by relative path (`/` separated).
pub type Files = BTreeMap<String, File>;

/// Checks a relative path and returns it normalised (`./a//b` is `a/b`). Absolute paths, `..`, drive prefixes,
/// backslashes and control characters are refused, so nothing a template writes can land outside the workspace.
pub fn safe_relative(path: &str) -> Result<String, String> {
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(format!("`{}` has a backslash or a control character", path.escape_debug()));
    }
    if path.starts_with('/') || path.contains(':') {
        return Err(format!("`{path}` is absolute; paths must be relative to the workspace"));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{path}` leaves the workspace (`..`)")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Joins a target path and a relative file path, both checked.
pub fn join(target: &str, file: &str) -> Result<String, String> {
    let target = safe_relative(target)?;
    let file = safe_relative(file)?;
    if file.is_empty() {
        return Err("a file needs a name".to_owned());
    }
    Ok(if target.is_empty() { file } else { format!("{target}/{file}") })
}

/// Where a template's files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The directory holding the template file.
    Dir(PathBuf),
    /// Files sent with a dry-run, the template at their root.
    Files(Files),
    /// A directory of a repository on the configured GitHub, read through its contents API.
    Github {
        /// `owner/repo`.
        repo: String,
        /// Branch, tag or commit.
        git_ref: String,
        /// The directory holding the template file, inside the repository.
        dir: String,
    },
    /// A template with no files (pasted without a skeleton, or read from a URL Portolan cannot list).
    None(String),
}

impl Source {
    /// The files under `url` (a path relative to the template, such as `./skeleton`), by path relative to it.
    /// `github` reads repository sources.
    pub async fn read(&self, url: &str, github: Option<&crate::github::GithubSync>) -> Result<Files, String> {
        if url.starts_with("http://") || url.starts_with("https://") {
            return Err(format!(
                "`{url}`: skeletons are read next to the template; give a relative path such as ./skeleton"
            ));
        }
        let sub = safe_relative(url).map_err(|e| format!("fetch url {e}"))?;
        match self {
            Source::Dir(dir) => read_dir(&dir.join(&sub)),
            Source::Files(files) => {
                let prefix = if sub.is_empty() { String::new() } else { format!("{sub}/") };
                let out: Files = files
                    .iter()
                    .filter_map(|(p, f)| p.strip_prefix(&prefix).map(|rest| (rest.to_owned(), f.clone())))
                    .collect();
                if out.is_empty() {
                    return Err(format!("`{url}`: no files were sent under this path"));
                }
                Ok(out)
            }
            Source::Github { repo, git_ref, dir } => {
                let github = github.ok_or_else(|| format!("`{url}`: GitHub is not available here"))?;
                let root = [dir.as_str(), sub.as_str()]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("/");
                read_github(github, repo, git_ref, &root).await.map_err(|e| format!("`{url}` in {repo}@{git_ref}: {e}"))
            }
            Source::None(why) => Err(format!("`{url}`: {why}")),
        }
    }
}

/// Reads every file under a repository directory through the contents API (symbolic links and submodules are
/// refused, as on disk).
async fn read_github(
    github: &crate::github::GithubSync,
    repo: &str,
    git_ref: &str,
    root: &str,
) -> Result<Files, String> {
    let mut out = Files::new();
    let mut dirs = vec![root.to_owned()];
    let prefix = if root.is_empty() { String::new() } else { format!("{root}/") };
    while let Some(dir) = dirs.pop() {
        let entries = github
            .dir(repo, git_ref, &dir)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} is not a directory", if dir.is_empty() { "/" } else { &dir }))?;
        for entry in entries {
            let (kind, path) = (entry.kind, entry.path);
            let rel = path.strip_prefix(&prefix).unwrap_or(&path).to_owned();
            let rel = safe_relative(&rel)?;
            match kind.as_str() {
                "dir" => dirs.push(path),
                "file" => {
                    let blob = crate::github::BlobUrl {
                        repo: repo.to_owned(),
                        git_ref: git_ref.to_owned(),
                        path: path.clone(),
                    };
                    let bytes = github
                        .file_bytes(&blob)
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("{path} went away"))?;
                    if bytes.len() > MAX_FILE_BYTES {
                        return Err(format!("{rel}: larger than {} MB", MAX_FILE_BYTES / 1024 / 1024));
                    }
                    out.insert(rel, File { bytes, executable: false });
                    if out.len() > MAX_FILES {
                        return Err(format!("more than {MAX_FILES} files"));
                    }
                }
                other => return Err(format!("{rel}: is a {other}, which skeletons may not contain")),
            }
        }
    }
    Ok(out)
}

/// Reads every file under a directory. Symbolic links are refused (they could point anywhere), as are files
/// too large or too many.
pub fn read_dir(root: &Path) -> Result<Files, String> {
    let meta = std::fs::symlink_metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
    if meta.file_type().is_symlink() {
        return Err(format!("{}: is a symbolic link, which skeletons may not contain", root.display()));
    }
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", root.display()));
    }
    let mut out = Files::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = entry.path();
            let ft = entry.file_type().map_err(|e| format!("{}: {e}", path.display()))?;
            let rel = relative(root, &path)?;
            if ft.is_symlink() {
                return Err(format!("{rel}: is a symbolic link, which skeletons may not contain"));
            }
            if ft.is_dir() {
                stack.push(path);
                continue;
            }
            let meta = entry.metadata().map_err(|e| format!("{rel}: {e}"))?;
            if meta.len() > MAX_FILE_BYTES as u64 {
                return Err(format!("{rel}: larger than {} MB", MAX_FILE_BYTES / 1024 / 1024));
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("{rel}: {e}"))?;
            out.insert(rel, File { bytes, executable: is_executable(&meta) });
            if out.len() > MAX_FILES {
                return Err(format!("{}: more than {MAX_FILES} files", root.display()));
            }
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

fn relative(root: &Path, path: &Path) -> Result<String, String> {
    let rel = path.strip_prefix(root).map_err(|_| format!("{}: outside the skeleton", path.display()))?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().ok_or_else(|| format!("{}: not UTF-8", path.display()))?),
            _ => return Err(format!("{}: not a plain path", path.display())),
        }
    }
    Ok(parts.join("/"))
}

/// Whether bytes are text the engine may render: UTF-8 with no NUL byte.
pub fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// How `fetch:template` treats the files it copies.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Patterns (globs) of files copied without rendering their contents.
    pub copy_without_render: Vec<String>,
    /// `{{ cookiecutter.x }}` instead of `${{ values.x }}`.
    pub cookiecutter: bool,
    /// Render only files ending in this extension, which is removed (`.njk` in Backstage).
    pub template_extension: Option<String>,
}

/// Renders skeleton files into `out` under `target`: names and text contents through the engine with `values`,
/// binary files and files matching `copy_without_render` copied as they are. A file whose rendered name is empty
/// is left out (a template's way of making a file optional). Returns the paths written.
pub fn render_into(
    engine: &Engine,
    files: &Files,
    target: &str,
    values: &Value,
    options: &RenderOptions,
    out: &mut Files,
) -> Result<Vec<String>, String> {
    let context = if options.cookiecutter {
        serde_json::json!({ "cookiecutter": values, "values": values })
    } else {
        serde_json::json!({ "values": values })
    };
    let mut written = Vec::new();
    for (path, file) in files {
        let verbatim = options.copy_without_render.iter().any(|g| glob_match(g, path));
        let (name, render_contents) = match &options.template_extension {
            Some(ext) => match path.strip_suffix(ext.as_str()) {
                Some(stem) => (stem.to_owned(), true),
                None => (path.clone(), false),
            },
            None => (path.clone(), !verbatim),
        };
        let rendered_name =
            engine.render(&name, &context, options.cookiecutter).map_err(|e| format!("file name {path}: {e}"))?;
        if rendered_name.trim().is_empty() || rendered_name.ends_with('/') {
            continue;
        }
        let dest = join(target, &rendered_name).map_err(|e| format!("file name {path} renders to {e}"))?;
        let bytes = if render_contents && !verbatim && is_text(&file.bytes) {
            let text = std::str::from_utf8(&file.bytes).unwrap_or_default();
            engine.render(text, &context, options.cookiecutter).map_err(|e| format!("{path}: {e}"))?.into_bytes()
        } else {
            file.bytes.clone()
        };
        out.insert(dest.clone(), File { bytes, executable: file.executable });
        written.push(dest);
    }
    Ok(written)
}

/// Copies files into `out` under `target` without rendering anything.
pub fn copy_into(files: &Files, target: &str, out: &mut Files) -> Result<Vec<String>, String> {
    let mut written = Vec::new();
    for (path, file) in files {
        let dest = join(target, path)?;
        out.insert(dest.clone(), file.clone());
        written.push(dest);
    }
    Ok(written)
}

/// Glob matching on `/`-separated paths: `*` and `?` stay within one segment, `**` crosses segments. A pattern
/// without `/` also matches a file name in any directory.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./");
    if !pattern.contains('/') {
        let name = path.rsplit('/').next().unwrap_or(path);
        return matches(pattern.as_bytes(), name.as_bytes()) || matches(pattern.as_bytes(), path.as_bytes());
    }
    matches(pattern.as_bytes(), path.as_bytes())
}

fn matches(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = p[2..].strip_prefix(b"/").unwrap_or(&p[2..]);
            if rest.is_empty() {
                return true;
            }
            (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/') && matches(rest, &s[i..])) || matches(rest, s)
        }
        Some(b'*') => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| matches(&p[1..], &s[i..])),
        Some(b'?') => s.first().is_some_and(|&c| c != b'/') && matches(&p[1..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && matches(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> File {
        File { bytes: s.as_bytes().to_vec(), executable: false }
    }

    #[test]
    fn paths_stay_inside_the_workspace() {
        assert_eq!(safe_relative("./src//main.rs").unwrap(), "src/main.rs");
        for bad in ["../etc/passwd", "a/../../b", "/etc/passwd", "C:/x", "a\\b", "a\nb", "x/.."] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
        assert_eq!(join("services/api", "README.md").unwrap(), "services/api/README.md");
        assert!(join("..", "x").is_err());
        assert!(join(".", "").is_err());
    }

    #[test]
    fn names_and_contents_render_and_binaries_stay_untouched() {
        let e = Engine::new();
        let mut files = Files::new();
        files.insert("${{ values.name }}/README.md".into(), text("# ${{ values.name }}\nOwner: ${{ values.owner }}\n"));
        files.insert(
            "logo.png".into(),
            File { bytes: vec![0x89, b'P', b'N', b'G', 0, 1, b'$', b'{'], executable: false },
        );
        files.insert("${{ 'ci.yaml' if values.ci }}".into(), text("ci"));
        files.insert("scripts/run.sh".into(), File { bytes: b"echo ${{ values.name }}".to_vec(), executable: true });
        files.insert("docs/raw.md".into(), text("${{ values.name }} stays"));
        let options = RenderOptions { copy_without_render: vec!["docs/**".into()], ..Default::default() };
        let mut out = Files::new();
        let written = render_into(
            &e,
            &files,
            "app",
            &json!({"name": "payments", "owner": "team-a", "ci": false}),
            &options,
            &mut out,
        )
        .unwrap();
        assert_eq!(written.len(), 4, "the file whose name renders empty is left out: {written:?}");
        assert_eq!(out["app/payments/README.md"].bytes, b"# payments\nOwner: team-a\n");
        assert_eq!(out["app/logo.png"].bytes, files["logo.png"].bytes);
        assert_eq!(out["app/scripts/run.sh"].bytes, b"echo payments");
        assert!(out["app/scripts/run.sh"].executable);
        assert_eq!(out["app/docs/raw.md"].bytes, b"${{ values.name }} stays");
    }

    #[test]
    fn rendered_names_cannot_escape() {
        let e = Engine::new();
        let mut files = Files::new();
        files.insert("${{ values.name }}.txt".into(), text("x"));
        let err = render_into(
            &e,
            &files,
            ".",
            &json!({"name": "../../etc/cron.d/evil"}),
            &RenderOptions::default(),
            &mut Files::new(),
        )
        .unwrap_err();
        assert!(err.contains("leaves the workspace"), "{err}");
        let err =
            render_into(&e, &files, ".", &json!({"name": "/tmp/evil"}), &RenderOptions::default(), &mut Files::new())
                .unwrap_err();
        assert!(err.contains("absolute"), "{err}");
    }

    #[test]
    fn template_extension_and_cookiecutter() {
        let e = Engine::new();
        let mut files = Files::new();
        files.insert("main.rs.njk".into(), text("fn {{ cookiecutter.name }}() {}"));
        files.insert("keep.txt".into(), text("{{ cookiecutter.name }}"));
        let options =
            RenderOptions { cookiecutter: true, template_extension: Some(".njk".into()), ..Default::default() };
        let mut out = Files::new();
        render_into(&e, &files, "", &json!({"name": "go"}), &options, &mut out).unwrap();
        assert_eq!(out["main.rs"].bytes, b"fn go() {}");
        assert_eq!(out["keep.txt"].bytes, b"{{ cookiecutter.name }}");
    }

    #[tokio::test]
    async fn skeleton_directories_refuse_symlinks() {
        let dir = std::env::temp_dir().join(format!("portolan-skel-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("skeleton/src")).unwrap();
        std::fs::write(dir.join("skeleton/src/lib.rs"), "x").unwrap();
        let files = Source::Dir(dir.clone()).read("./skeleton", None).await.unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), vec!["src/lib.rs"]);
        assert!(Source::Dir(dir.clone()).read("../x", None).await.unwrap_err().contains("leaves"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/passwd", dir.join("skeleton/passwd")).unwrap();
            let err = Source::Dir(dir.clone()).read("skeleton", None).await.unwrap_err();
            assert!(err.contains("symbolic link"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.png", "assets/logo.png"));
        assert!(glob_match("docs/**", "docs/a/b.md"));
        assert!(glob_match("**/*.md", "a/b/c.md"));
        assert!(glob_match("**/*.md", "c.md"));
        assert!(!glob_match("docs/*", "docs/a/b.md"));
        assert!(glob_match("src/?.rs", "src/a.rs"));
        assert!(!glob_match("*.png", "logo.jpg"));
    }
}
