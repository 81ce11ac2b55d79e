//! Catalog wire types: entities as lists, pages and the JSON API show them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One row of the catalog table.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySummary {
    /// `kind:namespace/name`, lower case.
    pub entity_ref: String,
    /// Lower-case kind (`component`, `api`, …).
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Title, when set.
    pub title: Option<String>,
    /// Description, when set.
    pub description: Option<String>,
    /// `spec.type`.
    pub spec_type: Option<String>,
    /// `spec.lifecycle`.
    pub lifecycle: Option<String>,
    /// Owner reference.
    pub owner_ref: Option<String>,
    /// System reference.
    pub system_ref: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The source stopped declaring it.
    pub orphan: bool,
    /// `location` (read from files or repositories) or `portal` (created in the UI).
    pub managed_by: String,
}

impl EntitySummary {
    /// The entity page's path: `/catalog/{namespace}/{kind}/{name}`.
    pub fn path(&self) -> String {
        entity_path(&self.entity_ref)
    }

    /// The title, or the name when there is none.
    pub fn display_name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
}

/// `/catalog/{namespace}/{kind}/{name}` for a full `kind:namespace/name` reference.
pub fn entity_path(entity_ref: &str) -> String {
    let (kind, rest) = entity_ref.split_once(':').unwrap_or(("component", entity_ref));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    format!("/catalog/{namespace}/{kind}/{name}")
}

/// A page of the catalog table.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityPage {
    /// The rows.
    pub items: Vec<EntitySummary>,
    /// How many entities match the filters.
    pub total: u64,
    /// Opaque cursor for the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// Filters, search and sorting for the catalog table; every field is also a URL query parameter.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EntityQuery {
    /// Kind (`component`, …).
    pub kind: Option<String>,
    /// `spec.type`.
    #[serde(rename = "type")]
    pub spec_type: Option<String>,
    /// Owner: a full reference or a bare group name.
    pub owner: Option<String>,
    /// Lifecycle.
    pub lifecycle: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// One tag.
    pub tag: Option<String>,
    /// System: a full reference or a bare system name.
    pub system: Option<String>,
    /// Words matched (partially) against name, title and description.
    pub q: Option<String>,
    /// `name` (default), `kind`, `owner` or `updated`; `-` in front reverses.
    pub sort: Option<String>,
    /// Cursor from a previous page.
    pub cursor: Option<String>,
    /// Page size (default 20, at most 100).
    pub limit: Option<u64>,
    /// Comma-separated fields of each item to return (`entity_ref,name,owner_ref`); all when absent.
    pub fields: Option<String>,
}

/// A relation as the entity page lists it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationView {
    /// Backstage relation name (`ownedBy`, `dependsOn`, …).
    #[serde(rename = "type")]
    pub relation_type: String,
    /// `kind:namespace/name` of the other end.
    pub target_ref: String,
    /// Title or name of the other end, when it exists.
    pub target_title: Option<String>,
    /// Whether the other end exists in the catalog.
    pub target_exists: bool,
}

/// A link from `metadata.links`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// The URL (only http(s) links are shown as links).
    pub url: String,
    /// Title, when set.
    pub title: Option<String>,
}

/// Everything the entity page shows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityDetail {
    /// The summary fields.
    pub summary: EntitySummary,
    /// Stable id.
    pub uid: String,
    /// Changes whenever the entity changes.
    pub etag: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Links.
    pub links: Vec<LinkView>,
    /// Relations, both directions, sorted by type then target.
    pub relations: Vec<RelationView>,
    /// The YAML document it came from.
    pub source_yaml: String,
    /// Where it came from (`file:…`), for location-managed entities.
    pub location: Option<String>,
    /// Where to edit it: `backstage.io/edit-url`, or derived from `github.com/project-slug`.
    pub edit_url: Option<String>,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
    /// For portal-managed entities: the editor's fields.
    pub form: Option<EntityForm>,
    /// For API entities: the definition as written.
    pub definition: Option<String>,
    /// For OpenAPI definitions: the operations it declares.
    pub api_operations: Vec<ApiOperation>,
    /// For the entity page only (absent from the JSON API): the definition and the source document as HTML,
    /// escaped text with `hl-*` highlighting spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlighted: Option<Highlighted>,
}

/// An entity's definition and source document, highlighted on the server ([`EntityDetail::highlighted`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlighted {
    /// The API definition, when its language is known.
    pub definition: Option<String>,
    /// The YAML document the entity came from.
    pub source_yaml: Option<String>,
}

/// One operation of an OpenAPI definition.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOperation {
    /// HTTP method, upper case.
    pub method: String,
    /// Path template.
    pub path: String,
    /// `summary`, else `operationId`.
    pub summary: Option<String>,
}

