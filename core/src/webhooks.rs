//! The durable queue behind the webhook receivers. A delivery is stored first and acknowledged, then processed
//! here, so a crash after the 2xx loses nothing; the same delivery id twice is stored once. One receiver for
//! GitHub serves every consumer: `push` refreshes the catalog and repository docs; `deployment`,
//! `deployment_status` and `workflow_run` record deployments; `ping` is answered; events no capability consumes
//! yet are kept and marked `ignored`.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::AppState;

/// How often a failing delivery is tried before it is left as `failed`.
pub const MAX_ATTEMPTS: i32 = 5;

/// The `webhook_deliveries` table.
pub mod deliveries {
    use sea_orm::entity::prelude::*;

    /// One delivery as received.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        /// Row id (processing order).
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The sender (`github`).
        pub source: String,
        /// The sender's delivery id (`X-GitHub-Delivery`), unique per source.
        pub delivery_id: String,
        /// The event name (`X-GitHub-Event`).
        pub event: String,
        /// The raw JSON body.
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        /// `queued`, `processing`, `done`, `ignored` or `failed`.
        pub status: String,
        /// Processing attempts so far.
        pub attempts: i32,
        /// What the last attempt said (an error, or for `done`/`ignored` the outcome).
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        /// When it arrived.
        pub received_at: DateTimeUtc,
        /// When it was last processed.
        pub processed_at: Option<DateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Stores a delivery. `Ok(false)` when this delivery id was already received (a redelivery).
pub async fn enqueue(
    db: &DatabaseConnection,
    source: &str,
    delivery_id: &str,
    event: &str,
    payload: &str,
) -> Result<bool, DbErr> {
    let row = deliveries::ActiveModel {
        source: Set(source.to_owned()),
        delivery_id: Set(delivery_id.to_owned()),
        event: Set(event.to_owned()),
        payload: Set(payload.to_owned()),
        status: Set("queued".to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        ..Default::default()
    };
    let inserted = deliveries::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([deliveries::Column::Source, deliveries::Column::DeliveryId]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// Puts deliveries a crashed process was working on back in the queue (their consumers are idempotent).
pub async fn requeue_interrupted(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let r = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value("queued"))
        .filter(deliveries::Column::Status.eq("processing"))
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}

/// What handling one delivery concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acted on; the text says what happened.
    Done(String),
    /// Nothing consumes this event (yet); kept for the record.
    Ignored(String),
}

/// Routes one GitHub delivery to its consumers.
pub async fn handle_github(state: &AppState, event: &str, payload: &Value) -> Result<Outcome, String> {
    match event {
        "ping" => Ok(Outcome::Done(format!(
            "pong: {}",
            payload.get("zen").and_then(Value::as_str).unwrap_or("webhook configured")
        ))),
        "push" => {
            let mut done = vec![crate::catalog::discovery::on_push(state, payload).await.map_err(|e| e.to_string())?];
            done.extend(docs_on_push(state, payload).await?);
            done.extend(crate::deploys::pushes::on_push(state, payload).await?);
            Ok(Outcome::Done(done.join("; ")))
        }
        "pull_request" => crate::deploys::pushes::on_pull_request(state, payload).await,
        "deployment" => match payload.get("action").and_then(Value::as_str) {
            Some("created") | None => crate::deploys::github::on_deployment(state, payload).await,
            Some(other) => Ok(Outcome::Ignored(format!("deployment `{other}` changes nothing"))),
        },
        "deployment_status" => crate::deploys::github::on_deployment_status(state, payload).await,
        "workflow_run" => crate::deploys::github::on_workflow_run(state, payload).await,
        other => Ok(Outcome::Ignored(format!("no consumer for `{other}` events"))),
    }
}

/// A push to a repository's default branch syncs the docs of the entities whose docs live there (after the
/// catalog, so an entity the push adds or changes is seen).
async fn docs_on_push(state: &AppState, payload: &Value) -> Result<Option<String>, String> {
    let repo = payload.pointer("/repository/full_name").and_then(Value::as_str).unwrap_or_default();
    let branch = payload.pointer("/repository/default_branch").and_then(Value::as_str).unwrap_or("main");
    let pushed = payload.get("ref").and_then(Value::as_str).unwrap_or_default();
    if repo.is_empty() || pushed != format!("refs/heads/{branch}") {
        return Ok(None);
    }
    let reports = crate::docs::techdocs::sync_all(state, Some(repo)).await.map_err(|e| e.to_string())?;
    if reports.is_empty() {
        return Ok(None);
    }
    let sum = |f: fn(&portolan_types::docs::DocsSyncReport) -> usize| reports.iter().map(f).sum::<usize>();
    Ok(Some(format!(
        "docs of {} entities: {} pages added, {} updated, {} removed",
        reports.len(),
        sum(|r| r.created),
        sum(|r| r.updated),
        sum(|r| r.removed)
    )))
}

/// Deliveries handled per batch: the recomputes they ask for are done once per component per batch.
pub const BATCH: usize = 500;

/// Processes queued deliveries in arrival order until none is left; returns how many were handled. Each one is
/// claimed with a conditional update first, so two replicas never process the same delivery at once.
///
/// Deliveries are handled in batches of up to [`BATCH`]: what each asks to recompute is done once per component
/// at the end of its batch (see [`crate::deploys::batch`]), and only then are the batch's deliveries marked done.
/// A crash before that leaves them `processing`; [`requeue_interrupted`] puts them back at the next start.
pub async fn process_queue(state: &AppState) -> Result<usize, DbErr> {
    let mut handled = 0;
    loop {
        let (batch, deferred) = crate::deploys::batch::deferring(handle_batch(state)).await;
        if batch.deliveries.is_empty() {
            return batch.error.map_or(Ok(handled), Err);
        }
        let components = deferred.components();
        let finished = deferred.run(state).await;
        tracing::debug!(deliveries = batch.deliveries.len(), components, "webhook batch finished");
        // The batch stopped at a failing delivery: it goes back in the queue.
        let retry = batch.deliveries.last().is_some_and(|(_, result)| result.is_err());
        handled += batch.deliveries.len();
        record_outcomes(state, batch.deliveries, finished.as_ref().err()).await?;
        finished?;
        if let Some(e) = batch.error {
            return Err(e);
        }
        if retry {
            // A failing delivery waits for the next tick instead of spinning.
            return Ok(handled);
        }
    }
}

/// One batch: each delivery with what handling it concluded.
struct Batch {
    deliveries: Vec<(deliveries::Model, Result<Outcome, String>)>,
    /// The database failed between deliveries; the batch ends with those handled so far.
    error: Option<DbErr>,
}

/// Claims and handles up to [`BATCH`] deliveries (inside the caller's deferring scope).
async fn handle_batch(state: &AppState) -> Batch {
    let mut batch = Batch { deliveries: Vec::new(), error: None };
    while batch.deliveries.len() < BATCH {
        match handle_next(state).await {
            Ok(Some((delivery, result))) => {
                let failed = result.is_err();
                batch.deliveries.push((delivery, result));
                if failed {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                batch.error = Some(e);
                break;
            }
        }
    }
    batch
}

/// Claims and handles the next queued delivery; `None` when the queue is empty.
async fn handle_next(state: &AppState) -> Result<Option<(deliveries::Model, Result<Outcome, String>)>, DbErr> {
    let db = &state.db;
    loop {
        let Some(next) = deliveries::Entity::find()
            .filter(deliveries::Column::Status.eq("queued"))
            .order_by_asc(deliveries::Column::Id)
            .limit(1)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let claimed = deliveries::Entity::update_many()
            .col_expr(deliveries::Column::Status, Expr::value("processing"))
            .col_expr(deliveries::Column::Attempts, Expr::col(deliveries::Column::Attempts).add(1))
            .filter(deliveries::Column::Id.eq(next.id))
            .filter(deliveries::Column::Status.eq("queued"))
            .exec(db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let result = match serde_json::from_str::<Value>(&next.payload) {
            Ok(payload) => match next.source.as_str() {
                "github" => handle_github(state, &next.event, &payload).await,
                other => Ok(Outcome::Ignored(format!("unknown source `{other}`"))),
            },
            Err(e) => Err(format!("the payload is not JSON: {e}")),
        };
        return Ok(Some((next, result)));
    }
}

/// Marks a batch's deliveries with their outcomes, in one transaction. When finishing the batch failed
/// (`finishing`), the deliveries it handled go back in the queue (or are given up after [`MAX_ATTEMPTS`]).
async fn record_outcomes(
    state: &AppState,
    handled: Vec<(deliveries::Model, Result<Outcome, String>)>,
    finishing: Option<&DbErr>,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(&state.db).await?;
    let now = Utc::now();
    for (delivery, result) in handled {
        let attempts = delivery.attempts + 1;
        let result = match (result, finishing) {
            (Ok(_), Some(e)) => Err(format!("finishing its batch failed: {e}")),
            (r, _) => r,
        };
        let (status, note) = match result {
            Ok(Outcome::Done(text)) => ("done", text),
            Ok(Outcome::Ignored(text)) => ("ignored", text),
            Err(e) if attempts < MAX_ATTEMPTS => ("queued", e),
            Err(e) => ("failed", e),
        };
        if status == "failed" || status == "queued" {
            tracing::warn!(delivery = %delivery.delivery_id, event = %delivery.event, attempts, error = %note, "webhook delivery failed");
        } else {
            tracing::info!(delivery = %delivery.delivery_id, event = %delivery.event, status, outcome = %note, "webhook delivery processed");
        }
        deliveries::Entity::update_many()
            .col_expr(deliveries::Column::Status, Expr::value(status))
            .col_expr(deliveries::Column::LastError, Expr::value(note))
            .col_expr(deliveries::Column::ProcessedAt, Expr::value(now))
            .filter(deliveries::Column::Id.eq(delivery.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// A delivery by its id, for the API and tests.
pub async fn find(
    db: &DatabaseConnection,
    source: &str,
    delivery_id: &str,
) -> Result<Option<deliveries::Model>, DbErr> {
    deliveries::Entity::find()
        .filter(deliveries::Column::Source.eq(source))
        .filter(deliveries::Column::DeliveryId.eq(delivery_id))
        .one(db)
        .await
}
