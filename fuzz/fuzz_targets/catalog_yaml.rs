//! The catalog's YAML reader: any bytes, as a `catalog-info.yaml`, must give documents or errors that name the file,
//! the document and a line inside the text, never a panic; the relations and API operations of every valid entity
//! are computed too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_core::catalog::{openapi, parse, relations};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Lines as YAML counts them: CR, LF and CRLF each end one.
    let lines = text.replace("\r\n", "\n").replace('\r', "\n").lines().count().max(1);
    for doc in parse::parse_documents("fuzz.yaml", text) {
        assert!(doc.index >= 1);
        match doc.result {
            Ok(entity) => {
                let _ = relations::relations_of(&entity);
                let _ = entity.entity_ref().to_string();
                if let Some(definition) = entity.spec_str("definition") {
                    let _ = openapi::operations(definition);
                }
            }
            Err(e) => {
                assert_eq!(e.file, "fuzz.yaml");
                assert_eq!(e.document, doc.index);
                if let Some(line) = e.line {
                    assert!(line >= 1 && line <= lines + 1, "line {line} outside a text of {lines} lines: {e}");
                }
                let _ = e.to_string();
            }
        }
    }
});
