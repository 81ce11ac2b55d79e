//! The Markdown renderer: any text renders without a panic, to HTML in which nothing can run, style or clobber, and
//! with a table of contents whose anchors all exist in the page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_core::docs::markdown;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let rendered = markdown::render(text);
    if let Some(problem) = markdown::unsafe_markup(&rendered.html) {
        panic!("unsafe output ({problem}) for {text:?}: {}", rendered.html);
    }
    for entry in &rendered.toc {
        assert!(entry.id.starts_with(markdown::ID_PREFIX));
        assert!(rendered.html.contains(&format!("id=\"{}\"", entry.id)), "anchor {} missing", entry.id);
    }
});
