//! Who may do what. One decision function, [`decide`], serves the pages, the server functions and the JSON API:
//! token scopes narrow a principal's rights, administrators may do everything, the members of an entity's owner
//! may change what hangs off it, and administrators can grant more with rules. Every refusal names the action.

pub mod tokens;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, QueryOrder};

use portolan_types::Viewer;
use portolan_types::access::{ActionInfo, Decision, Explanation, RuleView};

use crate::catalog::model::EntityRef;

/// Every action the portal guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create a portal-managed entity (decided on the owner it will have).
    CatalogEntityCreate,
    /// Edit a portal-managed entity.
    CatalogEntityEdit,
    /// Delete a portal-managed entity.
    CatalogEntityDelete,
    /// Remove an orphaned entity.
    CatalogOrphanRemove,
    /// Register a location (files on the server, or URLs the server will fetch).
    CatalogLocationCreate,
    /// Edit an entity's runbooks and guides.
    DocsEdit,
    /// Run a template.
    ScaffoldRun,
    /// Edit an entity's health checks and maintenance windows.
    HealthEdit,
    /// Record deployments of a component.
    DeploymentsWrite,
    /// Open and update incidents of a component.
    IncidentsWrite,
    /// Edit an entity's budgets.
    CostBudgetEdit,
    /// Dismiss or snooze an entity's cost anomalies (shared and unallocated ones: administrators).
    CostAnomalyTriage,
    /// Import billing files.
    CostImport,
    /// Grant and revoke rules; see and revoke everyone's tokens.
    AccessAdmin,
}

impl Action {
    /// Every action, in the order the README and the rules page list them.
    pub const ALL: [Action; 14] = [
        Action::CatalogEntityCreate,
        Action::CatalogEntityEdit,
        Action::CatalogEntityDelete,
        Action::CatalogOrphanRemove,
        Action::CatalogLocationCreate,
        Action::DocsEdit,
        Action::ScaffoldRun,
        Action::HealthEdit,
        Action::DeploymentsWrite,
        Action::IncidentsWrite,
        Action::CostBudgetEdit,
        Action::CostAnomalyTriage,
        Action::CostImport,
        Action::AccessAdmin,
    ];

    /// The action's name, as refusals, rules and the README spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CatalogEntityCreate => "catalog.entity.create",
            Action::CatalogEntityEdit => "catalog.entity.edit",
            Action::CatalogEntityDelete => "catalog.entity.delete",
            Action::CatalogOrphanRemove => "catalog.orphan.remove",
            Action::CatalogLocationCreate => "catalog.location.create",
            Action::DocsEdit => "docs.edit",
            Action::ScaffoldRun => "scaffold.run",
            Action::HealthEdit => "health.edit",
            Action::DeploymentsWrite => "deployments.write",
            Action::IncidentsWrite => "incidents.write",
            Action::CostBudgetEdit => "cost.budget.edit",
            Action::CostAnomalyTriage => "cost.anomaly.triage",
            Action::CostImport => "cost.import",
            Action::AccessAdmin => "access.admin",
        }
    }

    /// Parses a name from [`Action::as_str`].
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The token scope the action needs.
    pub fn scope(self) -> &'static str {
        match self {
            Action::CatalogEntityCreate
            | Action::CatalogEntityEdit
            | Action::CatalogEntityDelete
            | Action::CatalogOrphanRemove
            | Action::CatalogLocationCreate => "catalog:write",
            Action::DocsEdit => "docs:write",
            Action::ScaffoldRun => "scaffold:run",
            Action::HealthEdit => "health:write",
            Action::DeploymentsWrite => "deployments:write",
            Action::IncidentsWrite => "incidents:write",
            Action::CostBudgetEdit | Action::CostAnomalyTriage | Action::CostImport => "cost:write",
            Action::AccessAdmin => "admin",
        }
    }

    /// Who holds it without a rule, in a phrase (the README's table is made of these).
    pub fn holders(self) -> &'static str {
        match self {
            Action::CatalogLocationCreate | Action::CostImport | Action::AccessAdmin => "administrators",
            Action::ScaffoldRun => "every signed-in person (a template's allow list narrows it)",
            _ => "members of the entity's owner, administrators",
        }
    }

    fn owner_based(self) -> bool {
        !matches!(self, Action::CatalogLocationCreate | Action::CostImport | Action::AccessAdmin | Action::ScaffoldRun)
    }
}

