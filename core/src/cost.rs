//! Cost: billing files (FOCUS, AWS CUR legacy and CUR 2.0) imported in bounded memory into daily sums per tag
//! set, tag sets allocated to a component, shared or unallocated by ordered rules, and reports in fixed-point
//! decimal, one currency at a time.

pub mod anomalies;
pub mod budgets;
pub mod entity;
pub mod formats;
pub mod generate;
pub mod import;
pub mod money;
pub mod opencost;
mod parquet_rows;
pub mod query;
pub mod rules;
mod spill;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};

use entity::cost_rules;
pub use money::Amount;
pub use rules::Rules;

/// Why a cost operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// A file could not be read; nothing was changed.
    #[error("{file}{}{}: {message}", if *.line > 0 { format!(": line {line}") } else { String::new() }, column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default())]
    File {
        /// The file as named by the caller.
        file: String,
        /// 1-based line of a CSV file (0 when the whole file is at fault, and for a Parquet file, whose errors
        /// say `row N, column C` in the message: N is the 1-based data row, `line N+1` in CSV's counting).
        line: u64,
        /// Column name.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A request field is wrong.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Someone saved since the edit began; nothing was saved.
    #[error("the rules were saved {current} since you opened them")]
    Conflict {
        /// The version now stored.
        current: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// An import's scratch file (where its daily sums wait, sorted, while a big file is read) failed.
    #[error("the import's scratch file: {0}")]
    Scratch(#[source] std::io::Error),
}

/// The allocation rules in force: as last saved, else the defaults.
pub async fn load_rules(db: &DatabaseConnection) -> Result<Rules, CostError> {
    match cost_rules::Entity::find_by_id(1).one(db).await? {
        Some(row) => serde_json::from_str(&row.body)
            .map_err(|e| CostError::Db(DbErr::Custom(format!("the stored cost rules do not parse: {e}")))),
        None => Ok(Rules::default()),
    }
}

/// The rules as an editor shows them: YAML text, and the version it was read at (who saved it and when, empty
/// for the defaults), which a save from the editor must still match.
pub async fn rules_for_editing(db: &DatabaseConnection) -> Result<(String, String), CostError> {
    let rules = load_rules(db).await?;
    let version = rules_version(db).await?;
    Ok((rules_to_yaml(&rules), version))
}

/// The version of the stored rules: `<updated_at> by <login>`, or empty while the defaults are in force.
pub async fn rules_version(db: &DatabaseConnection) -> Result<String, CostError> {
    Ok(cost_rules::Entity::find_by_id(1)
        .one(db)
        .await?
        .map(|row| {
            format!("{} by {}", row.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), row.updated_by)
        })
        .unwrap_or_default())
}

/// The rules as YAML, the editor's text.
pub fn rules_to_yaml(rules: &Rules) -> String {
    serde_yaml_ng::to_string(rules).unwrap_or_default()
}

/// Reads an editor's text (YAML, so JSON too); a mistake names its line and column, or the field and the rule.
pub fn rules_from_yaml(text: &str) -> Result<Rules, CostError> {
    serde_yaml_ng::from_str::<Rules>(text).map_err(|e| {
        let reason = e.to_string();
        match e.location() {
            Some(l) => CostError::Invalid {
                field: format!("line {}, column {}", l.line(), l.column()),
                reason: reason.split(" at line ").next().unwrap_or(&reason).to_owned(),
            },
            None => CostError::Invalid { field: "rules".into(), reason },
        }
    })
}

/// Saves rules edited from `base` (see [`rules_version`]). When someone saved in between, nothing is saved and the
/// answer is [`CostError::Conflict`] naming who and when. Returns how many tag sets moved.
pub async fn save_rules_from(
    db: &DatabaseConnection,
    config: &crate::Config,
    rules: &Rules,
    base: &str,
    by: &str,
) -> Result<u64, CostError> {
    let current = rules_version(db).await?;
    if current != base {
        return Err(CostError::Conflict { current });
    }
    save_rules(db, config, rules, by).await
}

/// Saves new rules and applies them to every imported cost. Returns how many tag sets moved.
pub async fn save_rules(
    db: &DatabaseConnection,
    config: &crate::Config,
    rules: &Rules,
    by: &str,
) -> Result<u64, CostError> {
    rules
        .validate(&rules::environment_names(config))
        .map_err(|e| CostError::Invalid { field: e.field, reason: e.reason })?;
    let row = cost_rules::ActiveModel {
        id: Set(1),
        body: Set(serde_json::to_string(rules).unwrap_or_default()),
        updated_by: Set(by.to_owned()),
        updated_at: Set(Utc::now()),
    };
    cost_rules::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(cost_rules::Column::Id)
                .update_columns([
                    cost_rules::Column::Body,
                    cost_rules::Column::UpdatedBy,
                    cost_rules::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    import::reallocate(db, config, rules).await
}
