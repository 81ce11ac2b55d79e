//! The scaffolder's template engine: any text as a skeleton file (its name and its contents) and as a step input
//! renders or is refused without a panic, within the fuel limit, and whatever it renders to, nothing lands
//! outside the workspace: every written path is relative, has no `..` and no backslash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_core::scaffold::expr::Engine;
use portolan_core::scaffold::workspace::{File, Files, RenderOptions, render_into, safe_relative};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is a file name, the rest its contents; the same text is also a value and an input.
    let (name, contents) = text.split_once('\n').unwrap_or((text, ""));
    let engine = Engine::new();
    let values = json!({"name": name, "list": [name, contents], "n": contents.len(), "flag": contents.is_empty()});
    let mut files = Files::new();
    files.insert(name.to_owned(), File { bytes: contents.as_bytes().to_vec(), executable: false });
    files.insert("fixed/${{ values.name }}.txt".to_owned(), File { bytes: text.as_bytes().to_vec(), executable: false });
    for cookiecutter in [false, true] {
        let options = RenderOptions { cookiecutter, ..Default::default() };
        let mut out = Files::new();
        if let Ok(written) = render_into(&engine, &files, "target", &values, &options, &mut out) {
            for path in written {
                assert_eq!(safe_relative(&path).as_deref(), Ok(path.as_str()), "unsafe path {path:?}");
                assert!(path.starts_with("target/"), "{path:?} is outside the target");
            }
        }
    }
    let _ = engine.evaluate(&json!({"a": text, "b": [text, {"c": text}]}), &json!({"parameters": values}));
    let _ = engine.condition(&json!(text), &json!({"parameters": values}));
    let _ = engine.check(text);
});