/// The annotation on a Template entity listing who may run it.
pub const RUNNERS_ANNOTATION: &str = "portolan.dev/allowed-runners";

/// What an action is done to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The entity (`kind:namespace/name`), when there is one.
    pub entity_ref: Option<String>,
    /// Its owner (`group:default/payments`), as the catalog records it.
    pub owner_ref: Option<String>,
    /// For a template with the `portolan.dev/allowed-runners` annotation: the users and groups that may run it.
    pub runners: Option<Vec<String>>,
}

impl Target {
    /// Nothing in particular (global actions).
    pub fn global() -> Target {
        Target::default()
    }

    /// An entity with this owner.
    pub fn entity(entity_ref: impl Into<String>, owner_ref: Option<&str>) -> Target {
        Target { entity_ref: Some(entity_ref.into()), owner_ref: owner_ref.map(str::to_owned), runners: None }
    }

    /// A catalog row, with what its descriptor says about who may act on it: a template's
    /// `portolan.dev/allowed-runners` (comma-separated user and group references; bare names are groups).
    pub fn for_row(row: &crate::catalog::entity::entities::Model) -> Target {
        let body: serde_json::Value = serde_json::from_str(&row.body).unwrap_or_default();
        let runners = body
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(RUNNERS_ANNOTATION))
            .and_then(serde_json::Value::as_str)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .filter_map(|r| EntityRef::parse(r, Some("group"), "default").ok())
                    .map(|r| r.to_string())
                    .collect()
            });
        Target { runners, ..Target::entity(row.entity_ref.clone(), row.owner_ref.as_deref()) }
    }

    fn parsed(&self) -> Option<EntityRef> {
        self.entity_ref.as_deref().and_then(|r| EntityRef::parse(r, Some("component"), "default").ok())
    }
}

/// Who is acting, with what they belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Login (or `api-token`, or `team:org/slug` for a team token).
    pub login: String,
    /// Administrator.
    pub is_admin: bool,
    /// A token's scopes; `None` for a browser session.
    pub scopes: Option<Vec<String>>,
    /// Catalog references the subject acts as: its user, the groups listing it, the groups named like its
    /// GitHub teams.
    pub memberships: Vec<String>,
}

/// A right granted by an administrator: `subject` (`user:default/x` or `group:default/y`) may do `action` (or
/// `*`) on `scope`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Row id.
    pub id: i64,
    /// Catalog reference of a user or group.
    pub subject: String,
    /// An action name or `*`.
    pub action: String,
    /// `all`, `kind`, `namespace` or `entity`.
    pub scope_type: String,
    /// The kind, namespace or entity reference.
    pub scope_value: Option<String>,
}

impl Rule {
    fn covers(&self, action: Action, target: &Target) -> bool {
        if self.action != "*" && self.action != action.as_str() {
            return false;
        }
        let value = self.scope_value.as_deref().unwrap_or_default();
        match self.scope_type.as_str() {
            "all" => true,
            "kind" => target.parsed().is_some_and(|r| r.kind.eq_ignore_ascii_case(value)),
            "namespace" => target.parsed().is_some_and(|r| r.namespace.eq_ignore_ascii_case(value)),
            "entity" => target
                .parsed()
                .zip(EntityRef::parse(value, Some("component"), "default").ok())
                .is_some_and(|(a, b)| a.to_string() == b.to_string()),
            _ => false,
        }
    }

    /// The rule in a sentence.
    pub fn describe(&self) -> String {
        let scope = match (self.scope_type.as_str(), self.scope_value.as_deref()) {
            ("all", _) => "everything".to_owned(),
            (t, Some(v)) => format!("{t} {v}"),
            (t, None) => t.to_owned(),
        };
        format!("rule #{} grants {} `{}` on {scope}", self.id, self.subject, self.action)
    }
}

