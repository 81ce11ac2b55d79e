//! API tokens: personal (acting as the person who made them) and team (acting as a GitHub team's group), each
//! narrowed to scopes. The secret is shown once and stored only as its SHA-256; a request's token is looked up by
//! that hash. `PORTOLAN_API_TOKEN` stays the bootstrap administrator token, outside this table.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};
use sha2::{Digest, Sha256};

use portolan_types::access::{CreatedToken, NewToken, SCOPES, TokenView};
use portolan_types::{Viewer, ViewerKind};

use crate::auth::entity::users;
use crate::config::Config;

/// Every secret starts with this, so leaked tokens are recognisable (and secret scanners can match them).
pub const TOKEN_PREFIX: &str = "ptl_";

/// A token's last use is written at most this often (a write per request would cost more than the request).
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// The `api_tokens` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// What it is for.
        pub name: String,
        /// The secret's first characters.
        pub prefix: String,
        /// SHA-256 of the secret, hex.
        #[sea_orm(unique)]
        pub token_hash: String,
        /// Space-separated scopes.
        #[sea_orm(column_type = "Text")]
        pub scopes: String,
        /// The person it acts for (personal tokens) or who made it (team tokens); none when the bootstrap token
        /// made a team token.
        pub user_id: Option<i64>,
        /// Who created it (login).
        pub created_by: String,
        /// `org/slug` for a team token.
        pub team: Option<String>,
        /// Creation.
        pub created_at: DateTimeUtc,
        /// Expiry.
        pub expires_at: Option<DateTimeUtc>,
        /// Last use, to the minute.
        pub last_used_at: Option<DateTimeUtc>,
        /// Revocation.
        pub revoked_at: Option<DateTimeUtc>,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Why a token cannot be made or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A field is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The viewer may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such token (or not visible to the viewer).
    #[error("no such token")]
    NotFound,
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn view(row: &entity::Model) -> TokenView {
    TokenView {
        id: row.id,
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        team: row.team.clone(),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
        expires_at: row.expires_at.map(rfc3339),
        last_used_at: row.last_used_at.map(rfc3339),
        revoked_at: row.revoked_at.map(rfc3339),
    }
}

async fn user_id(db: &DatabaseConnection, login: &str) -> Result<Option<i64>, DbErr> {
    Ok(users::Entity::find().filter(users::Column::Login.eq(login)).one(db).await?.map(|u| u.id))
}

async fn team_slugs(db: &DatabaseConnection, viewer: &Viewer) -> Result<Vec<String>, DbErr> {
    Ok(crate::auth::person(db, &viewer.login)
        .await?
        .map(|p| p.teams.into_iter().map(|t| t.qualified().to_lowercase()).collect())
        .unwrap_or_default())
}

/// Makes a token for the viewer. Only a browser session or a token with the `admin` scope may make tokens (a
/// narrower token cannot mint itself wider ones); `admin` is given only by administrators; a team token only by
/// the team's members or administrators, and never with `admin`.
pub async fn create(db: &DatabaseConnection, viewer: &Viewer, new: &NewToken) -> Result<CreatedToken, TokenError> {
    if let Some(scopes) = &viewer.scopes
        && !scopes.iter().any(|s| s == "admin")
    {
        return Err(TokenError::Forbidden("making tokens with a token needs the `admin` scope".to_owned()));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(TokenError::Invalid("name: between 1 and 100 characters".to_owned()));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in &new.scopes {
        let s = s.trim();
        if !SCOPES.contains(&s) {
            return Err(TokenError::Invalid(format!("scopes: `{s}` is not one of {}", SCOPES.join(", "))));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(TokenError::Invalid("scopes: at least one scope is needed (`read` to only read)".to_owned()));
    }
    if scopes.iter().any(|s| s == "admin") && !viewer.is_admin {
        return Err(TokenError::Forbidden("only administrators may make tokens with the `admin` scope".to_owned()));
    }
    let expires_at = match new.expires_at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => {
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|_| TokenError::Invalid(format!("expires_at: `{text}` is not an RFC 3339 time")))?
                .with_timezone(&Utc);
            if at <= Utc::now() {
                return Err(TokenError::Invalid("expires_at: the time has already passed".to_owned()));
            }
            Some(at)
        }
    };
    let team = match new.team.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(team) => {
            let team = team.to_lowercase();
            if team.split('/').filter(|p| !p.is_empty()).count() != 2 {
                return Err(TokenError::Invalid(format!("team: `{team}` is not of the form org/team")));
            }
            if scopes.iter().any(|s| s == "admin") {
                return Err(TokenError::Invalid("scopes: team tokens cannot have the `admin` scope".to_owned()));
            }
            if !viewer.is_admin && !team_slugs(db, viewer).await?.contains(&team) {
                return Err(TokenError::Forbidden(format!("only members of {team} may make its tokens")));
            }
            Some(team)
        }
    };
    let owner = user_id(db, &viewer.login).await?;
    if team.is_none() && owner.is_none() {
        return Err(TokenError::Forbidden(
            "personal tokens belong to a person; the bootstrap token can only make team tokens".to_owned(),
        ));
    }
    let body: String = {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut rng = rand::rngs::OsRng;
        (0..40).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
    };
    let secret = format!("{TOKEN_PREFIX}{body}");
    let row = entity::ActiveModel {
        name: Set(name.to_owned()),
        prefix: Set(secret[..TOKEN_PREFIX.len() + 4].to_owned()),
        token_hash: Set(hash(&secret)),
        scopes: Set(scopes.join(" ")),
        user_id: Set(owner),
        created_by: Set(viewer.login.clone()),
        team: Set(team.clone()),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::audit::record(
        db,
        crate::audit::Entry {
            actor: &viewer.login,
            action: "access.token.create",
            target: Some(&format!("token:{}", row.id)),
            detail: Some(serde_json::json!({"name": row.name, "scopes": scopes, "team": team})),
            ..Default::default()
        },
    )
    .await?;
    Ok(CreatedToken { id: row.id, token: secret, view: view(&row) })
}

