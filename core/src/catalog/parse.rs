//! Reading and validating descriptor files: every YAML document of a file on its own, so one bad document never
//! hides the good ones, and every error naming the file, the document, the line and (for a field) the rule.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Entity, EntityRef, Kind, Link, Metadata};

/// One YAML document of a file, parsed and validated, or why not.
#[derive(Debug, Clone)]
pub struct ParsedDocument {
    /// 1-based document number within the file.
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: usize,
    /// The entity, or the problem.
    pub result: Result<Entity, DescriptorError>,
}

/// A problem with one document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DescriptorError {
    /// The file.
    pub file: String,
    /// 1-based document number.
    pub document: usize,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted path of the field at fault (`spec.owner`), when the problem is about one field.
    pub field: Option<String>,
    /// What is wrong, naming the rule.
    pub message: String,
}

impl std::fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: document {}", self.file, self.document)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// YAML breaks lines at CR, LF and CRLF alike; so must everything that counts lines, or line numbers drift apart (a
/// lone CR, as old Mac editors write, would otherwise count as a line for the YAML parser and not for us).
pub fn normalize_line_breaks(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n").into() } else { text.into() }
}

/// Splits `text` at `---` lines and parses and validates every document independently. Documents holding only
/// comments or whitespace are skipped but still counted.
pub fn parse_documents(file: &str, text: &str) -> Vec<ParsedDocument> {
    let text = normalize_line_breaks(text);
    let text = text.as_ref();
    let mut chunks: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let is_separator = line.starts_with("---") && line[3..].chars().next().is_none_or(char::is_whitespace);
        if is_separator {
            if i > 0 || !current.is_empty() {
                chunks.push((start, std::mem::take(&mut current)));
            }
            start = i + 1;
            // Content after `--- ` on the same line belongs to the new document.
            current.push_str(line[3..].trim_start());
            current.push('\n');
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    chunks.push((start, current));

    let mut out = Vec::new();
    for (i, (line, chunk)) in chunks.into_iter().enumerate() {
        let index = i + 1;
        let blank = chunk.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "...");
        if blank {
            continue;
        }
        let result = match serde_yaml_ng::from_str::<Value>(&chunk) {
            Ok(value) => validate(file, index, Some(line), value),
            Err(e) => Err(DescriptorError {
                file: file.to_owned(),
                document: index,
                line: Some(e.location().map_or(line, |l| line + l.line().saturating_sub(1))),
                field: None,
                message: format!("invalid YAML: {}", strip_location(&e.to_string())),
            }),
        };
        out.push(ParsedDocument { index, line, result });
    }
    out
}

/// The YAML library appends "at line N column M" relative to the document; we report absolute lines instead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Backstage's name rule: 1 to 63 characters, `[a-zA-Z0-9]` at both ends, `[-_.a-zA-Z0-9]` inside.
pub fn is_valid_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A DNS label: 1 to 63 characters of lower-case `a-z0-9` and `-`, not starting or ending with `-`.
pub fn is_valid_namespace(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Backstage's tag rule: 1 to 63 characters, groups of `[a-z0-9:+#]` separated by single `-`.
pub fn is_valid_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.split('-').all(|g| {
            !g.is_empty()
                && g.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b':' | b'+' | b'#'))
        })
}

/// A DNS subdomain: dot-separated DNS labels, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_valid_namespace)
}

/// Label and annotation keys: `[prefix/]name` with a DNS-subdomain prefix.
fn is_valid_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_valid_name(name),
        None => is_valid_name(s),
    }
}

struct Ctx<'a> {
    file: &'a str,
    document: usize,
    line: Option<usize>,
}

impl Ctx<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> DescriptorError {
        DescriptorError {
            file: self.file.to_owned(),
            document: self.document,
            line: self.line,
            field: (!field.is_empty()).then(|| field.to_owned()),
            message: message.into(),
        }
    }
}

fn optional_string(
    ctx: &Ctx,
    obj: &serde_json::Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, DescriptorError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ctx.err(path, "must be a string")),
    }
}

fn string_map(
    ctx: &Ctx,
    value: Option<&Value>,
    path: &str,
    labels: bool,
) -> Result<BTreeMap<String, String>, DescriptorError> {
    let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(BTreeMap::new()) };
    let obj = value.as_object().ok_or_else(|| ctx.err(path, "must be a mapping of keys to strings"))?;
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let field = format!("{path}.{k}");
        if !is_valid_key(k) {
            return Err(ctx.err(&field, "keys are `[prefix/]name`: a DNS-subdomain prefix, and a name of up to 63 letters, digits, `-`, `_` or `.` starting and ending with a letter or digit"));
        }
        let v = v.as_str().ok_or_else(|| ctx.err(&field, "must be a string"))?;
        if labels && !v.is_empty() && !is_valid_name(v) {
            return Err(ctx.err(&field, "label values are empty or up to 63 letters, digits, `-`, `_` or `.` starting and ending with a letter or digit"));
        }
        out.insert(k.clone(), v.to_owned());
    }
    Ok(out)
}

