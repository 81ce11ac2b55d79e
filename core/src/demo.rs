//! Demo data for a first local look (`PORTOLAN_DEMO=true`, set by the README's run command): the local
//! administrator belongs to two example teams. Loading is idempotent.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::auth::entity::{team_members, teams};

const DEMO_TEAMS: [(&str, &str, &str); 2] = [("demo", "platform", "Platform"), ("demo", "payments", "Payments")];

/// Loads the demo data unless it is already there.
pub async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    let admin = crate::auth::ensure_local_admin(db).await?;
    for (org, slug, name) in DEMO_TEAMS {
        let team = match teams::Entity::find()
            .filter(teams::Column::Org.eq(org))
            .filter(teams::Column::Slug.eq(slug))
            .one(db)
            .await?
        {
            Some(t) => t,
            None => {
                let now = Utc::now();
                teams::ActiveModel {
                    org: Set(org.to_owned()),
                    slug: Set(slug.to_owned()),
                    name: Set(name.to_owned()),
                    github_id: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(db)
                .await?
            }
        };
        if team_members::Entity::find_by_id((team.id, admin.id)).one(db).await?.is_none() {
            team_members::ActiveModel { team_id: Set(team.id), user_id: Set(admin.id) }.insert(db).await?;
        }
    }
    Ok(())
}

/// Demo deployments for the example catalog's services (when there are none yet): eight weeks of staging
/// deployments promoted to production, with pull requests, a few pipeline failures, incidents and one rollback,
/// so the deploys and DORA pages have something to show.
pub async fn seed_deploys(db: &DatabaseConnection, config: &crate::Config) -> Result<(), crate::deploys::DeployError> {
    use crate::deploys::{self, deployments};
    use portolan_types::deploys::{CommitInput, DeploymentInput, IncidentInput};
    use sea_orm::PaginatorTrait;

    if deployments::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let staging = config
        .environments
        .iter()
        .find(|e| e.name == "staging")
        .or_else(|| config.environments.iter().find(|e| !e.production))
        .map(|e| e.name.clone());
    let Some(production) = config.environments.iter().find(|e| e.production).map(|e| e.name.clone()) else {
        return Ok(());
    };
    let now = Utc::now();
    let t = |minutes_ago: i64| crate::deploys::rfc3339(now - chrono::Duration::minutes(minutes_ago));
    for (n, component) in ["payments-api", "storefront", "fraud-scorer", "portolan"].into_iter().enumerate() {
        if deploys::resolve_component(db, component).await.is_err() {
            continue;
        }
        // A small deterministic generator, different per component.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut minutes_ago: i64 = 56 * 24 * 60;
        let mut release = 0;
        let mut commit = 0u64;
        let mut previous_production: Option<String> = None;
        while minutes_ago > 120 {
            release += 1;
            let commits: Vec<CommitInput> = (0..1 + next(4))
                .map(|_| {
                    commit += 1;
                    let age = (60 + next(48 * 60)) as i64;
                    CommitInput {
                        sha: format!("{:x}{:07x}", n + 10, commit * 2_654_435 % 0xfff_ffff),
                        committed_at: Some(t(minutes_ago + age)),
                        pr_number: Some(100 + commit as i32),
                        pr_first_commit_at: Some(t(minutes_ago + age + (next(3 * 24 * 60)) as i64)),
                    }
                })
                .collect();
            let sha = commits.last().map(|c| c.sha.clone()).unwrap_or_default();
            let version = format!("v1.{}.{}", release / 10, release % 10);
            let actor = if next(2) == 0 { "argocd" } else { "github-actions" };
            let promote = minutes_ago - 60 - next(6 * 60) as i64;
            let recovery = next(120) as i64;
            let base = |env: &str, id: String, status: &str, start: i64, minutes: i64| DeploymentInput {
                component: component.to_owned(),
                environment: env.to_owned(),
                status: status.to_owned(),
                external_id: id,
                version: Some(version.clone()),
                commit_sha: Some(sha.clone()),
                started_at: Some(t(start)),
                finished_at: Some(t(start - minutes)),
                url: None,
                actor: Some(actor.to_owned()),
                commits: None,
                rollback_of: None,
                fixes: None,
            };
            let mut reports = Vec::new();
            if let Some(env) = &staging {
                let mut d = base(env, format!("demo-{component}-{release}-staging"), "success", minutes_ago, 6);
                d.commits = Some(commits.clone());
                reports.push(d);
            }
            if release % 7 == 3 {
                reports.push(base(
                    &production,
                    format!("demo-{component}-{release}-failed"),
                    "failure",
                    promote + 30,
                    4,
                ));
            }
            // The latest release is still on its way: staging runs ahead of production.
            let last = minutes_ago < 30 * 60 && staging.is_some();
            let prod_id = format!("demo-{component}-{release}-production");
            let mut prod = base(&production, prod_id.clone(), "success", promote, 8);
            if staging.is_none() {
                prod.commits = Some(commits.clone());
            }
            if !last {
                reports.push(prod);
            }
            for r in reports {
                let valid = deploys::validate_deployment(db, config, &r).await?;
                deploys::record_deployment(db, config, valid, "demo").await?;
            }
            if release % 9 == 4 {
                let incident = IncidentInput {
                    component: component.to_owned(),
                    environment: production.clone(),
                    title: "Error rate above 5% after release".to_owned(),
                    severity: "high".to_owned(),
                    started_at: t(promote - 40),
                    resolved_at: Some(t(promote - 40 - 30 - recovery)),
                    external_id: format!("demo-{component}-{release}-incident"),
                    deployment: None,
                };
                let valid = deploys::validate_incident(db, config, &incident).await?;
                deploys::record_incident(db, valid, "demo").await?;
            }
            if release == 12
                && let Some(prev) = &previous_production
            {
                let mut back =
                    base(&production, format!("demo-{component}-{release}-rollback"), "success", promote - 50, 5);
                back.commit_sha = Some(prev.clone());
                back.version = Some(format!("{version}-rollback"));
                back.rollback_of = Some(prod_id.clone());
                let valid = deploys::validate_deployment(db, config, &back).await?;
                deploys::record_deployment(db, config, valid, "demo").await?;
            } else {
                previous_production = Some(sha.clone());
            }
            minutes_ago -= (12 * 60 + next(36 * 60)) as i64;
        }
    }
    Ok(())
}

