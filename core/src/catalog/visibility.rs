//! Which entities a person may see. Everyone signed in reads everything, unless `PORTOLAN_HIDDEN_NAMESPACES`
//! names namespaces to hide: their entities are then seen only by administrators and by the members of each
//! entity's owner. Hidden entities drop out of lists, search, facets, counts and graphs, their pages answer 404,
//! and relations pointing at them show as missing.

use std::collections::HashSet;

use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};

use portolan_types::Viewer;

use super::entity::entities;

/// What one viewer may see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Hidden namespaces (lower case); empty when nothing is hidden from this viewer.
    hidden: Vec<String>,
    /// The owners the viewer stands for: entities they own stay visible in hidden namespaces.
    owners: Vec<String>,
}

impl Visibility {
    /// Sees everything (administrators, tools, and every viewer when no namespace is hidden).
    pub fn everything() -> Visibility {
        Visibility::default()
    }

    /// Hides these namespaces except for entities owned by `owners`.
    pub fn hiding(namespaces: &[String], owners: Vec<String>) -> Visibility {
        Visibility { hidden: namespaces.iter().map(|n| n.to_lowercase()).collect(), owners }
    }

    /// Whether anything is hidden.
    pub fn restricts(&self) -> bool {
        !self.hidden.is_empty()
    }

    /// The condition a query adds, if any.
    pub fn condition(&self) -> Option<Condition> {
        if !self.restricts() {
            return None;
        }
        Some(
            Condition::any()
                .add(lower_namespace().is_not_in(self.hidden.iter().map(String::as_str)))
                .add(entities::Column::OwnerRef.is_in(self.owners.iter().map(String::as_str))),
        )
    }

    /// Whether entities in this namespace are hidden from the viewer unless they own them.
    pub fn hides_namespace(&self, namespace: &str) -> bool {
        self.hidden.iter().any(|h| h.eq_ignore_ascii_case(namespace))
    }

    /// Whether one row is visible.
    pub fn allows(&self, row: &entities::Model) -> bool {
        self.allows_parts(&row.namespace, row.owner_ref.as_deref())
    }

    /// Whether an entity of this namespace and owner is visible.
    pub fn allows_parts(&self, namespace: &str, owner: Option<&str>) -> bool {
        !self.hidden.iter().any(|h| h.eq_ignore_ascii_case(namespace))
            || owner.is_some_and(|o| self.owners.iter().any(|m| m.eq_ignore_ascii_case(o)))
    }

    /// The references of every entity hidden from this viewer (for filtering relations and graphs).
    pub async fn hidden_refs(&self, db: &DatabaseConnection) -> Result<HashSet<String>, DbErr> {
        if !self.restricts() {
            return Ok(HashSet::new());
        }
        let refs: Vec<(String, Option<String>)> = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .column(entities::Column::OwnerRef)
            .filter(lower_namespace().is_in(self.hidden.iter().map(String::as_str)))
            .into_tuple()
            .all(db)
            .await?;
        Ok(refs
            .into_iter()
            .filter(|(_, owner)| !owner.as_deref().is_some_and(|o| self.owners.iter().any(|m| m == o)))
            .map(|(r, _)| r)
            .collect())
    }
}

fn lower_namespace() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, Func};
    Func::lower(Expr::col((entities::Entity, entities::Column::Namespace))).into()
}

/// What `viewer` may see under the configuration.
pub async fn for_viewer(db: &DatabaseConnection, config: &crate::Config, viewer: &Viewer) -> Result<Visibility, DbErr> {
    if config.hidden_namespaces.is_empty() || viewer.is_admin {
        return Ok(Visibility::everything());
    }
    let subject = crate::access::subject_for(db, viewer).await?;
    Ok(Visibility::hiding(&config.hidden_namespaces, subject.memberships))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_namespaces_show_only_to_their_owners() {
        let vis = Visibility::hiding(&["Secret".to_owned()], vec!["group:default/payments".to_owned()]);
        assert!(vis.allows_parts("default", Some("group:default/search")));
        assert!(vis.allows_parts("secret", Some("group:default/payments")), "owned by the viewer's group");
        assert!(!vis.allows_parts("secret", Some("group:default/search")));
        assert!(!vis.allows_parts("SECRET", None));
        assert!(Visibility::everything().allows_parts("secret", None));
        assert!(Visibility::everything().condition().is_none());
    }
}
