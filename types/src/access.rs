//! Access wire types: API tokens and permission decisions.

use serde::{Deserialize, Serialize};

/// Every scope a token can carry. `read` is implied by all the others.
pub const SCOPES: [&str; 9] = [
    "read",
    "catalog:write",
    "docs:write",
    "scaffold:run",
    "health:write",
    "deployments:write",
    "incidents:write",
    "cost:write",
    "admin",
];

/// `POST /api/v1/tokens` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// What it is for, shown in the list.
    pub name: String,
    /// Scopes from [`SCOPES`].
    pub scopes: Vec<String>,
    /// RFC 3339 expiry; none for a token that lasts until revoked.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// A GitHub team (`org/slug`) for a team token; none for a personal token.
    #[serde(default)]
    pub team: Option<String>,
}

/// A token as listed: never its secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// Id, for revoking.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// The team of a team token.
    pub team: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, if it expires.
    pub expires_at: Option<String>,
    /// RFC 3339 UTC of its last use (to the minute).
    pub last_used_at: Option<String>,
    /// RFC 3339 UTC of its revocation.
    pub revoked_at: Option<String>,
}

/// `POST /api/v1/tokens` answer: the secret, shown this once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// Id.
    pub id: i64,
    /// The secret to send as `Authorization: Bearer …`.
    pub token: String,
    /// The stored token.
    pub view: TokenView,
}

/// Whether an action is allowed, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The action (`catalog.entity.edit`, …).
    pub action: String,
    /// Allowed or not.
    pub allowed: bool,
    /// The rule that decided, in a sentence.
    pub reason: String,
}

/// An action the portal guards, as the rules page and the README list it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionInfo {
    /// The action's name (`docs.edit`).
    pub name: String,
    /// The token scope it needs.
    pub scope: String,
    /// Who holds it without a rule.
    pub holders: String,
}

/// A right granted by an administrator.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    /// Id, for revoking.
    pub id: i64,
    /// `user:default/x` or `group:default/y`.
    pub subject: String,
    /// An action name or `*`.
    pub action: String,
    /// `all`, `kind`, `namespace` or `entity`.
    pub scope_type: String,
    /// The kind, namespace or entity reference.
    pub scope_value: Option<String>,
    /// The rule in a sentence.
    pub description: String,
    /// Who granted it.
    pub created_by: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// For one person and (optionally) one entity: every action, allowed or refused, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// Whose rights.
    pub login: String,
    /// The entity (`kind:namespace/name`), if one was named.
    pub entity: Option<String>,
    /// One decision per action.
    pub decisions: Vec<Decision>,
}
