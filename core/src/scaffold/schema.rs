//! The JSON Schema subset template parameters are written in (react-jsonschema-form's, as Backstage uses it):
//! types string, number, integer, boolean and arrays of strings, `enum`/`enumNames`, `const`, `default`,
//! `pattern`, `minLength`/`maxLength`, `minimum`/`maximum` (and the exclusive forms), `minItems`/`maxItems`,
//! `uniqueItems`, `required`, and `dependencies` (a list of required fields, a schema, or a schema with `oneOf`
//! branches chosen by the value of the field they depend on). The same function checks a wizard step on the server
//! and the whole set of values when a task is created.

use serde_json::{Map, Value};

/// One field that does not satisfy its schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's path, such as `name` or `tags[1]`.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// The properties and required fields a step's schema has for the given values, with the branches of
/// `dependencies` that apply merged in.
pub fn effective(schema: &Value, values: &Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
    let mut props = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut required: Vec<String> = strings(schema.get("required"));
    let merge = |extra: &Value, props: &mut Map<String, Value>, required: &mut Vec<String>| {
        if let Some(p) = extra.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                props.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        for r in strings(extra.get("required")) {
            if !required.contains(&r) {
                required.push(r);
            }
        }
    };
    // `dependencies` may chain (a branch adds a field another dependency keys on): a few passes settle it.
    for _ in 0..4 {
        let before = props.len() + required.len();
        if let Some(deps) = schema.get("dependencies").and_then(Value::as_object) {
            for (key, dep) in deps {
                let present = values.get(key).is_some_and(|v| !is_empty(v));
                match dep {
                    Value::Array(_) if present => {
                        for r in strings(Some(dep)) {
                            if !required.contains(&r) {
                                required.push(r);
                            }
                        }
                    }
                    Value::Object(d) => {
                        if let Some(branches) = d.get("oneOf").and_then(Value::as_array) {
                            let value = values.get(key).cloned().unwrap_or(Value::Null);
                            if let Some(branch) = branches.iter().find(|b| branch_matches(b, key, &value)) {
                                merge(branch, &mut props, &mut required);
                            }
                        } else if present {
                            merge(dep, &mut props, &mut required);
                        }
                    }
                    _ => {}
                }
            }
        }
        if props.len() + required.len() == before {
            break;
        }
    }
    (props, required)
}

fn branch_matches(branch: &Value, key: &str, value: &Value) -> bool {
    let Some(own) = branch.get("properties").and_then(|p| p.get(key)) else { return false };
    if let Some(c) = own.get("const") {
        return c == value;
    }
    if let Some(options) = own.get("enum").and_then(Value::as_array) {
        return options.contains(value);
    }
    // A branch that constrains its key by type only applies whenever the key has a value.
    !is_empty(value)
}

