//! Any field of an entity's document, in SQL for both databases, as Backstage's catalog sees fields.
//!
//! Backstage flattens every entity into (dot path, value) rows and filters, orders and counts facets over them:
//! a path passes through lists (`metadata.links.url` is the `url` of each link), a list at the end gives each of
//! its elements, keys and values compare in lower case and booleans and numbers as JSON writes them. Portolan keeps no
//! such second copy of the catalog (it would double the import's writes); it reads the stored JSON document
//! instead, with `json_each` on SQLite and a lax `jsonpath` on PostgreSQL, which walk lists the same way. The
//! columns the catalog indexes (kind, name, owner…) keep their own faster conditions in `store`; this is for
//! every other field.

use sea_orm::DbBackend;
use sea_orm::sea_query::Expr;

/// The first two placeholders of a custom SQL expression: sea-query passes PostgreSQL's numbered ones (`$1`) and
/// SQLite's (`?`) through as written.
pub(crate) fn placeholders(backend: DbBackend) -> [&'static str; 2] {
    if backend == DbBackend::Postgres { ["$1", "$2"] } else { ["?", "?"] }
}

/// A dot path into an entity's document: `spec.profile.email`, `metadata.links.url`, or an annotation or label
/// whose key is one segment, dots and all (`metadata.annotations.backstage.io/techdocs-ref`). Keys match in any
/// case, as in Backstage (`spec.Profile.EMail` finds `spec.profile.email`, and the other way round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// Never empty; each segment is lower case letters, digits, `-`, `_`, `.` and `/` only, so that it can be
    /// written into SQL text and JSON path regular expressions without escaping (a `.` as `[.]`).
    segments: Vec<String>,
}

/// The characters a field's segments may hold.
pub const FIELD_CHARACTERS: &str = "letters, digits, `-`, `_`, `.` and `/`";

impl FieldPath {
    /// The path a field names; `None` when a segment is empty or holds another character.
    pub fn parse(field: &str) -> Option<FieldPath> {
        let field = field.trim();
        let lower = field.to_ascii_lowercase();
        let segments = ["annotations", "labels"]
            .into_iter()
            .find_map(|m| {
                let prefix = format!("metadata.{m}.");
                lower
                    .starts_with(&prefix)
                    .then(|| vec!["metadata".to_owned(), m.to_owned(), lower[prefix.len()..].to_owned()])
            })
            .unwrap_or_else(|| lower.split('.').map(str::to_owned).collect());
        let plain = |s: &String| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        segments.iter().all(plain).then_some(FieldPath { segments })
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The key as every valid descriptor spells it, when segment `i` is one the descriptor format fixes
    /// (`metadata`, `apiVersion`, `metadata.annotations`, a link's `url`): read directly, which is cheaper than
    /// looking through an object's keys in any case. Keys under `spec`, annotations and labels are the authors'.
    fn fixed_key(&self, i: usize) -> Option<&'static str> {
        let parents: Vec<&str> = self.segments[..i].iter().map(String::as_str).collect();
        let known: &[&'static str] = match parents.as_slice() {
            [] => &["apiVersion", "kind", "metadata", "spec", "relations", "status"],
            ["metadata"] => {
                &["name", "namespace", "title", "description", "labels", "annotations", "tags", "links", "uid", "etag"]
            }
            ["metadata", "links"] => &["url", "title", "icon", "type"],
            ["relations"] => &["type", "targetRef", "target"],
            _ => &[],
        };
        known.iter().copied().find(|k| k.eq_ignore_ascii_case(&self.segments[i]))
    }

