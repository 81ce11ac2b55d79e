//! Notifications: every state change (outside maintenance) and every burn-rate alert that starts firing is posted
//! as Slack-compatible JSON (`{"text": …}`) to the global webhook and to the owning team's. With several replicas
//! each change is sent once: a replica claims the row by setting `notified_at`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

use super::maths::{self, burn_rules};
use super::query::window;
use super::{checks, state_changes};
use crate::catalog::entity::entities;
use crate::config::Config;

/// One message and where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The owning team (for its webhook).
    pub team: Option<String>,
    /// The text (Slack `mrkdwn`).
    pub text: String,
}

fn entity_link(config: &Config, entity_ref: &str) -> String {
    // `kind:namespace/name` → `/catalog/namespace/kind/name`.
    let (kind, rest) = entity_ref.split_once(':').unwrap_or(("component", entity_ref));
    let (ns, name) = rest.split_once('/').unwrap_or(("default", rest));
    let base = config.public_url.as_str().trim_end_matches('/');
    format!("<{base}/catalog/{ns}/{kind}/{name}|{name}>")
}

/// The text for a state change.
pub fn change_text(config: &Config, c: &checks::Model, change: &state_changes::Model) -> String {
    let icon = match change.to_state.as_str() {
        "down" => ":red_circle:",
        "degraded" => ":large_orange_circle:",
        "up" => ":large_green_circle:",
        _ => ":white_circle:",
    };
    let verb = match (change.from_state.as_str(), change.to_state.as_str()) {
        ("down", "up") => "is back up".to_owned(),
        (_, to) => format!("is {to}"),
    };
    let why = change.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    format!(
        "{icon} {} {verb} in {} — check {} on {}{why}, at {} UTC",
        entity_link(config, &c.component_ref),
        c.environment,
        c.name,
        c.target,
        change.at.format("%Y-%m-%d %H:%M:%S")
    )
}

/// Posts messages: each to the global webhook and its team's. Failures are logged, never retried (the page
/// shows the state anyway).
pub async fn send(http: &reqwest::Client, config: &Config, messages: &[Message]) -> usize {
    let mut sent = 0;
    for m in messages {
        let mut targets: Vec<&str> = config.health.webhook_url.iter().map(|s| s.expose()).collect();
        if let Some(team) = &m.team {
            targets.extend(config.health.team_webhooks.iter().filter(|(t, _)| t == team).map(|(_, u)| u.expose()));
        }
        for url in targets {
            match http.post(url).json(&json!({ "text": m.text })).send().await {
                Ok(r) if r.status().is_success() => sent += 1,
                Ok(r) => tracing::warn!(status = r.status().as_u16(), "a health notification was refused"),
                // The URL holds a secret: never log it.
                Err(e) => tracing::warn!(timeout = e.is_timeout(), "a health notification could not be sent"),
            }
        }
    }
    sent
}

