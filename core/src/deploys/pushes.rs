//! What `push` and merged `pull_request` deliveries teach about a repository's history, so that deployments
//! GitHub reports without their commits (a `deployment` delivery carries only a sha) still get their changes.
//!
//! Each push is kept as the ref moving from `before` to `after` with the commits it brought. A deployment of sha
//! X carries the commits of the push that ended at X, of the push before that (its `after` is that push's
//! `before`), and so on back to a sha this component had already deployed: every earlier push counts, not only
//! the last one. What a deployment learns is added to what it reported (from the CD API or a sync), never put in
//! its place, so deliveries in any order and repeated converge on the same changes. A merged pull request names
//! its merge commit; that commit's change starts at the pull request's first commit (read from GitHub when the
//! portal has a token), which keeps squash merges honest.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppState;
use crate::webhooks::Outcome;

use super::dora::ReportedCommit;
use super::{deployment_commits, deployments};

/// The most commits one deployment learns from pushes, and the most pushes walked back.
const MAX_COMMITS: usize = 10_000;
const MAX_PUSHES: usize = 1_000;
/// GitHub puts at most this many commits in a push delivery.
const PUSH_PAYLOAD_LIMIT: usize = 2_048;
const NULL_SHA: &str = "0000000000000000000000000000000000000000";

/// The `git_pushes` table.
pub mod git_pushes {
    use sea_orm::entity::prelude::*;

    /// One push: `git_ref` moved from `before_sha` to `after_sha`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "git_pushes")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `owner/name`, lower case.
        pub repository: String,
        /// The ref pushed to.
        pub git_ref: String,
        /// Where the ref was.
        pub before_sha: String,
        /// Where it is now.
        pub after_sha: String,
        /// JSON array of `{sha, committed_at}`, oldest first.
        #[sea_orm(column_type = "Text")]
        pub commits: String,
        /// The delivery held GitHub's maximum number of commits: some may be missing.
        pub truncated: bool,
        /// When the delivery was processed.
        pub received_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `pull_requests` table: merged pull requests.
pub mod pull_requests {
    use sea_orm::entity::prelude::*;