/// A registered location: where descriptors are read from, and how the last refresh went.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationView {
    /// Row id.
    pub id: i64,
    /// `file:/abs/path` or `url:https://…`.
    pub target: String,
    /// `pending`, `ok` or `failed`.
    pub status: String,
    /// Problems at the last refresh, one per line.
    pub last_error: Option<String>,
    /// Last refresh, RFC 3339 UTC.
    pub last_refresh_at: Option<String>,
}

/// What reading a location did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The normalized target.
    pub target: String,
    /// New entities.
    pub added: usize,
    /// Changed entities.
    pub updated: usize,
    /// Unchanged entities.
    pub unchanged: usize,
    /// Entities no longer declared, kept and marked orphaned.
    pub orphaned: usize,
    /// Entities no longer declared, deleted (only when `PORTOLAN_CATALOG_DELETE_ORPHANS` is on).
    pub removed: usize,
    /// Problems, each naming file, document and line or field.
    pub errors: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    /// The target and its counts, as the CLI and the Locations page show them:
    /// `file:/srv/catalog: 3 added, 0 updated, 11 unchanged, 0 removed, 1 orphaned, 0 errors`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} added, {} updated, {} unchanged, {} removed, {} orphaned, {} errors",
            self.target,
            self.added,
            self.updated,
            self.unchanged,
            self.removed,
            self.orphaned,
            self.errors.len()
        )
    }
}

/// Only http(s) URLs are rendered as links; anything else (`javascript:`, `data:`) is shown as text.
pub fn is_http_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_paths_follow_namespace_kind_name() {
        assert_eq!(entity_path("component:default/payments-api"), "/catalog/default/component/payments-api");
        assert_eq!(entity_path("group:finance/payments"), "/catalog/finance/group/payments");
    }

    #[test]
    fn only_http_links_are_links() {
        assert!(is_http_url("https://grafana.example.com"));
        assert!(is_http_url("HTTP://x"));
        assert!(!is_http_url("javascript:alert(1)"));
        assert!(!is_http_url(" data:text/html,x"));
    }
}

/// Relation-type presets of the graph filter: (URL value, label, Backstage relation names; empty: all).
pub const GRAPH_PRESETS: [(&str, &str, &[&str]); 6] = [
    ("", "All relations", &[]),
    ("ownership", "Ownership", &["ownedBy", "ownerOf"]),
    ("structure", "Systems and groups", &["partOf", "hasPart", "parentOf", "childOf"]),
    ("dependencies", "Dependencies", &["dependsOn", "dependencyOf"]),
    ("apis", "APIs", &["providesApi", "apiProvidedBy", "consumesApi", "apiConsumedBy"]),
    ("membership", "Membership", &["memberOf", "hasMember"]),
];

/// The relation names of a graph preset (empty for "all", and for an unknown preset).
pub fn graph_preset(value: &str) -> &'static [&'static str] {
    GRAPH_PRESETS.iter().find(|(v, _, _)| *v == value).map(|(_, _, names)| *names).unwrap_or(&[])
}

/// A node of the relation graph, placed for drawing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphNode {
    /// `kind:namespace/name`.
    pub entity_ref: String,
    /// Title or name when the entity exists; `None` for a reference to nothing.
    pub title: Option<String>,
    /// Centre x, in SVG units.
    pub x: i32,
    /// Centre y, in SVG units.
    pub y: i32,
    /// The entity the graph is about.
    pub center: bool,
}

/// An edge of the relation graph, drawn from `from` to `to`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    /// Source reference.
    pub from: String,
    /// Target reference.
    pub to: String,
    /// Relation name (`ownedBy`, …).
    #[serde(rename = "type")]
    pub relation_type: String,
}

/// The relation graph around an entity.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphView {
    /// Drawing width.
    pub width: i32,
    /// Drawing height.
    pub height: i32,
    /// Nodes.
    pub nodes: Vec<GraphNode>,
    /// Edges.
    pub edges: Vec<GraphEdge>,
}

/// The fields of the form that creates or edits a portal-managed entity. Empty strings mean "not set".
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EntityForm {
    /// Kind (`component`, `api`, `system`, `domain`, `resource`, `group`, `user`).
    pub kind: String,
    /// Namespace (default `default`).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Owner reference (groups and users).
    pub owner: String,
    /// `spec.type`.
    pub spec_type: String,
    /// `spec.lifecycle`.
    pub lifecycle: String,
    /// System reference.
    pub system: String,
    /// Domain reference (systems).
    pub domain: String,
    /// Parent group (groups).
    pub parent: String,
    /// Comma-separated groups (users).
    pub member_of: String,
    /// Comma-separated tags.
    pub tags: String,
    /// API definition text.
    pub definition: String,
}

/// The kinds the portal can create, with the label the form shows.
pub const CREATABLE_KINDS: [(&str, &str); 7] = [
    ("component", "Component"),
    ("api", "API"),
    ("system", "System"),
    ("domain", "Domain"),
    ("resource", "Resource"),
    ("group", "Group"),
    ("user", "User"),
];
