//! Turning the portal's entity form into a Backstage descriptor, so portal-managed entities go through exactly the
//! same validation as imported ones.

use serde_json::{Map, Value, json};

use portolan_types::catalog::EntityForm;

use super::model::{Entity, Kind};
use super::parse::{DescriptorError, validate};

fn set(map: &mut Map<String, Value>, key: &str, value: &str) {
    let v = value.trim();
    if !v.is_empty() {
        map.insert(key.to_owned(), json!(v));
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The descriptor the form describes, validated. Errors name the field as the descriptor spells it
/// (`spec.owner`, `metadata.name`, …).
pub fn to_entity(form: &EntityForm) -> Result<Entity, DescriptorError> {
    let kind = Kind::parse(form.kind.trim()).map(Kind::as_str).unwrap_or(form.kind.as_str());
    let mut metadata = Map::new();
    set(&mut metadata, "name", &form.name);
    set(&mut metadata, "namespace", &form.namespace);
    set(&mut metadata, "title", &form.title);
    set(&mut metadata, "description", &form.description);
    let tags = list(&form.tags);
    if !tags.is_empty() {
        metadata.insert("tags".into(), json!(tags));
    }
    let mut spec = Map::new();
    let k = Kind::parse(kind);
    if k != Some(Kind::User) && k != Some(Kind::Group) {
        set(&mut spec, "owner", &form.owner);
    }
    if matches!(k, Some(Kind::Component | Kind::Api | Kind::Resource | Kind::Group)) {
        set(&mut spec, "type", &form.spec_type);
    }
    if matches!(k, Some(Kind::Component | Kind::Api)) {
        set(&mut spec, "lifecycle", &form.lifecycle);
    }
    if matches!(k, Some(Kind::Component | Kind::Api | Kind::Resource)) {
        set(&mut spec, "system", &form.system);
    }
    match k {
        Some(Kind::System) => set(&mut spec, "domain", &form.domain),
        Some(Kind::Api) => set(&mut spec, "definition", &form.definition),
        Some(Kind::Group) => {
            set(&mut spec, "parent", &form.parent);
            spec.insert("children".into(), json!([]));
        }
        Some(Kind::User) => {
            spec.insert("memberOf".into(), json!(list(&form.member_of)));
        }
        _ => {}
    }
    let value = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": Value::Object(metadata),
        "spec": Value::Object(spec),
    });
    validate("form", 1, None, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_form_becomes_a_valid_descriptor() {
        let form = EntityForm {
            kind: "component".into(),
            name: "billing".into(),
            owner: "group:payments".into(),
            spec_type: "service".into(),
            lifecycle: "production".into(),
            tags: "rust, billing".into(),
            ..Default::default()
        };
        let e = to_entity(&form).unwrap();
        assert_eq!(e.entity_ref().to_string(), "component:default/billing");
        assert_eq!(e.spec["owner"], "group:payments");
        assert_eq!(e.metadata.tags, ["rust", "billing"]);
    }

    #[test]
    fn the_same_rules_as_imports_apply() {
        let form = EntityForm { kind: "component".into(), name: "bad name".into(), ..Default::default() };
        assert_eq!(to_entity(&form).unwrap_err().field.as_deref(), Some("metadata.name"));
        let form = EntityForm {
            kind: "component".into(),
            name: "ok".into(),
            spec_type: "service".into(),
            ..Default::default()
        };
        assert_eq!(to_entity(&form).unwrap_err().field.as_deref(), Some("spec.lifecycle"));
        let form = EntityForm {
            kind: "user".into(),
            name: "jdoe".into(),
            member_of: "team-a, team-b".into(),
            ..Default::default()
        };
        assert_eq!(to_entity(&form).unwrap().spec["memberOf"], json!(["team-a", "team-b"]));
    }
}