    /// The path's values, one row each, in a subquery over the outer `entities` row: `FROM` items and the
    /// expressions of one value's type class and its text.
    fn source(&self, backend: DbBackend) -> Source {
        match backend {
            DbBackend::Postgres => {
                // Each key in any case: the object's entries whose key matches, then their values. Lax mode looks
                // into each element of a list on the way; `[*]` gives a list's elements, or a single value itself.
                let keys: String = (0..self.segments.len())
                    .map(|i| match self.fixed_key(i) {
                        Some(k) => format!(".\"{k}\""),
                        None => format!(
                            ".keyvalue() ? (@.key like_regex \"^{}$\" flag \"i\").value",
                            self.segments[i].replace('.', "[.]")
                        ),
                    })
                    .collect();
                Source {
                    from: format!("jsonb_path_query((\"entities\".\"body\")::jsonb, 'lax ${keys}[*]') AS fv(j)"),
                    scalar: "jsonb_typeof(fv.j) IN ('string', 'number', 'boolean')".to_owned(),
                    present: "jsonb_typeof(fv.j) IN ('string', 'number', 'boolean', 'null')".to_owned(),
                    text: "(fv.j #>> '{}')".to_owned(),
                }
            }
            _ => {
                // Per segment, `f` gives the elements of a list there, or the single value itself; the next
                // segment looks into objects only. A key the format fixes is read directly; any other key is
                // first found among the object's entries in any case (`k`).
                let mut from = Vec::with_capacity(self.segments.len() * 2);
                let mut keys = Vec::with_capacity(self.segments.len() + 1);
                let mut object = "\"entities\".\"body\"".to_owned();
                for (i, s) in self.segments.iter().enumerate() {
                    if let Some(k) = self.fixed_key(i) {
                        let at = format!("'$.\"{k}\"'");
                        from.push(format!(
                            "json_each(CASE WHEN json_type({object}, {at}) IS NULL THEN '[]' \
                             WHEN json_type({object}, {at}) = 'array' THEN {object} -> {at} \
                             ELSE json_array({object} -> {at}) END) AS f{i}"
                        ));
                    } else {
                        from.push(format!("json_each({object}) AS k{i}"));
                        // json_each gives booleans as 1 and 0: keep them JSON booleans.
                        from.push(format!(
                            "json_each(CASE k{i}.type WHEN 'array' THEN k{i}.value WHEN 'true' THEN '[true]' \
                             WHEN 'false' THEN '[false]' ELSE json_array(k{i}.value) END) AS f{i}"
                        ));
                        keys.push(format!("lower(k{i}.key) = '{s}'"));
                    }
                    object = format!("(CASE WHEN f{i}.type = 'object' THEN f{i}.value ELSE '{{}}' END)");
                }
                let last = self.segments.len() - 1;
                let with_keys = |condition: String| {
                    keys.iter().cloned().chain(std::iter::once(condition)).collect::<Vec<_>>().join(" AND ")
                };
                Source {
                    from: from.join(", "),
                    scalar: with_keys(format!("f{last}.type IN ('text', 'integer', 'real', 'true', 'false')")),
                    present: with_keys(format!("f{last}.type NOT IN ('object', 'array')")),
                    // SQLite gives booleans' atoms as 1 and 0: spell them as JSON does.
                    text: format!(
                        "(CASE f{last}.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                         ELSE CAST(f{last}.atom AS TEXT) END)"
                    ),
                }
            }
        }
    }

    /// The entity has a value at this path (`null` included, as in Backstage; objects and lists are not values).
    pub fn exists(&self, backend: DbBackend) -> Expr {
        let s = self.source(backend);
        Expr::cust(format!("EXISTS (SELECT 1 FROM {} WHERE {})", s.from, s.present))
    }

    /// Some value at this path equals `value`, in any case.
    pub fn equals(&self, backend: DbBackend, value: &str) -> Expr {
        let s = self.source(backend);
        let [first, _] = placeholders(backend);
        Expr::cust_with_values(
            format!("EXISTS (SELECT 1 FROM {} WHERE {} AND lower({}) = {first})", s.from, s.scalar, s.text),
            [value.to_lowercase()],
        )
    }

    /// Some value at this path matches the `LIKE` pattern (already lower case) with `escape` as its escape
    /// character, in any case.
    pub fn like(&self, backend: DbBackend, pattern: &str, escape: char) -> Expr {
        let s = self.source(backend);
        let [first, second] = placeholders(backend);
        // The escape character is bound too: sea-query reads a backslash in quoted SQL text as an escape.
        Expr::cust_with_values(
            format!(
                "EXISTS (SELECT 1 FROM {} WHERE {} AND lower({}) LIKE {first} ESCAPE {second})",
                s.from, s.scalar, s.text
            ),
            [pattern.to_owned(), escape.to_string()],
        )
    }

