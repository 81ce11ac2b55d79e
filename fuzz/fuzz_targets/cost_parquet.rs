//! The Parquet billing file reader (FOCUS and CUR 2.0): any bytes, written to a file the way an upload is,
//! import without a panic or a hang. A refusal names the file (Parquet has no lines, so the line is 0); what is
//! accepted is consistent (every row in one period and one daily sum) and reads the same twice. Seeds are the
//! pyarrow-written fixtures of `core/src/cost/testdata`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portolan_core::cost::CostError;
use portolan_core::cost::import::{Aggregate, Source};

fn scratch() -> &'static std::path::PathBuf {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("portolan-fuzz-{}.parquet", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    // The importer turns a panic inside the parquet crate into a refusal (catch_unwind), as the server does; the
    // hook libfuzzer-sys installs would abort on it first. The default hook is put back: a panic that escapes
    // this function (a broken invariant below) still aborts the run.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    // Only what starts like Parquet reaches the Parquet reader; the CSV readers have their own target.
    if !data.starts_with(b"PAR1") {
        return;
    }
    let path = scratch();
    std::fs::write(path, data).expect("writing the scratch file");
    let mut source = Source::file(path);
    source.name = "fuzz.parquet".to_owned();
    match Aggregate::read(std::slice::from_ref(&source), None) {
        Ok(agg) => {
            assert!(agg.consistent(), "row counts disagree");
            let again = Aggregate::read(std::slice::from_ref(&source), None).expect("a second read");
            assert_eq!(agg.grand_totals(), again.grand_totals());
            assert_eq!(agg.lines, again.lines);
        }
        Err(CostError::File { file, line, message, .. }) => {
            assert_eq!(file, "fuzz.parquet");
            assert_eq!(line, 0, "a Parquet error with a line: {message}");
            assert!(!message.is_empty());
        }
        Err(other) => panic!("a reader error that is not about the file: {other}"),
    }
});