fn metadata(ctx: &Ctx, value: Option<&Value>) -> Result<Metadata, DescriptorError> {
    let obj =
        value.and_then(Value::as_object).ok_or_else(|| ctx.err("metadata", "is required and must be a mapping"))?;
    let name = match obj.get("name") {
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err(ctx.err("metadata.name", "must be a string")),
        None => return Err(ctx.err("metadata.name", "is required")),
    };
    if !is_valid_name(&name) {
        return Err(ctx.err(
            "metadata.name",
            "must be 1-63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
        ));
    }
    let namespace =
        optional_string(ctx, obj, "namespace", "metadata.namespace")?.unwrap_or_else(|| "default".to_owned());
    if !is_valid_namespace(&namespace) {
        return Err(ctx.err(
            "metadata.namespace",
            "must be a DNS label: 1-63 lower-case letters, digits or `-`, not starting or ending with `-`",
        ));
    }
    let mut tags = Vec::new();
    match obj.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, t) in items.iter().enumerate() {
                match t.as_str() {
                    Some(tag) if is_valid_tag(tag) => tags.push(tag.to_owned()),
                    _ => {
                        return Err(ctx.err(
                            &format!("metadata.tags[{i}]"),
                            "tags are 1-63 lower-case letters, digits, `:`, `+` or `#`, in groups joined by single `-`",
                        ));
                    }
                }
            }
        }
        Some(_) => return Err(ctx.err("metadata.tags", "must be a list")),
    }
    let mut links = Vec::new();
    match obj.get("links") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, l) in items.iter().enumerate() {
                let path = format!("metadata.links[{i}]");
                let lo = l.as_object().ok_or_else(|| ctx.err(&path, "must be a mapping with a `url`"))?;
                let url = match lo.get("url") {
                    Some(Value::String(u)) if !u.trim().is_empty() => u.clone(),
                    _ => return Err(ctx.err(&format!("{path}.url"), "is required and must be a string")),
                };
                links.push(Link {
                    url,
                    title: optional_string(ctx, lo, "title", &format!("{path}.title"))?,
                    icon: optional_string(ctx, lo, "icon", &format!("{path}.icon"))?,
                    link_type: optional_string(ctx, lo, "type", &format!("{path}.type"))?,
                });
            }
        }
        Some(_) => return Err(ctx.err("metadata.links", "must be a list")),
    }
    Ok(Metadata {
        name,
        namespace,
        title: optional_string(ctx, obj, "title", "metadata.title")?,
        description: optional_string(ctx, obj, "description", "metadata.description")?,
        labels: string_map(ctx, obj.get("labels"), "metadata.labels", true)?,
        annotations: string_map(ctx, obj.get("annotations"), "metadata.annotations", false)?,
        tags,
        links,
    })
}

/// Required spec fields per kind, after Backstage's descriptor schemas: (field, must be a list).
fn required_fields(kind: Kind) -> &'static [(&'static str, bool)] {
    match kind {
        Kind::Component => &[("type", false), ("lifecycle", false), ("owner", false)],
        Kind::Api => &[("type", false), ("lifecycle", false), ("owner", false), ("definition", false)],
        Kind::System | Kind::Domain => &[("owner", false)],
        Kind::Resource => &[("type", false), ("owner", false)],
        Kind::Group => &[("type", false), ("children", true)],
        Kind::User => &[("memberOf", true)],
        Kind::Template => &[("type", false), ("steps", true)],
        Kind::Location => &[],
    }
}

/// Reference-valued spec fields and their default kinds (`None`: the reference must name its kind).
pub(crate) fn reference_fields(kind: Kind) -> &'static [(&'static str, Option<&'static str>)] {
    match kind {
        Kind::Component => &[
            ("owner", Some("group")),
            ("system", Some("system")),
            ("subcomponentOf", Some("component")),
            ("providesApis", Some("api")),
            ("consumesApis", Some("api")),
            ("dependsOn", None),
            ("dependencyOf", None),
        ],
        Kind::Api => &[("owner", Some("group")), ("system", Some("system"))],
        Kind::Resource => {
            &[("owner", Some("group")), ("system", Some("system")), ("dependsOn", None), ("dependencyOf", None)]
        }
        Kind::System => &[("owner", Some("group")), ("domain", Some("domain"))],
        Kind::Domain => &[("owner", Some("group")), ("subdomainOf", Some("domain"))],
        Kind::Group => &[("parent", Some("group")), ("children", Some("group")), ("members", Some("user"))],
        Kind::User => &[("memberOf", Some("group"))],
        Kind::Template => &[("owner", Some("group"))],
        Kind::Location => &[],
    }
}

