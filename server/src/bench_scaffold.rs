//! `portolan bench scaffold`: how long a template run takes to read and render its skeleton, the README's
//! figure for "rendering a 200-file skeleton takes < 1 s".
//!
//! It writes a skeleton of `files` files into a temporary directory (nested folders, names with expressions, text
//! files of 1-8 KB with substitutions, a loop and conditions, and some binary files) next to a template that
//! fetches it and lists the workspace, then runs that template as a dry-run `runs` times: each run reads the
//! directory from disk, checks every path, renders every name and text file, and builds the workspace in memory,
//! exactly as a task does before it publishes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use portolan_core::scaffold::{self, template, workspace};
use serde_json::{Map, Value, json};

use crate::bench::BenchError;

/// What to run.
#[derive(Debug, Clone)]
pub struct ScaffoldBenchOptions {
    /// Files in the skeleton.
    pub files: usize,
    /// Runs measured.
    pub runs: usize,
}

/// What was measured, in milliseconds per run.
#[derive(Debug, Clone)]
pub struct ScaffoldFigures {
    /// Files written to the workspace per run.
    pub files: usize,
    /// Bytes of the skeleton.
    pub bytes: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

fn skeleton(dir: &std::path::Path, files: usize) -> Result<usize, BenchError> {
    let mut total = 0;
    for i in 0..files {
        let folder = format!("module-{}/part-{}", i % 12, i % 5);
        let (name, bytes): (String, Vec<u8>) = if i % 20 == 19 {
            // A binary file: an image-like header and noise, copied untouched.
            let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
            b.extend((0..4096u32).map(|x| (x.wrapping_mul(2_654_435_761) >> 13) as u8));
            (format!("{folder}/asset-{i}.png"), b)
        } else {
            let mut text = String::new();
            let _ = writeln!(text, "// ${{{{ values.name }}}} file {i}, owned by ${{{{ values.owner }}}}");
            let lines = 20 + (i * 37) % 160;
            for l in 0..lines {
                let _ = writeln!(
                    text,
                    "pub const ITEM_{l}: &str = \"${{{{ values.name | upper }}}}-{l}\"; // port ${{{{ values.port }}}}"
                );
            }
            let _ = writeln!(text, "{{% for t in values.tags %}}// tag ${{{{ t }}}}\n{{% endfor %}}");
            let _ = writeln!(text, "{{% if values.ci %}}// CI on{{% else %}}// CI off{{% endif %}}");
            (format!("{folder}/${{{{ values.name }}}}_{i}.rs"), text.into_bytes())
        };
        let path = dir.join("skeleton").join(&name);
        std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
        total += bytes.len();
        std::fs::write(path, bytes)?;
    }
    std::fs::write(
        dir.join("template.yaml"),
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: bench\nspec:\n  owner: group:platform\n  type: service\n  steps:\n    - id: fetch\n      name: Fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n          owner: ${{ parameters.owner }}\n          port: ${{ parameters.port }}\n          tags: ${{ parameters.tags }}\n          ci: true\n    - id: list\n      name: List\n      action: debug:log\n      input:\n        listWorkspace: true\n",
    )?;
    Ok(total)
}

/// Runs the benchmark and prints the figures.
pub async fn scaffold(o: ScaffoldBenchOptions) -> Result<ScaffoldFigures, BenchError> {
    let dir: PathBuf = std::env::temp_dir().join(format!("portolan-bench-scaffold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    crate::bench::progress(&format!("writing a skeleton of {} files to {}", o.files, dir.display()));
    let bytes = skeleton(&dir, o.files)?;
    let text = std::fs::read_to_string(dir.join("template.yaml"))?;
    let doc = template::document(&Value::String(text)).map_err(BenchError::Step)?;
    let tpl = template::parse(&doc).map_err(BenchError::Step)?;
    let values: Map<String, Value> = json!({"name": "orders", "owner": "group:default/payments", "port": 8080,
        "tags": ["rust", "api", "payments"]})
    .as_object()
    .cloned()
    .unwrap_or_default();
    let source = workspace::Source::Dir(dir.clone());
    let user = json!({"ref": "user:default/bench"});
    let bar = crate::progress::bar("rendering".to_owned(), "runs");
    let mut times = Vec::with_capacity(o.runs);
    let mut written = 0;
    for run in 0..o.runs.max(1) + 1 {
        let started = Instant::now();
        let result = scaffold::dry_run(&tpl, &source, &values, &Map::new(), &user, None).await;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if let Some(e) = result.error {
            return Err(BenchError::Step(format!("the run failed: {e}")));
        }
        written = result.files.len();
        // The first run warms the file cache; it is not counted.
        if run > 0 {
            times.push(elapsed);
        }
        if let Some(b) = &bar {
            b(run, o.runs.max(1));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    let figures = ScaffoldFigures { files: written, bytes, p50_ms: pick(0.5), p95_ms: pick(0.95), max_ms: pick(1.0) };
    println!(
        "scaffold: {} files ({:.1} MB) read, checked and rendered per run, {} runs: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms (target < 1000 ms)",
        figures.files,
        bytes as f64 / 1_048_576.0,
        times.len(),
        figures.p50_ms,
        figures.p95_ms,
        figures.max_ms
    );
    Ok(figures)
}