/// Demo cost for the example catalog's services (when none is imported yet): the three months before this one
/// and this month so far, generated as CUR files (reservations, savings plans, credits, tax, untagged lines) and
/// imported through the same path as real files, so the cost pages and every service's cost section have data.
pub async fn seed_cost(db: &DatabaseConnection, config: &crate::Config) -> Result<(), crate::cost::CostError> {
    use crate::cost::{formats::Format, generate, import};
    use sea_orm::PaginatorTrait;

    if crate::cost::entity::cost_periods::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let today = Utc::now().date_naive();
    let this_month = crate::cost::query::month_bounds(today).0;
    let dir = std::env::temp_dir().join(format!("portolan-demo-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::cost::CostError::File {
        file: dir.display().to_string(),
        line: 0,
        column: None,
        message: e.to_string(),
    })?;
    let mut sources = Vec::new();
    let mut month = this_month;
    for i in 0..4u32 {
        let next = crate::cost::query::month_bounds(month).1;
        let days = if i == 0 { (today - month).num_days() + 1 } else { (next - month).num_days() };
        let spec = generate::Spec {
            seed: 2026 + u64::from(i),
            lines: 400 * usize::try_from(days).unwrap_or(30),
            period_start: month,
            days: u32::try_from(days).unwrap_or(28),
            account: "111122223333".to_owned(),
            currency: "USD".to_owned(),
            components: vec![
                ("payments-api".to_owned(), "payments".to_owned()),
                ("storefront".to_owned(), "payments".to_owned()),
                ("fraud-scorer".to_owned(), "platform".to_owned()),
                ("portolan".to_owned(), "platform".to_owned()),
            ],
        };
        let path = dir.join(format!("demo-cur-{}.csv", month.format("%Y-%m")));
        let written = std::fs::File::create(&path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            generate::write(Format::Cur, &spec, &mut w)?;
            std::io::Write::flush(&mut w)
        });
        written.map_err(|e| crate::cost::CostError::File {
            file: path.display().to_string(),
            line: 0,
            column: None,
            message: e.to_string(),
        })?;
        sources.push(import::Source { name: format!("demo-cur-{}.csv", month.format("%Y-%m")), path });
        month = crate::cost::query::month_bounds(month.pred_opt().unwrap_or(month)).0;
    }
    let result = import::import(db, config, sources, "demo", None).await;
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|_| ())
}
