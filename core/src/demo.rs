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