    /// The smallest value at this path in lower case, for ordering; NULL when there is none.
    pub fn sort_key(&self, backend: DbBackend) -> Expr {
        let s = self.source(backend);
        Expr::cust(format!("(SELECT min(lower({})) FROM {} WHERE {})", s.text, s.from, s.scalar))
    }

    /// Every value at this path as written (strings as they are, numbers and booleans as JSON writes them), as a
    /// JSON list of strings; NULL or an empty list when there is none. Read with [`FieldPath::read_values`].
    pub fn values(&self, backend: DbBackend) -> Expr {
        let s = self.source(backend);
        // Text on both: PostgreSQL's `json` does not decode into a string.
        let (aggregate, cast) =
            if backend == DbBackend::Postgres { ("json_agg", "::text") } else { ("json_group_array", "") };
        Expr::cust(format!("(SELECT {aggregate}({}) FROM {} WHERE {}){cast}", s.text, s.from, s.scalar))
    }

    /// The values [`FieldPath::values`] read, distinct.
    pub fn read_values(text: Option<&str>) -> std::collections::BTreeSet<String> {
        text.and_then(|t| serde_json::from_str::<Vec<String>>(t).ok()).unwrap_or_default().into_iter().collect()
    }
}

/// SQL pieces of one path's values.
struct Source {
    /// `FROM` items yielding one row per value.
    from: String,
    /// The row is a string, number or boolean.
    scalar: String,
    /// The row is a value or `null` (not an object or a list).
    present: String,
    /// The value's text, as written.
    text: String,
}

#[cfg(test)]
mod tests {
    use super::FieldPath;

    #[test]
    fn a_field_is_a_dot_path_and_an_annotation_key_is_one_segment() {
        let segments = |f: &str| FieldPath::parse(f).map(|p| p.segments().to_vec());
        assert_eq!(segments("spec.profile.email").unwrap(), ["spec", "profile", "email"]);
        assert_eq!(
            segments(" metadata.annotations.backstage.io/techdocs-ref ").unwrap(),
            ["metadata", "annotations", "backstage.io/techdocs-ref"]
        );
        assert_eq!(segments("Metadata.Labels.Tier").unwrap(), ["metadata", "labels", "tier"], "keys in any case");
        assert_eq!(segments("spec.Profile.EMail").unwrap(), ["spec", "profile", "email"]);
        // Keys the format fixes are read as it spells them; the authors' keys are looked for in any case.
        let fixed = |f: &str| {
            let p = FieldPath::parse(f).unwrap();
            (0..p.segments().len()).map(|i| p.fixed_key(i)).collect::<Vec<_>>()
        };
        assert_eq!(fixed("APIVERSION"), [Some("apiVersion")]);
        assert_eq!(fixed("metadata.links.URL"), [Some("metadata"), Some("links"), Some("url")]);
        assert_eq!(fixed("Metadata.Annotations.backstage.io/x"), [Some("metadata"), Some("annotations"), None]);
        assert_eq!(fixed("spec.profile.email"), [Some("spec"), None, None]);
        assert_eq!(fixed("relations.targetref"), [Some("relations"), Some("targetRef")]);
        assert_eq!(segments("kind").unwrap(), ["kind"]);
        // Nothing that could close a quoted key or a string in the SQL text it is written into.
        for bad in
            ["", "spec..owner", "spec.", "spec.o'wner", "spec.\"x\"", "spec.a b", "spec.x\\y", "metadata.annotations."]
        {
            assert_eq!(FieldPath::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn values_read_back_as_a_set_and_none_is_empty() {
        assert_eq!(FieldPath::read_values(Some(r#"["a","b","a"]"#)).into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(FieldPath::read_values(None).is_empty());
        assert!(FieldPath::read_values(Some("[]")).is_empty());
    }
}
