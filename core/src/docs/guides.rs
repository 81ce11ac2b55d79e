//! Onboarding guides. A guide is a docs page of kind `guide`: its `##` sections are the steps (each may link a
//! page, an entity or a URL in its text), and the teams it is assigned to are the groups among its linked
//! entities (`group:default/payments`), so everyone joining the team gets it. A person may also pick any guide.
//! Progress is kept per person and step key (the section's anchor), so editing a guide keeps the ticks of the
//! steps that still exist; a removed step's ticks no longer count.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use portolan_types::docs::{GuideProgress, GuideStep, MemberProgress, PageSummary, TeamGuide};

use super::markdown;
use super::pages::{self, DocsError, page_rows};

/// The `guide_progress` table.
pub mod progress {
    use sea_orm::entity::prelude::*;

    /// A ticked step.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "guide_progress")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The guide page.
        pub page_id: i64,
        /// The step's key.
        pub step_key: String,
        /// Who did it.
        pub login: String,
        /// When.
        pub done_at: DateTimeUtc,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `guide_picks` table.
pub mod picks {
    use sea_orm::entity::prelude::*;

    /// A guide someone chose to follow.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "guide_picks")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The guide page.
        pub page_id: i64,
        /// Who.
        pub login: String,
        /// When.
        pub picked_at: DateTimeUtc,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A guide's steps, `(key, title)`, from its source: the `##` sections in order.
pub fn steps(markdown_source: &str) -> Vec<(String, String)> {
    markdown::render(markdown_source).toc.into_iter().filter(|t| t.level == 2).map(|t| (t.id, t.text)).collect()
}

/// The teams a guide is assigned to: the groups among its linked entities.
pub fn assigned_teams(page: &page_rows::Model) -> Vec<String> {
    page.entity_refs.split(',').filter(|e| e.starts_with("group:")).map(str::to_owned).collect()
}

async fn done_keys(db: &DatabaseConnection, page_id: i64, login: &str) -> Result<HashSet<String>, DbErr> {
    Ok(progress::Entity::find()
        .filter(progress::Column::PageId.eq(page_id))
        .filter(progress::Column::Login.eq(login))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.step_key)
        .collect())
}

fn summary(p: &page_rows::Model) -> PageSummary {
    pages::summary(p.clone())
}

/// One guide with one person's ticks; `memberships` are the person's groups (to tell whether it is assigned).
pub async fn for_person(
    db: &DatabaseConnection,
    page_id: i64,
    login: &str,
    memberships: &[String],
) -> Result<GuideProgress, DocsError> {
    let (page, rev) = pages::current(db, page_id).await?.ok_or(DocsError::NotFound)?;
    if page.kind != "guide" {
        return Err(DocsError::Invalid(format!("page {page_id} is not a guide")));
    }
    let done = done_keys(db, page_id, login).await?;
    let picked = picks::Entity::find()
        .filter(picks::Column::PageId.eq(page_id))
        .filter(picks::Column::Login.eq(login))
        .one(db)
        .await?
        .is_some();
    let steps: Vec<GuideStep> = steps(&rev.markdown)
        .into_iter()
        .map(|(key, title)| GuideStep { done: done.contains(&key), key, title })
        .collect();
    Ok(GuideProgress {
        assigned: assigned_teams(&page).iter().any(|t| memberships.contains(t)),
        picked,
        done: steps.iter().filter(|s| s.done).count(),
        steps,
        page: summary(&page),
    })
}

/// Ticks a step off (or clears it) for a person; the step must be one of the guide's now.
pub async fn set_step(
    db: &DatabaseConnection,
    page_id: i64,
    key: &str,
    login: &str,
    done: bool,
) -> Result<(), DocsError> {
    let (page, rev) = pages::current(db, page_id).await?.ok_or(DocsError::NotFound)?;
    if page.kind != "guide" {
        return Err(DocsError::Invalid(format!("page {page_id} is not a guide")));
    }
    if !steps(&rev.markdown).iter().any(|(k, _)| k == key) {
        return Err(DocsError::Invalid(format!("step: {key} is not a step of this guide")));
    }
    let existing = progress::Entity::find()
        .filter(progress::Column::PageId.eq(page_id))
        .filter(progress::Column::StepKey.eq(key))
        .filter(progress::Column::Login.eq(login))
        .one(db)
        .await?;
    match (existing, done) {
        (None, true) => {
            let row = progress::ActiveModel {
                page_id: Set(page_id),
                step_key: Set(key.to_owned()),
                login: Set(login.to_owned()),
                done_at: Set(Utc::now()),
                ..Default::default()
            };
            // A double click from two tabs: the unique index keeps one row, and either way the step is done.
            if let Err(e) = row.insert(db).await
                && done_keys(db, page_id, login).await.map(|d| !d.contains(key)).unwrap_or(true)
            {
                return Err(e.into());
            }
        }
        (Some(row), false) => {
            progress::Entity::delete_by_id(row.id).exec(db).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Adds a guide to (or removes it from) a person's own list.
pub async fn pick(db: &DatabaseConnection, page_id: i64, login: &str, picked: bool) -> Result<(), DocsError> {
    let (page, _) = pages::current(db, page_id).await?.ok_or(DocsError::NotFound)?;
    if page.kind != "guide" {
        return Err(DocsError::Invalid(format!("page {page_id} is not a guide")));
    }
    let existing = picks::Entity::find()
        .filter(picks::Column::PageId.eq(page_id))
        .filter(picks::Column::Login.eq(login))
        .one(db)
        .await?;
    match (existing, picked) {
        (None, true) => {
            picks::ActiveModel {
                page_id: Set(page_id),
                login: Set(login.to_owned()),
                picked_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
        (Some(row), false) => {
            picks::Entity::delete_by_id(row.id).exec(db).await?;
        }
        _ => {}
    }
    Ok(())
}

/// A person's guides: those assigned to their teams and those they picked, least done first.
pub async fn for_login(
    db: &DatabaseConnection,
    login: &str,
    memberships: &[String],
) -> Result<Vec<GuideProgress>, DocsError> {
    let picked: HashSet<i64> = picks::Entity::find()
        .filter(picks::Column::Login.eq(login))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.page_id)
        .collect();
    let guides = page_rows::Entity::find()
        .filter(page_rows::Column::Kind.eq("guide"))
        .order_by_asc(page_rows::Column::Title)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for g in guides {
        if picked.contains(&g.id) || assigned_teams(&g).iter().any(|t| memberships.contains(t)) {
            out.push(for_person(db, g.id, login, memberships).await?);
        }
    }
    out.sort_by_key(|g| (g.done == g.steps.len(), g.page.title.clone()));
    Ok(out)
}

/// The logins of a team's members: people whose GitHub team has the group's name, and the catalog's `User`
/// members of the group (by name).
pub async fn team_logins(db: &DatabaseConnection, group_ref: &str) -> Result<Vec<String>, DbErr> {
    use crate::auth::entity::{team_members, teams, users};
    let name = group_ref.rsplit('/').next().unwrap_or(group_ref).to_owned();
    let team_ids: Vec<i64> =
        teams::Entity::find().filter(teams::Column::Slug.eq(&name)).all(db).await?.into_iter().map(|t| t.id).collect();
    let user_ids: Vec<i64> = team_members::Entity::find()
        .filter(team_members::Column::TeamId.is_in(team_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let mut logins: Vec<String> = users::Entity::find()
        .filter(users::Column::Id.is_in(user_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.login)
        .collect();
    for (relation, target) in crate::catalog::store::relations_from(db, group_ref).await? {
        if relation == "hasMember"
            && let Some(user) = target.strip_prefix("user:")
        {
            logins.push(user.rsplit('/').next().unwrap_or(user).to_owned());
        }
    }
    logins.sort();
    logins.dedup();
    Ok(logins)
}

/// A team's guides with each member's progress, least done first.
pub async fn for_team(db: &DatabaseConnection, group_ref: &str) -> Result<Vec<TeamGuide>, DbErr> {
    let guides = page_rows::Entity::find()
        .filter(page_rows::Column::Kind.eq("guide"))
        .filter(page_rows::Column::EntityRefs.contains(group_ref))
        .order_by_asc(page_rows::Column::Title)
        .all(db)
        .await?;
    let logins = team_logins(db, group_ref).await?;
    let mut out = Vec::new();
    for g in guides.into_iter().filter(|g| assigned_teams(g).iter().any(|t| t == group_ref)) {
        let Some((_, rev)) = pages::current(db, g.id).await? else { continue };
        let keys: HashSet<String> = steps(&rev.markdown).into_iter().map(|(k, _)| k).collect();
        let mut done: HashMap<String, usize> = HashMap::new();
        for p in progress::Entity::find().filter(progress::Column::PageId.eq(g.id)).all(db).await? {
            if keys.contains(&p.step_key) {
                *done.entry(p.login).or_default() += 1;
            }
        }
        let mut members: Vec<MemberProgress> = logins
            .iter()
            .map(|l| MemberProgress { login: l.clone(), done: done.get(l).copied().unwrap_or(0), total: keys.len() })
            .collect();
        members.sort_by(|a, b| a.done.cmp(&b.done).then_with(|| a.login.cmp(&b.login)));
        out.push(TeamGuide { page: summary(&g), members });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_the_second_level_sections_in_order() {
        let md =
            "# Welcome\n\nIntro.\n\n## Get access\n\nAsk [[Access]].\n\n### Detail\n\n## Read the runbook\n\nSee it.\n";
        let s = steps(md);
        assert_eq!(
            s,
            vec![
                ("md-get-access".to_owned(), "Get access".to_owned()),
                ("md-read-the-runbook".to_owned(), "Read the runbook".to_owned())
            ]
        );
        // Editing a step's text keeps its key; renaming it makes a new step.
        let edited = md.replace("Ask [[Access]].", "Ask in #access.");
        assert_eq!(steps(&edited)[0].0, "md-get-access");
    }
}
