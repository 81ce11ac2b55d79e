//! The catalog's data model: entity references, kinds and validated descriptors (Backstage's format).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A reference to an entity: kind, namespace and name, all lower-cased (Backstage compares them case-insensitively).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityRef {
    /// Lower-case kind.
    pub kind: String,
    /// Lower-case namespace.
    pub namespace: String,
    /// Lower-case name.
    pub name: String,
}

/// Why a reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid entity reference `{reference}`: {message}")]
pub struct RefError {
    /// The text as written.
    pub reference: String,
    /// What is wrong with it.
    pub message: String,
}

impl EntityRef {
    /// A reference from its parts, lower-cased.
    pub fn new(kind: &str, namespace: &str, name: &str) -> EntityRef {
        EntityRef { kind: kind.to_lowercase(), namespace: namespace.to_lowercase(), name: name.to_lowercase() }
    }

    /// Parses `[kind:][namespace/]name`. `default_kind` applies when the text has no kind (`None`: a kind is
    /// required); `default_namespace` when it has no namespace.
    pub fn parse(text: &str, default_kind: Option<&str>, default_namespace: &str) -> Result<EntityRef, RefError> {
        let err = |message: &str| RefError { reference: text.to_owned(), message: message.to_owned() };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(err("it is empty"));
        }
        let (kind, rest) = match trimmed.split_once(':') {
            Some((k, r)) => (Some(k), r),
            None => (None, trimmed),
        };
        if rest.contains(':') {
            return Err(err("it has more than one `:`"));
        }
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, rest),
        };
        if name.contains('/') {
            return Err(err("it has more than one `/`"));
        }
        let kind = match kind {
            Some("") => return Err(err("the kind is empty")),
            Some(k) => k,
            None => default_kind.ok_or_else(|| err("a kind is required here, e.g. `component:name`"))?,
        };
        let namespace = match namespace {
            Some("") => return Err(err("the namespace is empty")),
            Some(ns) => ns,
            None => default_namespace,
        };
        if name.is_empty() {
            return Err(err("the name is empty"));
        }
        Ok(EntityRef::new(kind, namespace, name))
    }
}

impl std::fmt::Display for EntityRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

impl std::str::FromStr for EntityRef {
    type Err = RefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityRef::parse(s, None, "default")
    }
}

/// The kinds Portolan understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// A piece of software: service, website, library.
    Component,
    /// An interface a component provides or consumes.
    Api,
    /// A collection of components, APIs and resources.
    System,
    /// A business area grouping systems.
    Domain,
    /// Infrastructure a component needs: database, bucket, queue.
    Resource,
    /// A team or other organisational unit.
    Group,
    /// A person.
    User,
    /// A pointer to more descriptors.
    Location,
    /// A scaffolder template.
    Template,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 9] = [
        Kind::Component,
        Kind::Api,
        Kind::System,
        Kind::Domain,
        Kind::Resource,
        Kind::Group,
        Kind::User,
        Kind::Location,
        Kind::Template,
    ];

    /// Parses a kind, case-insensitively.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The canonical spelling (`Component`, `API`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Component => "Component",
            Kind::Api => "API",
            Kind::System => "System",
            Kind::Domain => "Domain",
            Kind::Resource => "Resource",
            Kind::Group => "Group",
            Kind::User => "User",
            Kind::Location => "Location",
            Kind::Template => "Template",
        }
    }

    /// The lower-case form used in references.
    pub fn lower(self) -> &'static str {
        match self {
            Kind::Component => "component",
            Kind::Api => "api",
            Kind::System => "system",
            Kind::Domain => "domain",
            Kind::Resource => "resource",
            Kind::Group => "group",
            Kind::User => "user",
            Kind::Location => "location",
            Kind::Template => "template",
        }
    }
}

/// An entry of `metadata.links`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The URL.
    pub url: String,
    /// Display title.
    pub title: Option<String>,
    /// Icon name.
    pub icon: Option<String>,
    /// Link type.
    #[serde(rename = "type")]
    pub link_type: Option<String>,
}

/// `metadata`, validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Name, unique per kind and namespace.
    pub name: String,
    /// Namespace (`default` when absent).
    pub namespace: String,
    /// Display title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Links.
    pub links: Vec<Link>,
}

/// A validated descriptor.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// `apiVersion` as written.
    pub api_version: String,
    /// The kind.
    pub kind: Kind,
    /// Validated metadata.
    pub metadata: Metadata,
    /// The spec object, or `Null` when absent.
    pub spec: Value,
    /// The whole document as written, as JSON.
    pub raw: Value,
}

impl Entity {
    /// `kind:namespace/name`.
    pub fn entity_ref(&self) -> EntityRef {
        EntityRef::new(self.kind.lower(), &self.metadata.namespace, &self.metadata.name)
    }

    /// A string field of the spec.
    pub fn spec_str(&self, key: &str) -> Option<&str> {
        self.spec.get(key).and_then(Value::as_str)
    }

    /// A field of the spec that is a string or an array of strings.
    pub fn spec_strings(&self, key: &str) -> Vec<String> {
        match self.spec.get(key) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_take_defaults_and_lower_case() {
        let r = EntityRef::parse("team-a", Some("group"), "payments").unwrap();
        assert_eq!(r.to_string(), "group:payments/team-a");
        let r = EntityRef::parse("User:Default/JDoe", Some("group"), "payments").unwrap();
        assert_eq!(r.to_string(), "user:default/jdoe");
        let r = EntityRef::parse("other/team-b", Some("group"), "payments").unwrap();
        assert_eq!(r.to_string(), "group:other/team-b");
        assert_eq!("component:x".parse::<EntityRef>().unwrap().to_string(), "component:default/x");
    }

    #[test]
    fn bad_references_are_refused_with_a_reason() {
        for bad in ["a:b:c", "", "group:", "/name", "a/b/c", "kind:ns/"] {
            assert!(EntityRef::parse(bad, Some("group"), "default").is_err(), "{bad}");
        }
        let e = EntityRef::parse("payments-db", None, "default").unwrap_err();
        assert!(e.to_string().contains("kind is required"), "{e}");
    }

    #[test]
    fn kinds_parse_case_insensitively() {
        assert_eq!(Kind::parse("api"), Some(Kind::Api));
        assert_eq!(Kind::parse("COMPONENT"), Some(Kind::Component));
        assert_eq!(Kind::parse("Widget"), None);
        assert_eq!(Kind::Api.as_str(), "API");
    }
}
