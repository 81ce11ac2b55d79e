//! Batching the costly part of deployment ingestion.
//!
//! Every report recomputes the changes of its whole component (see [`super::recompute_changes`]) and a GitHub
//! deployment walks the component's pushes; both read all of the component's deployments. Done once per webhook
//! delivery, a busy component makes the queue crawl. The webhook worker therefore handles a batch of deliveries
//! inside [`deferring`]: while it runs, those two steps only note the component, and [`Deferred::run`] does each
//! once at the end of the batch. The worker marks the batch's deliveries done only after that, so a crash in
//! between leaves them `processing`, and they are handled again on restart (every step is idempotent).
//!
//! Outside a [`deferring`] scope (the CD API, a sync, tests) nothing is deferred.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use chrono::{DateTime, Utc};
use sea_orm::DbErr;

use crate::AppState;

/// Work a batch left for its end.
#[derive(Debug, Default)]
pub struct Deferred {
    /// (repository, component) → the earliest deployment time whose commits should be learned from pushes.
    learn: BTreeMap<(String, String), DateTime<Utc>>,
    /// Components whose changes must be recomputed.
    recompute: BTreeSet<String>,
}

tokio::task_local! {
    static DEFERRED: RefCell<Deferred>;
}

/// Runs `work` with the recomputes and push walks it asks for deferred; returns its output and what it deferred.
pub async fn deferring<F: Future>(work: F) -> (F::Output, Deferred) {
    DEFERRED
        .scope(RefCell::new(Deferred::default()), async move {
            let out = work.await;
            let deferred = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
            (out, deferred)
        })
        .await
}

/// Notes that `component_ref`'s changes need recomputing; `false` when nothing is being deferred (do it now).
pub(crate) fn defer_recompute(component_ref: &str) -> bool {
    DEFERRED
        .try_with(|d| {
            d.borrow_mut().recompute.insert(component_ref.to_owned());
        })
        .is_ok()
}

/// Notes that the pushes of `repo` should teach `component_ref`'s deployments made at or after `since` their
/// commits; `false` when nothing is being deferred (do it now).
pub(crate) fn defer_learning(repo: &str, component_ref: &str, since: DateTime<Utc>) -> bool {
    DEFERRED
        .try_with(|d| {
            let mut d = d.borrow_mut();
            let earliest = d.learn.entry((repo.to_lowercase(), component_ref.to_owned())).or_insert(since);
            *earliest = (*earliest).min(since);
        })
        .is_ok()
}

impl Deferred {
    /// Components touched.
    pub fn components(&self) -> usize {
        let mut all: BTreeSet<&str> = self.recompute.iter().map(String::as_str).collect();
        all.extend(self.learn.keys().map(|(_, c)| c.as_str()));
        all.len()
    }

    /// Does the deferred work: first the push walks (they add commits), then each component's recompute once,
    /// each in its own transaction.
    pub async fn run(self, state: &AppState) -> Result<(), DbErr> {
        let Deferred { learn, mut recompute } = self;
        let (learned, more) = deferring(async {
            for ((repo, component), since) in &learn {
                super::pushes::learn_for_component(state, repo, component, *since).await?;
            }
            Ok::<_, DbErr>(())
        })
        .await;
        learned?;
        recompute.extend(more.recompute);
        for component in &recompute {
            let txn = crate::db::begin_write(&state.db).await?;
            super::recompute_changes(&txn, &state.config, component).await?;
            txn.commit().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[tokio::test]
    async fn nothing_is_deferred_outside_a_batch() {
        assert!(!defer_recompute("component:default/a"));
        assert!(!defer_learning("acme/a", "component:default/a", t("2026-11-01T00:00:00Z")));
    }

    #[tokio::test]
    async fn a_batch_keeps_each_component_once_and_the_earliest_time() {
        let ((), d) = deferring(async {
            assert!(defer_recompute("component:default/a"));
            assert!(defer_recompute("component:default/a"));
            assert!(defer_recompute("component:default/b"));
            assert!(defer_learning("Acme/A", "component:default/a", t("2026-11-03T00:00:00Z")));
            assert!(defer_learning("acme/a", "component:default/a", t("2026-11-01T00:00:00Z")));
            assert!(defer_learning("acme/a", "component:default/a", t("2026-11-02T00:00:00Z")));
        })
        .await;
        assert_eq!(d.recompute.len(), 2);
        assert_eq!(d.components(), 2);
        assert_eq!(
            d.learn.into_iter().collect::<Vec<_>>(),
            [(("acme/a".to_owned(), "component:default/a".to_owned()), t("2026-11-01T00:00:00Z"))]
        );
        // The scope ended: nothing is deferred any more.
        assert!(!defer_recompute("component:default/a"));
    }
}
