//! Authentication domain: people, their GitHub organisations and teams, and who counts as an administrator.
//!
//! The OAuth dance itself is HTTP work and lives in the `server` crate; this module records what GitHub told us
//! and answers "who is this session?" for pages, server functions and the JSON API alike.

pub mod entity;
pub mod github;
pub mod session_store;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

use portolan_types::{PersonView, TeamView, Viewer, ViewerKind};

use crate::config::Config;
use entity::{org_members, team_members, teams, users};
pub use github::{GithubIdentity, GithubTeam};

/// Who a request acts for, resolved once per request by the server's authentication middleware and read by
/// handlers, pages and server functions from the request's extensions.
#[derive(Clone, Debug, Default)]
pub struct RequestViewer(pub Option<Viewer>);

/// The login of the zero-configuration local administrator.
pub const LOCAL_ADMIN_LOGIN: &str = "admin";

/// Whether an identity may log in, given `PORTOLAN_ALLOWED_ORGS` (empty: everyone). Case-insensitive, as GitHub
/// logins are.
pub fn is_allowed(identity: &GithubIdentity, allowed_orgs: &[String]) -> bool {
    allowed_orgs.is_empty() || identity.orgs.iter().any(|o| allowed_orgs.iter().any(|a| a.eq_ignore_ascii_case(o)))
}

/// Whether membership of these teams makes someone an administrator, given `PORTOLAN_ADMIN_TEAMS`.
pub fn is_admin_by_teams<'a>(teams: impl IntoIterator<Item = &'a TeamView>, admin_teams: &[String]) -> bool {
    teams.into_iter().any(|t| admin_teams.iter().any(|a| a.eq_ignore_ascii_case(&t.qualified())))
}