/// Fills in `default`s for fields that have no value yet (also inside applicable `dependencies` branches).
pub fn apply_defaults(schema: &Value, values: &mut Map<String, Value>) {
    for _ in 0..3 {
        let (props, _) = effective(schema, values);
        let mut changed = false;
        for (name, prop) in &props {
            if !values.contains_key(name)
                && let Some(d) = prop.get("default")
            {
                values.insert(name.clone(), d.clone());
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Every problem with `values` against one step's schema. Fields the schema does not know are left alone.
pub fn validate(schema: &Value, values: &Map<String, Value>) -> Vec<FieldError> {
    let (props, required) = effective(schema, values);
    let mut errors = Vec::new();
    for name in &required {
        if values.get(name).is_none_or(is_empty) {
            let title = props.get(name).and_then(|p| p.get("title")).and_then(Value::as_str).unwrap_or(name);
            errors.push(FieldError { field: name.clone(), message: format!("{title} is required") });
        }
    }
    for (name, prop) in &props {
        match values.get(name) {
            Some(v) if !is_empty(v) => {
                check(name, prop, v, &mut errors);
            }
            _ => {}
        }
    }
    errors
}

/// Checks one value against its property schema.
pub fn check(field: &str, prop: &Value, value: &Value, errors: &mut Vec<FieldError>) {
    let mut err = |message: String| errors.push(FieldError { field: field.to_owned(), message });
    let ty = prop.get("type").and_then(Value::as_str);
    match ty {
        Some("string") if !value.is_string() => return err("must be text".to_owned()),
        Some("boolean") if !value.is_boolean() => return err("must be true or false".to_owned()),
        Some("number") if !value.is_number() => return err("must be a number".to_owned()),
        Some("integer") if !is_integer(value) => return err("must be a whole number".to_owned()),
        Some("array") if !value.is_array() => return err("must be a list".to_owned()),
        Some("object") if !value.is_object() => return err("must be an object".to_owned()),
        _ => {}
    }
    if let Some(c) = prop.get("const")
        && c != value
    {
        return err(format!("must be {}", show(c)));
    }
    if let Some(options) = prop.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let names: Vec<String> = options.iter().map(show).collect();
        return err(format!("must be one of: {}", names.join(", ")));
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if let Some(min) = prop.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            err(format!("must be at least {min} character{}", plural(min)));
        }
        if let Some(max) = prop.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            err(format!("must be at most {max} character{}", plural(max)));
        }
        if let Some(p) = prop.get("pattern").and_then(Value::as_str) {
            match regex::Regex::new(p) {
                Ok(re) if !re.is_match(s) => err(format!("must match the pattern {p}")),
                Ok(_) => {}
                Err(_) => err(format!("the template's pattern {p} is not a valid regular expression")),
            }
        }
    }
    if let Some(n) = value.as_f64() {
        let bound = |k: &str| prop.get(k).and_then(Value::as_f64);
        if let Some(m) = bound("minimum")
            && n < m
        {
            err(format!("must be at least {}", num(m)));
        }
        if let Some(m) = bound("maximum")
            && n > m
        {
            err(format!("must be at most {}", num(m)));
        }
        if let Some(m) = bound("exclusiveMinimum")
            && n <= m
        {
            err(format!("must be more than {}", num(m)));
        }
        if let Some(m) = bound("exclusiveMaximum")
            && n >= m
        {
            err(format!("must be less than {}", num(m)));
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if let Some(min) = prop.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            err(format!("must have at least {min} item{}", plural(min)));
        }
        if let Some(max) = prop.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            err(format!("must have at most {max} item{}", plural(max)));
        }
        if prop.get("uniqueItems").and_then(Value::as_bool) == Some(true)
            && items.iter().enumerate().any(|(i, a)| items[..i].contains(a))
        {
            err("must not repeat an item".to_owned());
        }
        if let Some(item_schema) = prop.get("items").filter(|s| s.is_object()) {
            for (i, item) in items.iter().enumerate() {
                check(&format!("{field}[{i}]"), item_schema, item, errors);
            }
        }
    }
    if let (Some(obj), Some(_)) = (value.as_object(), prop.get("properties")) {
        for e in validate(prop, obj) {
            errors.push(FieldError { field: format!("{field}.{}", e.field), message: e.message });
        }
    }
}

/// Turns the text fields of a plain HTML form into typed values: numbers, booleans (a checkbox sends `true` or
/// nothing), lists (repeated fields, or one field with one item per line). Fields the schema does not name are
/// kept as text; a number that does not parse is kept as text so validation can say what is wrong.
pub fn from_form(schema: &Value, pairs: &[(String, String)], previous: &Map<String, Value>) -> Map<String, Value> {
    let mut values = previous.clone();
    let (props, _) = effective(schema, previous);
    // Values that a dependency branch adds need the values first: take the plain fields, then look again.
    let mut all_props = props;
    let mut first: Map<String, Value> = previous.clone();
    for (k, v) in pairs {
        first.insert(k.clone(), Value::String(v.clone()));
    }
    let (more, _) = effective(schema, &first);
    for (k, v) in more {
        all_props.entry(k).or_insert(v);
    }
    for (name, prop) in &all_props {
        let given: Vec<&str> = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect();
        let ty = prop.get("type").and_then(Value::as_str);
        let value = match ty {
            Some("boolean") => Some(Value::Bool(given.iter().any(|v| matches!(*v, "true" | "on" | "1")))),
            Some("array") => {
                if given.is_empty() && !pairs.iter().any(|(k, _)| k == &format!("{name}__present")) {
                    None
                } else {
                    let items: Vec<Value> = given
                        .iter()
                        .flat_map(|v| v.lines())
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| Value::String(v.to_owned()))
                        .collect();
                    Some(Value::Array(items))
                }
            }
            Some("integer") | Some("number") => given.first().map(|v| {
                let t = v.trim();
                if t.is_empty() {
                    Value::Null
                } else if let Ok(i) = t.parse::<i64>() {
                    Value::from(i)
                } else if let Some(f) = t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    Value::Number(f)
                } else {
                    Value::String(t.to_owned())
                }
            }),
            _ => given.first().map(|v| Value::String((*v).to_owned())),
        };
        match value {
            Some(Value::Null) => {
                values.remove(name);
            }
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None => {}
        }
    }
    values
}

