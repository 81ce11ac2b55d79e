//! Reading an API entity's OpenAPI definition far enough to list its operations.

use portolan_types::catalog::ApiOperation;
use serde_json::Value;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The operations of an OpenAPI (or Swagger 2) document in YAML or JSON, in document order of paths and method
/// order within a path. A definition that does not parse yields none.
pub fn operations(definition: &str) -> Vec<ApiOperation> {
    let Ok(doc) = serde_yaml_ng::from_str::<Value>(definition) else { return Vec::new() };
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return Vec::new() };
    let mut out = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let summary = op
                    .get("summary")
                    .and_then(Value::as_str)
                    .or_else(|| op.get("operationId").and_then(Value::as_str))
                    .map(str::to_owned);
                out.push(ApiOperation { method: method.to_uppercase(), path: path.clone(), summary });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_listed_with_their_summaries() {
        let ops = operations(
            "openapi: 3.0.0\ninfo: {title: T, version: '1'}\npaths:\n  /pets:\n    get: {summary: List pets}\n    post: {operationId: createPet}\n  /pets/{id}:\n    delete: {}\n",
        );
        let rendered: Vec<String> =
            ops.iter().map(|o| format!("{} {} {}", o.method, o.path, o.summary.clone().unwrap_or_default())).collect();
        assert_eq!(rendered, ["GET /pets List pets", "POST /pets createPet", "DELETE /pets/{id} "]);
    }

    #[test]
    fn anything_else_yields_nothing() {
        assert!(operations("type Query { pets: [Pet] }").is_empty());
        assert!(operations("openapi: 3.0.0").is_empty());
    }
}