fn allow(action: Action, reason: String) -> Decision {
    Decision { action: action.as_str().to_owned(), allowed: true, reason }
}

fn refuse(action: Action, reason: String) -> Decision {
    Decision { action: action.as_str().to_owned(), allowed: false, reason }
}

/// The decision: scopes first (a token never exceeds them), then administrators, then ownership, then rules.
pub fn decide(subject: &Subject, action: Action, target: &Target, rules: &[Rule]) -> Decision {
    if let Some(scopes) = &subject.scopes {
        let needed = action.scope();
        if !scopes.iter().any(|s| s == needed || s == "admin") {
            return refuse(action, format!("the token's scopes ({}) do not include `{needed}`", scopes.join(", ")));
        }
    }
    if subject.is_admin {
        return allow(action, format!("{} is an administrator", subject.login));
    }
    if action.owner_based()
        && let Some(owner) = target.owner_ref.as_deref()
        && subject.memberships.iter().any(|m| m.eq_ignore_ascii_case(owner))
    {
        return allow(action, format!("{} is a member of the owner {owner}", subject.login));
    }
    if action == Action::ScaffoldRun {
        return match &target.runners {
            None => allow(action, "every signed-in person may run templates".to_owned()),
            Some(list) => match list.iter().find(|r| subject.memberships.iter().any(|m| m.eq_ignore_ascii_case(r))) {
                Some(r) => allow(action, format!("{} is in the template's allowed runners ({r})", subject.login)),
                None => {
                    refuse(action, format!("only {} may run this template ({RUNNERS_ANNOTATION})", list.join(", ")))
                }
            },
        };
    }
    if let Some(rule) = rules
        .iter()
        .find(|r| subject.memberships.iter().any(|m| m.eq_ignore_ascii_case(&r.subject)) && r.covers(action, target))
    {
        return allow(action, rule.describe());
    }
    let why = match (action.owner_based(), target.owner_ref.as_deref()) {
        (false, _) => format!("only administrators may {}", action.as_str()),
        (true, Some(owner)) => format!("{} is not a member of the owner {owner}", subject.login),
        (true, None) => "the entity has no owner; only administrators may change it".to_owned(),
    };
    refuse(action, why)
}

/// The subject for a viewer: memberships from the catalog (their user and the groups listing it) and their
/// GitHub teams; a team token acts as its team's group only.
pub async fn subject_for(db: &DatabaseConnection, viewer: &Viewer) -> Result<Subject, DbErr> {
    let memberships = if let Some(team) = &viewer.team {
        let slug = team.rsplit('/').next().unwrap_or(team);
        vec![EntityRef::new("group", "default", slug).to_string()]
    } else {
        let slugs: Vec<String> = crate::auth::person(db, &viewer.login)
            .await?
            .map(|p| p.teams.into_iter().map(|t| t.slug).collect())
            .unwrap_or_default();
        crate::catalog::store::owners_for(db, &viewer.login, &slugs).await?
    };
    Ok(Subject { login: viewer.login.clone(), is_admin: viewer.is_admin, scopes: viewer.scopes.clone(), memberships })
}

/// The viewer a signed-in person would be (for explaining someone else's rights).
pub async fn viewer_for_login(
    db: &DatabaseConnection,
    config: &crate::Config,
    login: &str,
) -> Result<Option<Viewer>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let Some(user) = crate::auth::entity::users::Entity::find()
        .filter(crate::auth::entity::users::Column::Login.eq(login))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    crate::auth::viewer_for_user(db, config, user.id).await
}

/// Decides for a viewer, loading what the decision needs, and logs refusals.
pub async fn check(
    db: &DatabaseConnection,
    viewer: &Viewer,
    action: Action,
    target: &Target,
) -> Result<Decision, DbErr> {
    let decision = Checker::load(db, viewer).await?.decide(action, target);
    if !decision.allowed {
        tracing::info!(
            login = %viewer.login,
            action = action.as_str(),
            target = target.entity_ref.as_deref().unwrap_or("-"),
            reason = %decision.reason,
            "refused"
        );
    }
    Ok(decision)
}