/// Records a successful GitHub login: upserts the person, replaces their organisation and team memberships with
/// what GitHub reported, and stamps the login time. All or nothing.
pub async fn record_github_login(db: &DatabaseConnection, identity: &GithubIdentity) -> Result<users::Model, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let name = identity.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| identity.login.clone());
    let existing = users::Entity::find().filter(users::Column::GithubId.eq(identity.id)).one(&txn).await?;
    // A login is unique; if another account held it before (GitHub logins can be renamed and reused), that
    // older row gives it up rather than blocking this person.
    users::Entity::update_many()
        .col_expr(users::Column::Login, Expr::value(format!("{}~{}", identity.login, now.timestamp())))
        .filter(users::Column::Login.eq(identity.login.as_str()))
        .filter(users::Column::GithubId.ne(identity.id))
        .exec(&txn)
        .await?;
    let user = match existing {
        Some(row) => {
            let mut am: users::ActiveModel = row.into();
            am.login = Set(identity.login.clone());
            am.name = Set(name);
            am.avatar_url = Set(identity.avatar_url.clone());
            am.updated_at = Set(now);
            am.last_login_at = Set(Some(now));
            am.update(&txn).await?
        }
        None => {
            users::ActiveModel {
                login: Set(identity.login.clone()),
                name: Set(name),
                avatar_url: Set(identity.avatar_url.clone()),
                github_id: Set(Some(identity.id)),
                is_local_admin: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                last_login_at: Set(Some(now)),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };

    let mut team_ids = Vec::with_capacity(identity.teams.len());
    for t in &identity.teams {
        team_ids.push(upsert_team(&txn, t).await?);
    }
    team_members::Entity::delete_many().filter(team_members::Column::UserId.eq(user.id)).exec(&txn).await?;
    if !team_ids.is_empty() {
        team_members::Entity::insert_many(
            team_ids
                .into_iter()
                .map(|team_id| team_members::ActiveModel { team_id: Set(team_id), user_id: Set(user.id) }),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    org_members::Entity::delete_many().filter(org_members::Column::UserId.eq(user.id)).exec(&txn).await?;
    let mut orgs: Vec<&String> = identity.orgs.iter().collect();
    orgs.sort();
    orgs.dedup();
    if !orgs.is_empty() {
        org_members::Entity::insert_many(
            orgs.into_iter().map(|org| org_members::ActiveModel { user_id: Set(user.id), org: Set(org.clone()) }),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(user)
}

async fn upsert_team<C: ConnectionTrait>(db: &C, team: &GithubTeam) -> Result<i64, DbErr> {
    let now = Utc::now();
    let existing = teams::Entity::find()
        .filter(teams::Column::Org.eq(team.org.as_str()))
        .filter(teams::Column::Slug.eq(team.slug.as_str()))
        .one(db)
        .await?;
    let row = match existing {
        Some(row) => {
            let mut am: teams::ActiveModel = row.into();
            am.name = Set(team.name.clone());
            am.github_id = Set(Some(team.id));
            am.updated_at = Set(now);
            am.update(db).await?
        }
        None => {
            teams::ActiveModel {
                org: Set(team.org.clone()),
                slug: Set(team.slug.clone()),
                name: Set(team.name.clone()),
                github_id: Set(Some(team.id)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    };
    Ok(row.id)
}

/// Creates (once) and returns the local administrator used by "Continue as local admin".
pub async fn ensure_local_admin(db: &DatabaseConnection) -> Result<users::Model, DbErr> {
    let now = Utc::now();
    if let Some(row) = users::Entity::find().filter(users::Column::IsLocalAdmin.eq(true)).one(db).await? {
        let mut am: users::ActiveModel = row.into();
        am.last_login_at = Set(Some(now));
        return am.update(db).await;
    }
    users::ActiveModel {
        login: Set(LOCAL_ADMIN_LOGIN.to_owned()),
        name: Set("Local admin".to_owned()),
        avatar_url: Set(None),
        github_id: Set(None),
        is_local_admin: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The teams a person belongs to, sorted by `org/slug`.
pub async fn teams_of<C: ConnectionTrait>(db: &C, user_id: i64) -> Result<Vec<TeamView>, DbErr> {
    let rows = teams::Entity::find()
        .inner_join(team_members::Entity)
        .filter(team_members::Column::UserId.eq(user_id))
        .order_by_asc(teams::Column::Org)
        .order_by_asc(teams::Column::Slug)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|t| TeamView { org: t.org, slug: t.slug, name: t.name }).collect())
}

/// The viewer behind a session's user id, or `None` when the user no longer exists.
pub async fn viewer_for_user(db: &DatabaseConnection, config: &Config, user_id: i64) -> Result<Option<Viewer>, DbErr> {
    let Some(user) = users::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    let is_admin = user.is_local_admin || is_admin_by_teams(&teams_of(db, user.id).await?, &config.admin_teams);
    Ok(Some(Viewer {
        login: user.login,
        name: user.name,
        avatar_url: user.avatar_url,
        is_admin,
        kind: if user.is_local_admin { ViewerKind::LocalAdmin } else { ViewerKind::Github },
        scopes: None,
        team: None,
    }))
}

/// The viewer for the static `PORTOLAN_API_TOKEN`.
pub fn api_token_viewer() -> Viewer {
    Viewer {
        login: "api-token".to_owned(),
        name: "API token".to_owned(),
        avatar_url: None,
        is_admin: true,
        kind: ViewerKind::ApiToken,
        scopes: None,
        team: None,
    }
}

/// A person's page, by login (case-insensitive, like GitHub).
pub async fn person(db: &DatabaseConnection, login: &str) -> Result<Option<PersonView>, DbErr> {
    let Some(user) = users::Entity::find()
        .filter(ExprTrait::eq(Expr::expr(Func::lower(Expr::col(users::Column::Login))), login.to_lowercase()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let orgs = org_members::Entity::find()
        .filter(org_members::Column::UserId.eq(user.id))
        .order_by_asc(org_members::Column::Org)
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.org)
        .collect();
    Ok(Some(PersonView {
        teams: teams_of(db, user.id).await?,
        login: user.login,
        name: user.name,
        avatar_url: user.avatar_url,
        orgs,
        last_login_at: user.last_login_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(orgs: &[&str]) -> GithubIdentity {
        GithubIdentity {
            id: 1,
            login: "octocat".into(),
            name: None,
            avatar_url: None,
            orgs: orgs.iter().map(|s| (*s).to_owned()).collect(),
            teams: vec![],
        }
    }

    #[test]
    fn allowed_orgs_gate_login_case_insensitively() {
        assert!(is_allowed(&identity(&[]), &[]));
        assert!(is_allowed(&identity(&["Acme"]), &["acme".into()]));
        assert!(!is_allowed(&identity(&["other"]), &["acme".into()]));
        assert!(!is_allowed(&identity(&[]), &["acme".into()]));
    }

    #[test]
    fn admin_teams_match_org_and_slug() {
        let teams = [TeamView { org: "acme".into(), slug: "platform".into(), name: "Platform".into() }];
        assert!(is_admin_by_teams(&teams, &["ACME/platform".into()]));
        assert!(!is_admin_by_teams(&teams, &["other/platform".into()]));
        assert!(!is_admin_by_teams(&teams, &[]));
    }
}