fn is_integer(v: &Value) -> bool {
    v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn num(f: f64) -> String {
    if f.fract() == 0.0 { format!("{f:.0}") } else { f.to_string() }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "required": ["name", "kind"],
            "properties": {
                "name": {"type": "string", "title": "Name", "pattern": "^[a-z][a-z0-9-]*$", "minLength": 3, "maxLength": 20},
                "kind": {"type": "string", "enum": ["service", "library"], "enumNames": ["Service", "Library"]},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
                "public": {"type": "boolean", "default": false},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "uniqueItems": true, "maxItems": 3}
            },
            "dependencies": {
                "kind": {"oneOf": [
                    {"properties": {"kind": {"enum": ["service"]}, "port": {"type": "integer", "default": 8080}}, "required": ["port"]},
                    {"properties": {"kind": {"enum": ["library"]}, "registry": {"type": "string"}}, "required": ["registry"]}
                ]}
            }
        })
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn fields(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect()
    }

    #[test]
    fn valid_values_pass_and_defaults_fill_in() {
        let mut v = map(json!({"name": "payments", "kind": "service"}));
        apply_defaults(&schema(), &mut v);
        assert_eq!(v["replicas"], json!(2));
        assert_eq!(v["public"], json!(false));
        assert_eq!(v["port"], json!(8080), "the service branch's default applies");
        assert!(!v.contains_key("registry"));
        assert_eq!(validate(&schema(), &v), vec![]);
    }

    #[test]
    fn each_rule_names_its_field() {
        let v = map(json!({"name": "Pa", "kind": "daemon", "replicas": 11, "tags": ["a", "a", "B"]}));
        let errors = validate(&schema(), &v);
        let f = fields(&errors);
        assert!(f.contains(&("kind", "must be one of: service, library")), "{f:?}");
        assert!(f.contains(&("name", "must be at least 3 characters")), "{f:?}");
        assert!(f.contains(&("name", "must match the pattern ^[a-z][a-z0-9-]*$")), "{f:?}");
        assert!(f.contains(&("replicas", "must be at most 10")), "{f:?}");
        assert!(f.contains(&("tags", "must not repeat an item")), "{f:?}");
        assert!(f.contains(&("tags[2]", "must match the pattern ^[a-z]+$")), "{f:?}");
        let missing = validate(&schema(), &map(json!({"name": "  "})));
        assert_eq!(fields(&missing), vec![("name", "Name is required"), ("kind", "kind is required")]);
    }

    #[test]
    fn dependencies_choose_the_branch_by_value() {
        let lib = map(json!({"name": "parser", "kind": "library"}));
        assert_eq!(fields(&validate(&schema(), &lib)), vec![("registry", "registry is required")]);
        let svc = map(json!({"name": "parser", "kind": "service", "port": "80"}));
        assert_eq!(fields(&validate(&schema(), &svc)), vec![("port", "must be a whole number")]);
        let list =
            json!({"properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "dependencies": {"a": ["b"]}});
        assert_eq!(fields(&validate(&list, &map(json!({"a": "x"})))), vec![("b", "b is required")]);
        assert!(validate(&list, &map(json!({}))).is_empty());
    }

    #[test]
    fn plain_forms_become_typed_values() {
        let pairs: Vec<(String, String)> = [
            ("name", "payments"),
            ("kind", "service"),
            ("replicas", "3"),
            ("public", "true"),
            ("tags", "rust\napi\n"),
            ("port", "9000"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        let v = from_form(&schema(), &pairs, &Map::new());
        assert_eq!(
            Value::Object(v),
            json!({"name": "payments", "kind": "service", "replicas": 3, "public": true, "tags": ["rust", "api"], "port": 9000})
        );
        let unchecked = from_form(&schema(), &[("name".into(), "x".into())], &map(json!({"public": true})));
        assert_eq!(unchecked["public"], json!(false), "an unchecked box is false");
        let bad = from_form(&schema(), &[("replicas".into(), "three".into())], &Map::new());
        assert_eq!(fields(&validate(&schema(), &bad))[2], ("replicas", "must be a whole number"));
    }
}