fn visible(viewer_id: Option<i64>, teams: &[String], viewer: &Viewer) -> Condition {
    if viewer.is_admin {
        return Condition::all();
    }
    let mut c = Condition::any();
    if let Some(id) = viewer_id {
        c = c.add(entity::Column::UserId.eq(id).and(entity::Column::Team.is_null()));
    }
    if !teams.is_empty() {
        c = c.add(entity::Column::Team.is_in(teams.iter().map(String::as_str)));
    }
    if viewer_id.is_none() && teams.is_empty() {
        c = c.add(Expr::val(false));
    }
    c
}

/// The tokens a viewer can see: their own and their teams'; administrators see all.
pub async fn list(db: &DatabaseConnection, viewer: &Viewer) -> Result<Vec<TokenView>, DbErr> {
    let id = user_id(db, &viewer.login).await?;
    let teams = team_slugs(db, viewer).await?;
    let rows =
        entity::Entity::find().filter(visible(id, &teams, viewer)).order_by_desc(entity::Column::Id).all(db).await?;
    Ok(rows.iter().map(view).collect())
}

/// Revokes a token the viewer can see.
pub async fn revoke(db: &DatabaseConnection, viewer: &Viewer, token_id: i64) -> Result<TokenView, TokenError> {
    if let Some(scopes) = &viewer.scopes
        && !scopes.iter().any(|s| s == "admin")
    {
        return Err(TokenError::Forbidden("revoking tokens with a token needs the `admin` scope".to_owned()));
    }
    let id = user_id(db, &viewer.login).await?;
    let teams = team_slugs(db, viewer).await?;
    let row = entity::Entity::find_by_id(token_id)
        .filter(visible(id, &teams, viewer))
        .one(db)
        .await?
        .ok_or(TokenError::NotFound)?;
    let mut active: entity::ActiveModel = row.clone().into();
    if row.revoked_at.is_none() {
        active.revoked_at = Set(Some(Utc::now()));
    }
    let row = active.update(db).await?;
    crate::audit::record(
        db,
        crate::audit::Entry {
            actor: &viewer.login,
            action: "access.token.revoke",
            target: Some(&format!("token:{token_id}")),
            detail: Some(serde_json::json!({"name": row.name})),
            ..Default::default()
        },
    )
    .await?;
    Ok(view(&row))
}

/// What a presented secret turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// A live token acting for this viewer.
    Viewer(Box<Viewer>),
    /// Known, but expired or revoked.
    Dead(&'static str),
    /// Not a token of ours.
    Unknown,
}

/// Looks a secret up and builds the viewer it acts for: the owner's current rights (a person who lost
/// administrator rights loses them on their tokens too), narrowed to the token's scopes.
pub async fn authenticate(db: &DatabaseConnection, config: &Config, secret: &str) -> Result<Authenticated, DbErr> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(Authenticated::Unknown);
    }
    let Some(row) = entity::Entity::find().filter(entity::Column::TokenHash.eq(hash(secret))).one(db).await? else {
        return Ok(Authenticated::Unknown);
    };
    let now = Utc::now();
    if row.revoked_at.is_some() {
        return Ok(Authenticated::Dead("the token was revoked"));
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Ok(Authenticated::Dead("the token has expired"));
    }
    let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_owned).collect();
    let viewer = match &row.team {
        Some(team) => Viewer {
            login: format!("team:{team}"),
            name: row.name.clone(),
            avatar_url: None,
            is_admin: false,
            kind: ViewerKind::ApiToken,
            scopes: Some(scopes),
            team: Some(team.clone()),
        },
        None => {
            let Some(owner) = row.user_id else { return Ok(Authenticated::Unknown) };
            let Some(mut v) = crate::auth::viewer_for_user(db, config, owner).await? else {
                return Ok(Authenticated::Unknown);
            };
            v.kind = ViewerKind::ApiToken;
            v.scopes = Some(scopes);
            v
        }
    };
    if row.last_used_at.is_none_or(|t| (now - t).num_seconds() >= LAST_USED_GRANULARITY_SECS) {
        entity::Entity::update_many()
            .col_expr(entity::Column::LastUsedAt, Expr::value(now))
            .filter(entity::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    Ok(Authenticated::Viewer(Box::new(viewer)))
}