    /// One merged pull request.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pull_requests")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `owner/name`, lower case.
        pub repository: String,
        /// Its number.
        pub number: i32,
        /// The commit the merge put on the base branch (the squash commit for a squash merge).
        pub merge_commit_sha: Option<String>,
        /// Its first commit, when known.
        pub first_commit_at: Option<DateTimeUtc>,
        /// When it was opened.
        pub opened_at: Option<DateTimeUtc>,
        /// When it was merged.
        pub merged_at: Option<DateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct PushedCommit {
    sha: String,
    committed_at: Option<DateTime<Utc>>,
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn time(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    text(v, pointer).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

fn is_sha(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `push`: keeps the push and gives its commits to the deployments of the repository's components that carry
/// them. A push that deletes a ref, or names no repository, teaches nothing.
pub async fn on_push(state: &AppState, payload: &Value) -> Result<Option<String>, String> {
    let Some(repo) = text(payload, "/repository/full_name").map(str::to_lowercase) else { return Ok(None) };
    let before = text(payload, "/before").unwrap_or(NULL_SHA).to_lowercase();
    let after = text(payload, "/after").unwrap_or(NULL_SHA).to_lowercase();
    if after == NULL_SHA || !is_sha(&after) || !is_sha(&before) || payload.get("deleted") == Some(&Value::Bool(true)) {
        return Ok(None);
    }
    let listed = payload.get("commits").and_then(Value::as_array).cloned().unwrap_or_default();
    let commits: Vec<PushedCommit> = listed
        .iter()
        .filter_map(|c| {
            let sha = text(c, "/id")?.to_lowercase();
            is_sha(&sha).then(|| PushedCommit { sha, committed_at: time(c, "/timestamp") })
        })
        .collect();
    let earliest = commits.iter().filter_map(|c| c.committed_at).min();
    let row = git_pushes::ActiveModel {
        repository: Set(repo.clone()),
        git_ref: Set(text(payload, "/ref").unwrap_or_default().to_owned()),
        before_sha: Set(before),
        after_sha: Set(after),
        commits: Set(serde_json::to_string(&commits).map_err(|e| e.to_string())?),
        truncated: Set(listed.len() >= PUSH_PAYLOAD_LIMIT),
        received_at: Set(Utc::now()),
        ..Default::default()
    };
    git_pushes::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                git_pushes::Column::Repository,
                git_pushes::Column::AfterSha,
                git_pushes::Column::BeforeSha,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await
        .map_err(|e| e.to_string())?;
    // Only deployments made after these commits can carry them.
    let since = earliest.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let learned = learn_for_repository(state, &repo, since).await.map_err(|e| e.to_string())?;
    Ok(Some(format!("push of {} commit(s) to {repo} kept; {learned} deployment(s) learned commits", commits.len())))
}

/// `pull_request` (closed and merged): keeps the pull request and marks its merge commit with it wherever a
/// deployment carries that commit.
pub async fn on_pull_request(state: &AppState, payload: &Value) -> Result<Outcome, String> {
    let pr = payload.get("pull_request").cloned().unwrap_or_default();
    if text(payload, "/action") != Some("closed") || pr.get("merged") != Some(&Value::Bool(true)) {
        return Ok(Outcome::Ignored("only merged pull requests change deployments".to_owned()));
    }
    let Some(repo) = text(payload, "/repository/full_name").map(str::to_lowercase) else {
        return Ok(Outcome::Ignored("the delivery names no repository".to_owned()));
    };
    let Some(number) = pr.get("number").and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok()) else {
        return Ok(Outcome::Ignored("the pull request has no number".to_owned()));
    };
    let merge_sha = text(&pr, "/merge_commit_sha").map(str::to_lowercase).filter(|s| is_sha(s));
    let repo_path = repo.split('/').map(crate::github::encode_segment).collect::<Vec<_>>().join("/");
    // Its first commit, from GitHub when the portal may read it; a failure here leaves it unknown, not the
    // delivery failed.
    let first_commit_at = if state.config.github_token.is_some() {
        super::github::pull_first_commit(state, &repo_path, number).await.ok().flatten()
    } else {
        None
    };
    let row = pull_requests::ActiveModel {
        repository: Set(repo.clone()),
        number: Set(number),
        merge_commit_sha: Set(merge_sha.clone()),
        first_commit_at: Set(first_commit_at),
        opened_at: Set(time(&pr, "/created_at")),
        merged_at: Set(time(&pr, "/merged_at")),
        ..Default::default()
    };
    let mut update = vec![pull_requests::Column::MergeCommitSha, pull_requests::Column::MergedAt];
    if first_commit_at.is_some() {
        update.push(pull_requests::Column::FirstCommitAt);
    }
    pull_requests::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([pull_requests::Column::Repository, pull_requests::Column::Number])
                .update_columns(update)
                .to_owned(),
        )
        .exec(&state.db)
        .await
        .map_err(|e| e.to_string())?;
    let Some(sha) = merge_sha else {
        return Ok(Outcome::Done(format!("pull request #{number} of {repo} kept (no merge commit)")));
    };
    let marked = mark_pull(state, &repo, &sha).await.map_err(|e| e.to_string())?;
    Ok(Outcome::Done(format!("pull request #{number} of {repo} kept; {marked} deployment(s) carry its merge commit")))
}

/// Gives the pull request merged as `sha` to every reported commit `sha` of the repository's components, then
/// recomputes their changes. Returns the number of deployments touched.
async fn mark_pull(state: &AppState, repo: &str, sha: &str) -> Result<usize, DbErr> {
    let Some(pr) = pull_for(&state.db, repo, &[sha.to_owned()]).await?.remove(sha) else { return Ok(0) };
    let mut touched = 0;
    for component in super::github::components_for_repo(&state.db, repo).await? {
        let rows = deployment_commits::Entity::find()
            .filter(deployment_commits::Column::ComponentRef.eq(&component.entity_ref))
            .filter(deployment_commits::Column::Sha.eq(sha))
            .all(&state.db)
            .await?;
        if rows.is_empty() {
            continue;
        }
        let txn = crate::db::begin_write(&state.db).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.deployment_id).collect();
        deployment_commits::Entity::update_many()
            .col_expr(deployment_commits::Column::PrNumber, sea_orm::sea_query::Expr::value(pr.0))
            .col_expr(deployment_commits::Column::PrFirstCommitAt, sea_orm::sea_query::Expr::value(pr.1))
            .filter(deployment_commits::Column::ComponentRef.eq(&component.entity_ref))
            .filter(deployment_commits::Column::Sha.eq(sha))
            .exec(&txn)
            .await?;
        super::recompute_changes(&txn, &state.config, &component.entity_ref).await?;
        txn.commit().await?;
        touched += ids.len();
    }
    Ok(touched)
}

/// The merged pull request of each of these merge commits: its number and first commit time.
async fn pull_for<C: ConnectionTrait>(
    db: &C,
    repo: &str,
    shas: &[String],
) -> Result<HashMap<String, (i32, Option<DateTime<Utc>>)>, DbErr> {
    let mut out = HashMap::new();
    for chunk in shas.chunks(500) {
        for pr in pull_requests::Entity::find()
            .filter(pull_requests::Column::Repository.eq(repo))
            .filter(pull_requests::Column::MergeCommitSha.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            if let Some(sha) = pr.merge_commit_sha {
                out.insert(sha, (pr.number, pr.first_commit_at));
            }
        }
    }
    Ok(out)
}

/// The commits a deployment of `head` carries according to the pushes of `repo`: the push that ended at `head`,
/// the one before it, and so on until a sha in `stop` (already deployed), a push the portal never saw, or the
/// limits. Oldest first; the flag says the walk hit a truncated push or a limit.
async fn commits_from_pushes<C: ConnectionTrait>(
    db: &C,
    repo: &str,
    head: &str,
    stop: &HashSet<String>,
) -> Result<(Vec<ReportedCommit>, bool), DbErr> {
    let mut out: Vec<PushedCommit> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    // Push heads already walked (a force-push can make the chain loop).
    let mut walked: HashSet<String> = HashSet::from([head.to_owned()]);
    let mut truncated = false;
    let mut at = head.to_owned();
    for _ in 0..MAX_PUSHES {
        let Some(push) = git_pushes::Entity::find()
            .filter(git_pushes::Column::Repository.eq(repo))
            .filter(git_pushes::Column::AfterSha.eq(&at))
            .order_by_asc(git_pushes::Column::Id)
            .one(db)
            .await?
        else {
            break;
        };
        truncated |= push.truncated;
        let commits: Vec<PushedCommit> = serde_json::from_str(&push.commits).unwrap_or_default();
        for c in commits.into_iter().rev() {
            if stop.contains(&c.sha) && c.sha != head {
                break;
            }
            if seen.insert(c.sha.clone()) {
                out.push(c);
            }
        }
        if out.len() >= MAX_COMMITS {
            truncated = true;
            break;
        }
        if push.before_sha == NULL_SHA || stop.contains(&push.before_sha) || !walked.insert(push.before_sha.clone()) {
            break;
        }
        at = push.before_sha;
    }
    out.reverse();
    let shas: Vec<String> = out.iter().map(|c| c.sha.clone()).collect();
    let pulls = pull_for(db, repo, &shas).await?;
    Ok((
        out.into_iter()
            .map(|c| {
                let pr = pulls.get(&c.sha).copied();
                ReportedCommit {
                    pr_number: pr.map(|p| p.0),
                    pr_first_commit_at: pr.and_then(|p| p.1),
                    sha: c.sha,
                    committed_at: c.committed_at,
                }
            })
            .collect(),
        truncated,
    ))
}

/// Adds what the pushes teach to each deployment of the repository's components made at or after `since`.
/// Returns how many deployments learned something.
pub async fn learn_for_repository(state: &AppState, repo: &str, since: DateTime<Utc>) -> Result<usize, DbErr> {
    let mut learned = 0;
    for component in super::github::components_for_repo(&state.db, repo).await? {
        learned += learn_for_component(state, repo, &component.entity_ref, since).await?;
    }
    Ok(learned)
}

/// As [`learn_for_repository`], for one component (a deployment delivery has just named it).
pub async fn learn_for_component(
    state: &AppState,
    repo: &str,
    component_ref: &str,
    since: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let repo = repo.to_lowercase();
    let txn = crate::db::begin_write(&state.db).await?;
    let all = deployments::Entity::find()
        .filter(deployments::Column::ComponentRef.eq(component_ref))
        .order_by_asc(deployments::Column::At)
        .order_by_asc(deployments::Column::Id)
        .all(&txn)
        .await?;
    let mut learned = 0;
    let mut deployed_before: HashSet<String> = HashSet::new();
    for d in &all {
        let Some(head) = d.commit_sha.as_deref().map(str::to_lowercase) else { continue };
        if d.at >= since {
            let (pushed, truncated) = commits_from_pushes(&txn, &repo, &head, &deployed_before).await?;
            let mut changed = !pushed.is_empty() && add_commits(&txn, d, &pushed).await?;
            if truncated && !d.commits_cut_short {
                deployments::Entity::update_many()
                    .col_expr(deployments::Column::CommitsCutShort, sea_orm::sea_query::Expr::value(true))
                    .filter(deployments::Column::Id.eq(d.id))
                    .exec(&txn)
                    .await?;
                changed = true;
            }
            if changed {
                learned += 1;
            }
        }
        deployed_before.insert(head);
    }
    if learned > 0 {
        super::recompute_changes(&txn, &state.config, component_ref).await?;
    }
    txn.commit().await?;
    Ok(learned)
}

/// Adds the commits a deployment does not report yet (and pull request details it lacks). `true` when anything
/// changed.
async fn add_commits<C: ConnectionTrait>(
    db: &C,
    d: &deployments::Model,
    commits: &[ReportedCommit],
) -> Result<bool, DbErr> {
    let existing: HashMap<String, deployment_commits::Model> = deployment_commits::Entity::find()
        .filter(deployment_commits::Column::DeploymentId.eq(d.id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.sha.clone(), c))
        .collect();
    let mut changed = false;
    let mut new = Vec::new();
    for c in commits {
        match existing.get(&c.sha) {
            None => new.push(deployment_commits::ActiveModel {
                deployment_id: Set(d.id),
                component_ref: Set(d.component_ref.clone()),
                sha: Set(c.sha.clone()),
                committed_at: Set(c.committed_at),
                pr_number: Set(c.pr_number),
                pr_first_commit_at: Set(c.pr_first_commit_at),
                ..Default::default()
            }),
            Some(old) => {
                let fill = (old.committed_at.is_none() && c.committed_at.is_some())
                    || (old.pr_number.is_none() && c.pr_number.is_some())
                    || (old.pr_first_commit_at.is_none() && c.pr_first_commit_at.is_some());
                if fill {
                    let mut m: deployment_commits::ActiveModel = old.clone().into();
                    m.committed_at = Set(old.committed_at.or(c.committed_at));
                    m.pr_number = Set(old.pr_number.or(c.pr_number));
                    m.pr_first_commit_at = Set(old.pr_first_commit_at.or(c.pr_first_commit_at));
                    sea_orm::ActiveModelTrait::update(m, db).await?;
                    changed = true;
                }
            }
        }
    }
    changed |= !new.is_empty();
    let mut rows = new.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        deployment_commits::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shas_are_hex_of_a_sensible_length() {
        assert!(is_sha("a1b2c3d"));
        assert!(is_sha(NULL_SHA));
        assert!(!is_sha("main"));
        assert!(!is_sha("a1b2c3"));
        assert!(!is_sha("../../etc/passwd"));
    }
}
