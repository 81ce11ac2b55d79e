//! A progress bar for long CLI work, drawn on stderr when it is a terminal (`label [#####.....] 120/450 files`),
//! and silent otherwise so logs and pipes get only the summary.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WIDTH: usize = 30;

/// The bar's text for `done` of `total`.
pub fn render(label: &str, done: usize, total: usize, unit: &str) -> String {
    let filled = (done.min(total) * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!("{label} [{}{}] {done}/{total} {unit}", "#".repeat(filled), ".".repeat(WIDTH - filled))
}

/// A reporter for `(done, total)` updates; `None` when stderr is not a terminal.
pub fn bar(label: String, unit: &'static str) -> Option<Arc<dyn Fn(usize, usize) + Send + Sync>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let last = Mutex::new(None::<Instant>);
    Some(Arc::new(move |done, total| {
        let mut last = last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let finished = done >= total;
        if !finished && last.is_some_and(|t| t.elapsed() < Duration::from_millis(80)) {
            return;
        }
        *last = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{}", render(&label, done, total, unit));
        if finished {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }))
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn the_bar_fills_with_the_work() {
        assert_eq!(render("x", 0, 10, "files"), format!("x [{}] 0/10 files", ".".repeat(30)));
        assert_eq!(render("x", 5, 10, "files"), format!("x [{}{}] 5/10 files", "#".repeat(15), ".".repeat(15)));
        assert_eq!(render("x", 10, 10, "files"), format!("x [{}] 10/10 files", "#".repeat(30)));
        assert_eq!(render("x", 0, 0, "files"), format!("x [{}] 0/0 files", "#".repeat(30)));
    }
}