/// A viewer's subject and the granted rules, loaded once, for deciding many targets (a list of rows, each with a
/// control the viewer may or may not use). [`check`] decides through it and logs refusals; [`Checker::allows`]
/// logs nothing, since hiding a control refuses no request.
#[derive(Clone, Debug)]
pub struct Checker {
    subject: Subject,
    rules: Vec<Rule>,
}

impl Checker {
    /// Loads what [`decide`] needs for this viewer.
    pub async fn load(db: &DatabaseConnection, viewer: &Viewer) -> Result<Checker, DbErr> {
        let subject = subject_for(db, viewer).await?;
        let rules = if subject.is_admin { Vec::new() } else { list_rules(db).await? };
        Ok(Checker { subject, rules })
    }

    /// The decision on `action` on `target`, with its reason.
    pub fn decide(&self, action: Action, target: &Target) -> Decision {
        decide(&self.subject, action, target, &self.rules)
    }

    /// Whether the viewer may do `action` on `target`.
    pub fn allows(&self, action: Action, target: &Target) -> bool {
        self.decide(action, target).allowed
    }
}

/// The `access_rules` table.
pub mod rules {
    use sea_orm::entity::prelude::*;

    /// One granted right.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "access_rules")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `user:default/x` or `group:default/y`.
        pub subject: String,
        /// Action name or `*`.
        pub action: String,
        /// `all`, `kind`, `namespace` or `entity`.
        pub scope_type: String,
        /// Kind, namespace or entity reference.
        pub scope_value: Option<String>,
        /// Who granted it.
        pub created_by: String,
        /// When.
        pub created_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every rule, oldest first.
pub async fn list_rules(db: &DatabaseConnection) -> Result<Vec<Rule>, DbErr> {
    Ok(rules::Entity::find()
        .order_by_asc(rules::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| Rule {
            id: r.id,
            subject: r.subject,
            action: r.action,
            scope_type: r.scope_type,
            scope_value: r.scope_value,
        })
        .collect())
}

/// Why a rule cannot be granted.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A field is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Grants a rule (the caller has checked `access.admin`) and audits it.
pub async fn grant_rule(
    db: &DatabaseConnection,
    actor: &str,
    subject: &str,
    action: &str,
    scope_type: &str,
    scope_value: Option<&str>,
) -> Result<RuleView, RuleError> {
    let subject_ref = EntityRef::parse(subject.trim(), Some("user"), "default")
        .map_err(|e| RuleError::Invalid(format!("subject: {e}")))?;
    if !matches!(subject_ref.kind.to_lowercase().as_str(), "user" | "group") {
        return Err(RuleError::Invalid("subject: a rule is granted to a user or a group".to_owned()));
    }
    if action != "*" && Action::parse(action).is_none() {
        return Err(RuleError::Invalid(format!("action: `{action}` is not an action")));
    }
    let value = scope_value.map(str::trim).filter(|v| !v.is_empty());
    match (scope_type, value) {
        ("all", _) | ("kind" | "namespace" | "entity", Some(_)) => {}
        ("kind" | "namespace" | "entity", None) => {
            return Err(RuleError::Invalid(format!("scope: a {scope_type} rule needs a value")));
        }
        (other, _) => {
            return Err(RuleError::Invalid(format!("scope: `{other}` is not all, kind, namespace or entity")));
        }
    }
    let model = rules::ActiveModel {
        subject: Set(subject_ref.to_string()),
        action: Set(action.to_owned()),
        scope_type: Set(scope_type.to_owned()),
        scope_value: Set(if scope_type == "all" { None } else { value.map(str::to_owned) }),
        created_by: Set(actor.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let rule = rule_view(model);
    crate::audit::record(
        db,
        crate::audit::Entry {
            actor,
            action: "access.rule.grant",
            target: Some(&format!("rule:{}", rule.id)),
            detail: Some(serde_json::json!({"rule": rule.description})),
            ..Default::default()
        },
    )
    .await?;
    Ok(rule)
}

/// Every rule as the rules page and the API show it, oldest first.
pub async fn rule_views(db: &DatabaseConnection) -> Result<Vec<RuleView>, DbErr> {
    Ok(rules::Entity::find().order_by_asc(rules::Column::Id).all(db).await?.into_iter().map(rule_view).collect())
}

fn rule_view(m: rules::Model) -> RuleView {
    let description = Rule {
        id: m.id,
        subject: m.subject.clone(),
        action: m.action.clone(),
        scope_type: m.scope_type.clone(),
        scope_value: m.scope_value.clone(),
    }
    .describe();
    RuleView {
        id: m.id,
        subject: m.subject,
        action: m.action,
        scope_type: m.scope_type,
        scope_value: m.scope_value,
        description,
        created_by: m.created_by,
        created_at: m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// Every action with its scope and holders.
pub fn action_infos() -> Vec<ActionInfo> {
    Action::ALL
        .iter()
        .map(|a| ActionInfo {
            name: a.as_str().to_owned(),
            scope: a.scope().to_owned(),
            holders: a.holders().to_owned(),
        })
        .collect()
}

/// Why an explanation cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// Explaining someone else's rights needs `access.admin`.
    #[error("{} refused: {}", .0.action, .0.reason)]
    Forbidden(Decision),
    /// The person or the entity does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The entity reference cannot be parsed.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// For `login` (default: the viewer; someone else needs `access.admin`) and `entity` (default: none), every
/// action with the rule that allows or refuses it and why. The rules page and the API both answer with this.
pub async fn explain(
    db: &DatabaseConnection,
    config: &crate::Config,
    viewer: &Viewer,
    login: Option<&str>,
    entity: Option<&str>,
) -> Result<Explanation, ExplainError> {
    let login = login.map(str::trim).filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case(&viewer.login));
    let subject_viewer = match login {
        None => viewer.clone(),
        Some(login) => {
            let d = check(db, viewer, Action::AccessAdmin, &Target::global()).await?;
            if !d.allowed {
                return Err(ExplainError::Forbidden(d));
            }
            viewer_for_login(db, config, login)
                .await?
                .ok_or_else(|| ExplainError::NotFound(format!("nobody called {login} has signed in")))?
        }
    };
    let target = match entity.map(str::trim).filter(|e| !e.is_empty()) {
        None => Target::global(),
        Some(text) => {
            let r = EntityRef::parse(text, Some("component"), "default")
                .map_err(|e| ExplainError::Invalid(format!("entity: {e}")))?;
            let visibility = crate::catalog::visibility::for_viewer(db, config, viewer).await?;
            let row = crate::catalog::store::find(db, &r)
                .await?
                .filter(|row| visibility.allows(row))
                .ok_or_else(|| ExplainError::NotFound(format!("no entity {r}")))?;
            Target::for_row(&row)
        }
    };
    let checker = Checker::load(db, &subject_viewer).await?;
    let decisions = Action::ALL.iter().map(|a| checker.decide(*a, &target)).collect();
    Ok(Explanation { login: checker.subject.login, entity: target.entity_ref, decisions })
}

/// Revokes a rule; `false` when there was none.
pub async fn revoke_rule(db: &DatabaseConnection, actor: &str, id: i64) -> Result<bool, DbErr> {
    let deleted = rules::Entity::delete_by_id(id).exec(db).await?.rows_affected > 0;
    if deleted {
        crate::audit::record(
            db,
            crate::audit::Entry {
                actor,
                action: "access.rule.revoke",
                target: Some(&format!("rule:{id}")),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(login: &str, groups: &[&str]) -> Subject {
        let mut memberships = vec![format!("user:default/{login}")];
        memberships.extend(groups.iter().map(|g| format!("group:default/{g}")));
        Subject { login: login.to_owned(), is_admin: false, scopes: None, memberships }
    }

    fn payments_api() -> Target {
        Target::entity("component:default/payments-api", Some("group:default/payments"))
    }

    fn rule(subject: &str, action: &str, scope_type: &str, value: Option<&str>) -> Rule {
        Rule {
            id: 7,
            subject: subject.to_owned(),
            action: action.to_owned(),
            scope_type: scope_type.to_owned(),
            scope_value: value.map(str::to_owned),
        }
    }

    #[test]
    fn the_decision_table() {
        let owner = person("ana", &["payments"]);
        // Membership of a parent group is expressed by the catalog as membership of the child's groups
        // (memberOf is computed from spec.members/spec.memberOf), so "member of a parent" arrives here as a
        // membership list that does not include the owner.
        let parent_member = person("pat", &["engineering"]);
        let outsider = person("olga", &["search"]);
        let admin = Subject { is_admin: true, ..person("root", &[]) };
        let mut token = person("ana", &["payments"]);
        token.scopes = Some(vec!["read".to_owned(), "deployments:write".to_owned()]);
        let granted = rule("group:default/search", "catalog.entity.edit", "kind", Some("component"));
        /// (case, who, action, on what, rules, allowed, the reason says)
        type Case<'a> = (&'a str, &'a Subject, Action, Target, Vec<Rule>, bool, &'a str);
        let cases: Vec<Case> = vec![
            ("owner edits", &owner, Action::CatalogEntityEdit, payments_api(), vec![], true, "member of the owner"),
            (
                "parent-group member",
                &parent_member,
                Action::CatalogEntityEdit,
                payments_api(),
                vec![],
                false,
                "not a member",
            ),
            ("non-member", &outsider, Action::CatalogEntityEdit, payments_api(), vec![], false, "not a member"),
            ("admin", &admin, Action::CatalogEntityDelete, payments_api(), vec![], true, "administrator"),
            (
                "granted rule",
                &outsider,
                Action::CatalogEntityEdit,
                payments_api(),
                vec![granted.clone()],
                true,
                "rule #7",
            ),
            (
                "rule for another action",
                &outsider,
                Action::CatalogEntityDelete,
                payments_api(),
                vec![granted.clone()],
                false,
                "not a member",
            ),
            (
                "rule for another kind",
                &outsider,
                Action::CatalogEntityEdit,
                Target::entity("api:default/x", Some("group:default/payments")),
                vec![granted],
                false,
                "not a member",
            ),
            (
                "narrow token",
                &token,
                Action::CatalogEntityEdit,
                payments_api(),
                vec![],
                false,
                "do not include `catalog:write`",
            ),
            (
                "token within scope",
                &token,
                Action::DeploymentsWrite,
                payments_api(),
                vec![],
                true,
                "member of the owner",
            ),
            (
                "token beyond its owner",
                &token,
                Action::DeploymentsWrite,
                Target::entity("component:default/search", Some("group:default/search")),
                vec![],
                false,
                "not a member",
            ),
            (
                "admin-only action",
                &owner,
                Action::CatalogLocationCreate,
                Target::global(),
                vec![],
                false,
                "only administrators",
            ),
            (
                "no owner",
                &owner,
                Action::CatalogEntityEdit,
                Target::entity("component:default/x", None),
                vec![],
                false,
                "no owner",
            ),
            (
                "anyone runs templates",
                &outsider,
                Action::ScaffoldRun,
                Target::global(),
                vec![],
                true,
                "every signed-in",
            ),
            (
                "outside a template's allow list",
                &outsider,
                Action::ScaffoldRun,
                Target { runners: Some(vec!["group:default/payments".to_owned()]), ..Target::global() },
                vec![],
                false,
                "only group:default/payments may run this template",
            ),
            (
                "inside a template's allow list",
                &owner,
                Action::ScaffoldRun,
                Target { runners: Some(vec!["group:default/payments".to_owned()]), ..Target::global() },
                vec![],
                true,
                "allowed runners",
            ),
            (
                "namespace rule",
                &outsider,
                Action::DocsEdit,
                payments_api(),
                vec![rule("user:default/olga", "*", "namespace", Some("default"))],
                true,
                "rule #7",
            ),
        ];
        for (name, subject, action, target, rules, allowed, reason) in cases {
            let d = decide(subject, action, &target, &rules);
            assert_eq!(d.allowed, allowed, "{name}: {d:?}");
            assert!(d.reason.contains(reason), "{name}: {d:?}");
            assert_eq!(d.action, action.as_str());
        }
    }

    #[test]
    fn every_action_has_a_unique_name_and_a_known_scope() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert!(portolan_types::access::SCOPES.contains(&a.scope()), "{a:?}");
        }
    }
}