/// Validates one decoded document (also used for entities created in the portal).
pub fn validate(file: &str, document: usize, line: Option<usize>, value: Value) -> Result<Entity, DescriptorError> {
    let ctx = Ctx { file, document, line };
    let obj = value
        .as_object()
        .ok_or_else(|| ctx.err("", "a descriptor must be a mapping with apiVersion, kind, metadata and spec"))?;
    let api_version = match obj.get("apiVersion") {
        Some(Value::String(v)) => v.clone(),
        _ => return Err(ctx.err("apiVersion", "is required and must be a string")),
    };
    let kind_text = match obj.get("kind") {
        Some(Value::String(k)) => k.clone(),
        _ => return Err(ctx.err("kind", "is required and must be a string")),
    };
    let kind = Kind::parse(&kind_text).ok_or_else(|| {
        ctx.err("kind", format!("unknown kind `{kind_text}`; expected one of Component, API, System, Domain, Resource, Group, User, Location, Template"))
    })?;
    let version_ok = match kind {
        Kind::Template => matches!(
            api_version.as_str(),
            "scaffolder.backstage.io/v1beta3"
                | "scaffolder.backstage.io/v1beta2"
                | "backstage.io/v1alpha1"
                | "backstage.io/v1beta1"
        ),
        _ => matches!(api_version.as_str(), "backstage.io/v1alpha1" | "backstage.io/v1beta1"),
    };
    if !version_ok {
        return Err(ctx.err("apiVersion", format!("`{api_version}` is not supported for kind {}", kind.as_str())));
    }
    let metadata = metadata(&ctx, obj.get("metadata"))?;
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    let spec_obj = spec.as_object().ok_or_else(|| ctx.err("spec", "is required and must be a mapping"))?;
    for (field, list) in required_fields(kind) {
        let path = format!("spec.{field}");
        match spec_obj.get(*field) {
            None | Some(Value::Null) => return Err(ctx.err(&path, format!("is required for kind {}", kind.as_str()))),
            Some(Value::Array(_)) if *list => {}
            Some(_) if *list => return Err(ctx.err(&path, "must be a list")),
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            // An API definition may be a `$text`-style placeholder mapping.
            Some(Value::Object(_)) if *field == "definition" => {}
            Some(_) => return Err(ctx.err(&path, "must be a non-empty string")),
        }
    }
    if kind == Kind::Location {
        let has_target = spec_obj.get("target").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty());
        let has_targets = spec_obj.get("targets").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
        if !has_target && !has_targets {
            return Err(ctx.err("spec.target", "a Location needs `target` or a non-empty `targets` list"));
        }
    }
    for (field, default_kind) in reference_fields(kind) {
        let path = format!("spec.{field}");
        let texts: Vec<&Value> = match spec_obj.get(*field) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
        };
        for t in texts {
            let text = t.as_str().ok_or_else(|| ctx.err(&path, "entity references must be strings"))?;
            EntityRef::parse(text, *default_kind, &metadata.namespace).map_err(|e| ctx.err(&path, e.to_string()))?;
        }
    }
    Ok(Entity { api_version, kind, metadata, spec, raw: value })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

    #[test]
    fn names_namespaces_and_tags_follow_backstage_rules() {
        assert!(is_valid_name("payments-api"));
        assert!(is_valid_name("A.b_c-9"));
        assert!(is_valid_name(&"a".repeat(63)));
        assert!(!is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name("-leading"));
        assert!(!is_valid_name("trailing."));
        assert!(!is_valid_name("has space"));
        assert!(is_valid_namespace("payments-eu"));
        assert!(!is_valid_namespace("Payments"));
        assert!(!is_valid_namespace("-x"));
        assert!(is_valid_tag("c++"));
        assert!(is_valid_tag("java-11"));
        assert!(!is_valid_tag("Java"));
        assert!(!is_valid_tag("a--b"));
        assert!(!is_valid_tag(&"a".repeat(64)));
    }

    #[test]
    fn lone_carriage_returns_break_lines_as_yaml_says() {
        // Found by the `catalog_yaml` fuzz target: the error was reported at line 131 of a 17-line file.
        let text = "apiVersion: backstage.io/v1alpha1\rkind: User\rmetadata:\r  name: ada\rspec:\r  memberOf: []\r\
                    ---\rapiVersion: backstage.io/v1alpha1\rkind: User\rmetadata:\r  name: grace\rspec:\r\
                    \r\r\r\r  memberOf: [a\r  b: c\r";
        let docs = parse_documents("users.yaml", text);
        assert_eq!(docs.len(), 2);
        assert!(docs[0].result.is_ok(), "{:?}", docs[0].result);
        let e = docs[1].result.as_ref().unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{e}");
        let lines = text.split('\r').count();
        assert!(e.line.is_some_and(|l| (9..=lines).contains(&l)), "{e}");
        // CRLF files read exactly like LF files.
        let crlf = "apiVersion: backstage.io/v1alpha1\r\nkind: User\r\nmetadata:\r\n  name: ada\r\nspec:\r\n  memberOf: []\r\n";
        assert!(parse_documents("u.yaml", crlf)[0].result.is_ok());
    }

    #[test]
    fn every_document_stands_alone_and_errors_name_document_line_and_field() {
        let text = format!(
            "# catalog\n{GOOD}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [broken\n---\n{}---\n{}",
            GOOD.replace("  owner: team-a\n", ""),
            GOOD.replace("name: a", "name: d")
        );
        let docs = parse_documents("catalog-info.yaml", &text);
        assert_eq!(docs.len(), 4);
        assert!(docs[0].result.is_ok());
        let syntax = docs[1].result.as_ref().unwrap_err();
        assert_eq!(syntax.document, 2);
        assert_eq!(docs[1].line, 10);
        // The parser notices the unclosed list at the end of the document, a line after the bracket.
        assert!(syntax.line.is_some_and(|l| (14..=15).contains(&l)), "{syntax}");
        assert!(syntax.to_string().starts_with("catalog-info.yaml: document 2, line"), "{syntax}");
        let invalid = docs[2].result.as_ref().unwrap_err();
        assert_eq!(invalid.field.as_deref(), Some("spec.owner"));
        assert!(invalid.message.contains("required"), "{invalid}");
        assert_eq!(docs[3].result.as_ref().unwrap().metadata.name, "d");
    }

    #[test]
    fn required_spec_fields_per_kind() {
        let check = |yaml: &str, field: &str| {
            let docs = parse_documents("f.yaml", yaml);
            let e = docs[0].result.as_ref().unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
        };
        check(
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: x}\nspec: {type: openapi, lifecycle: production, owner: a}\n",
            "spec.definition",
        );
        check(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: x}\nspec: {type: team}\n",
            "spec.children",
        );
        check("apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: x}\nspec: {}\n", "spec.memberOf");
        check(
            "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: {name: x}\nspec: {owner: a}\n",
            "spec.type",
        );
        check("apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: x}\nspec: {}\n", "spec.target");
        check(
            "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: x}\nspec: {domain: d}\n",
            "spec.owner",
        );
        check("apiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata: {name: x}\nspec: {}\n", "spec.owner");
        check(
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: x}\nspec: {type: service}\n",
            "spec.steps",
        );
        check("apiVersion: backstage.io/v1alpha1\nkind: Widget\nmetadata: {name: x}\nspec: {}\n", "kind");
        check("apiVersion: example.com/v1\nkind: Component\nmetadata: {name: x}\nspec: {}\n", "apiVersion");
        check("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: -x}\nspec: {}\n", "metadata.name");
        check(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x, tags: [Bad]}\nspec: {}\n",
            "metadata.tags[0]",
        );
        check(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s, lifecycle: p, owner: a, dependsOn: [payments-db]}\n",
            "spec.dependsOn",
        );
    }

    #[test]
    fn empty_documents_are_skipped_but_counted() {
        let docs = parse_documents("f.yaml", &format!("---\n# nothing\n---\n{GOOD}"));
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].index, 2);
        assert!(docs[0].result.is_ok());
    }

    #[test]
    fn metadata_defaults_and_extra_fields_are_kept() {
        let docs = parse_documents("f.yaml", &GOOD.replace("spec:\n", "  custom: 1\nspec:\n  extra: true\n"));
        let e = docs[0].result.as_ref().unwrap();
        assert_eq!(e.metadata.namespace, "default");
        assert_eq!(e.spec["extra"], true);
        assert_eq!(e.raw["metadata"]["custom"], 1);
        assert_eq!(e.entity_ref().to_string(), "component:default/a");
    }
}