/// Claims state changes not yet notified and builds their messages (changes inside maintenance windows and to
/// or from `unknown` stay quiet).
pub async fn claim_changes(
    db: &DatabaseConnection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<Message>, DbErr> {
    let ids: Vec<i64> = state_changes::Entity::find()
        .select_only()
        .column(state_changes::Column::Id)
        .filter(state_changes::Column::NotifiedAt.is_null())
        .order_by_asc(state_changes::Column::Id)
        .limit(500)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Mark with a time no other replica uses, then read back what this one won.
    let mark = now + Duration::microseconds(i64::from(rand::random::<u16>()));
    state_changes::Entity::update_many()
        .col_expr(state_changes::Column::NotifiedAt, Expr::value(mark))
        .filter(state_changes::Column::Id.is_in(ids.clone()))
        .filter(state_changes::Column::NotifiedAt.is_null())
        .exec(db)
        .await?;
    let won = state_changes::Entity::find()
        .filter(state_changes::Column::Id.is_in(ids))
        .filter(state_changes::Column::NotifiedAt.eq(mark))
        .order_by_asc(state_changes::Column::Id)
        .all(db)
        .await?;
    let check_ids: Vec<i64> = won.iter().map(|c| c.check_id).collect();
    let checks: HashMap<i64, checks::Model> = checks::Entity::find()
        .filter(checks::Column::Id.is_in(check_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let owners = owners(db, checks.values().map(|c| c.component_ref.clone()).collect()).await?;
    let windows = super::maintenance::Entity::find()
        .filter(super::maintenance::Column::EndsAt.gt(now - Duration::days(1)))
        .all(db)
        .await?;
    Ok(won
        .iter()
        .filter(|ch| ch.from_state != "unknown" && ch.to_state != "unknown")
        .filter_map(|ch| {
            let c = checks.get(&ch.check_id)?;
            let quiet = windows.iter().any(|w| {
                w.component_ref == c.component_ref
                    && w.environment.as_deref().is_none_or(|e| e == c.environment)
                    && w.starts_at <= ch.at
                    && ch.at < w.ends_at
            });
            (!quiet).then(|| Message { team: owners.get(&c.component_ref).cloned(), text: change_text(config, c, ch) })
        })
        .collect())
}

async fn owners(db: &DatabaseConnection, refs: Vec<String>) -> Result<HashMap<String, String>, DbErr> {
    if refs.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, Option<String>)> = entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .column(entities::Column::OwnerRef)
        .filter(entities::Column::EntityRef.is_in(refs))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(|(r, o)| o.map(|o| (r, o))).collect())
}

/// Checks the burn-rate alerts of production checks that saw a down slot in the last 6 hours (or still carry a
/// firing alert), and builds a message for each rule that starts firing. The rule stored on the check keeps one
/// message per episode.
pub async fn burn_alerts(db: &DatabaseConnection, config: &Config, now: DateTime<Utc>) -> Result<Vec<Message>, DbErr> {
    let production: Vec<&str> = config.production_environments().collect();
    let candidates = checks::Entity::find()
        .filter(checks::Column::Environment.is_in(production))
        .filter(checks::Column::Enabled.eq(true))
        .all(db)
        .await?;
    let mut out = Vec::new();
    let owners = owners(db, candidates.iter().map(|c| c.component_ref.clone()).collect()).await?;
    for c in candidates {
        let recent_failures = c.state == "down"
            || c.burn_alert.is_some()
            || super::results::Entity::find()
                .select_only()
                .column(super::results::Column::Id)
                .filter(super::results::Column::CheckId.eq(c.id))
                .filter(super::results::Column::At.gte((now - Duration::hours(6)).timestamp_millis()))
                .filter(super::results::Column::Counted.eq("down"))
                .into_tuple::<i64>()
                .one(db)
                .await?
                .is_some();
        if !recent_failures {
            continue;
        }
        let mut firing = None;
        for rule in burn_rules() {
            let (long, _) = window(db, config, &[c.id], now - rule.long, now, now).await?;
            let (short, _) = window(db, config, &[c.id], now - rule.short, now, now).await?;
            let (l, s) = (maths::burn_rate(&long, c.slo_objective), maths::burn_rate(&short, c.slo_objective));
            if maths::fires(&rule, l, s) {
                firing = Some((rule, l.unwrap_or(0.0)));
                break;
            }
        }
        let name = firing.map(|(r, _)| format!("{} {}x", r.severity, r.factor));
        if name == c.burn_alert {
            continue;
        }
        checks::Entity::update_many()
            .col_expr(checks::Column::BurnAlert, Expr::value(name.clone()))
            .filter(checks::Column::Id.eq(c.id))
            .exec(db)
            .await?;
        if let Some((rule, burn)) = firing {
            out.push(Message {
                team: owners.get(&c.component_ref).cloned(),
                text: format!(
                    ":fire: {} in {} is burning its {}% error budget {:.1}x too fast ({}: more than {}x over the last {} h and {} min)",
                    entity_link(config, &c.component_ref),
                    c.environment,
                    c.slo_objective,
                    burn,
                    rule.severity,
                    rule.factor,
                    rule.long.num_hours(),
                    rule.short.num_minutes()
                ),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_link_the_entity_and_say_what_changed() {
        let config = Config::for_database("sqlite::memory:");
        let now = Utc::now();
        let c = checks::Model {
            id: 1,
            component_ref: "component:default/payments-api".into(),
            environment: "production".into(),
            name: "health-url".into(),
            source: "annotation".into(),
            target: "https://pay.example/health".into(),
            interval_ms: 30_000,
            expect_status: "200-399".into(),
            expect_body: None,
            degraded_ms: None,
            slo_objective: 99.9,
            enabled: true,
            state: "down".into(),
            state_since: now,
            fail_streak: 2,
            ok_streak: 0,
            next_due_at: now,
            lease_until: None,
            lease_owner: None,
            last_checked_at: None,
            last_latency_ms: None,
            last_status_code: Some(503),
            last_error: None,
            tls_expires_at: None,
            open_incident_id: None,
            burn_alert: None,
            created_at: now,
            updated_at: now,
        };
        let change = state_changes::Model {
            id: 1,
            check_id: 1,
            at: DateTime::parse_from_rfc3339("2026-12-04T03:00:00Z").unwrap().with_timezone(&Utc),
            from_state: "up".into(),
            to_state: "down".into(),
            reason: Some("status 503, expected 200-399".into()),
            notified_at: None,
        };
        let text = change_text(&config, &c, &change);
        assert!(text.starts_with(":red_circle: <http://127.0.0.1:3000/catalog/default/component/payments-api|payments-api> is down in production"), "{text}");
        assert!(text.contains("(status 503, expected 200-399)"));
        assert!(text.ends_with("at 2026-12-04 03:00:00 UTC"), "{text}");
        let back = state_changes::Model { from_state: "down".into(), to_state: "up".into(), reason: None, ..change };
        assert!(change_text(&config, &c, &back).contains("is back up in production"));
    }
}
