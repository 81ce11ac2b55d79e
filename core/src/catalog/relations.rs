//! Backstage's well-known relations, computed from an entity's spec in both directions.

use serde::{Deserialize, Serialize};

use super::model::{Entity, EntityRef};
use super::parse::reference_fields;

/// A relation type, named as Backstage names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RelationType {
    /// Owned by a group or user.
    OwnedBy,
    /// Owns an entity.
    OwnerOf,
    /// Part of a system, domain or component.
    PartOf,
    /// Has a part.
    HasPart,
    /// Depends on a component or resource.
    DependsOn,
    /// Is depended on.
    DependencyOf,
    /// Provides an API.
    ProvidesApi,
    /// An API provided by a component.
    ApiProvidedBy,
    /// Consumes an API.
    ConsumesApi,
    /// An API consumed by a component.
    ApiConsumedBy,
    /// Parent group of a group.
    ParentOf,
    /// Child group of a group.
    ChildOf,
    /// A user in a group.
    MemberOf,
    /// A group's member.
    HasMember,
}

impl RelationType {
    /// Every relation type, in display order.
    pub const ALL: [RelationType; 14] = [
        RelationType::OwnedBy,
        RelationType::OwnerOf,
        RelationType::PartOf,
        RelationType::HasPart,
        RelationType::DependsOn,
        RelationType::DependencyOf,
        RelationType::ProvidesApi,
        RelationType::ApiProvidedBy,
        RelationType::ConsumesApi,
        RelationType::ApiConsumedBy,
        RelationType::ParentOf,
        RelationType::ChildOf,
        RelationType::MemberOf,
        RelationType::HasMember,
    ];

    /// Backstage's name (`ownedBy`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RelationType::OwnedBy => "ownedBy",
            RelationType::OwnerOf => "ownerOf",
            RelationType::PartOf => "partOf",
            RelationType::HasPart => "hasPart",
            RelationType::DependsOn => "dependsOn",
            RelationType::DependencyOf => "dependencyOf",
            RelationType::ProvidesApi => "providesApi",
            RelationType::ApiProvidedBy => "apiProvidedBy",
            RelationType::ConsumesApi => "consumesApi",
            RelationType::ApiConsumedBy => "apiConsumedBy",
            RelationType::ParentOf => "parentOf",
            RelationType::ChildOf => "childOf",
            RelationType::MemberOf => "memberOf",
            RelationType::HasMember => "hasMember",
        }
    }

    /// Parses Backstage's name.
    pub fn parse(s: &str) -> Option<RelationType> {
        RelationType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The same relation seen from the other end.
    pub fn inverse(self) -> RelationType {
        match self {
            RelationType::OwnedBy => RelationType::OwnerOf,
            RelationType::OwnerOf => RelationType::OwnedBy,
            RelationType::PartOf => RelationType::HasPart,
            RelationType::HasPart => RelationType::PartOf,
            RelationType::DependsOn => RelationType::DependencyOf,
            RelationType::DependencyOf => RelationType::DependsOn,
            RelationType::ProvidesApi => RelationType::ApiProvidedBy,
            RelationType::ApiProvidedBy => RelationType::ProvidesApi,
            RelationType::ConsumesApi => RelationType::ApiConsumedBy,
            RelationType::ApiConsumedBy => RelationType::ConsumesApi,
            RelationType::ParentOf => RelationType::ChildOf,
            RelationType::ChildOf => RelationType::ParentOf,
            RelationType::MemberOf => RelationType::HasMember,
            RelationType::HasMember => RelationType::MemberOf,
        }
    }
}

/// One directed relation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relation {
    /// From.
    pub source: EntityRef,
    /// Which relation.
    pub kind: RelationType,
    /// To.
    pub target: EntityRef,
}

/// The relation a reference-valued spec field declares, seen from the declaring entity.
fn relation_for(field: &str) -> Option<RelationType> {
    Some(match field {
        "owner" => RelationType::OwnedBy,
        "system" | "domain" | "subcomponentOf" | "subdomainOf" => RelationType::PartOf,
        "providesApis" => RelationType::ProvidesApi,
        "consumesApis" => RelationType::ConsumesApi,
        "dependsOn" => RelationType::DependsOn,
        "dependencyOf" => RelationType::DependencyOf,
        "parent" => RelationType::ChildOf,
        "children" => RelationType::ParentOf,
        "members" => RelationType::HasMember,
        "memberOf" => RelationType::MemberOf,
        _ => return None,
    })
}

/// Every relation the entity's spec declares, in both directions, sorted and de-duplicated. References default
/// to the entity's own namespace and to each field's default kind; references that do not parse are skipped
/// (validation has already reported them).
pub fn relations_of(entity: &Entity) -> Vec<Relation> {
    let me = entity.entity_ref();
    let mut out = Vec::new();
    for (field, default_kind) in reference_fields(entity.kind) {
        let Some(kind) = relation_for(field) else { continue };
        for text in entity.spec_strings(field) {
            let Ok(target) = EntityRef::parse(&text, *default_kind, &entity.metadata.namespace) else { continue };
            out.push(Relation { source: me.clone(), kind, target: target.clone() });
            out.push(Relation { source: target, kind: kind.inverse(), target: me.clone() });
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse::parse_documents;

    fn entity(yaml: &str) -> Entity {
        parse_documents("t.yaml", yaml).remove(0).result.unwrap()
    }

    fn names(rels: &[Relation]) -> Vec<String> {
        rels.iter().map(|r| format!("{} {} {}", r.source, r.kind.as_str(), r.target)).collect()
    }

    #[test]
    fn a_component_declares_relations_both_ways() {
        let e = entity(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: svc}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n  system: shop\n  providesApis: [orders]\n  consumesApis: [api:billing/invoices]\n  dependsOn: [resource:db]\n",
        );
        let rels = names(&relations_of(&e));
        for expected in [
            "component:default/svc ownedBy group:default/team-a",
            "group:default/team-a ownerOf component:default/svc",
            "component:default/svc partOf system:default/shop",
            "system:default/shop hasPart component:default/svc",
            "component:default/svc providesApi api:default/orders",
            "api:default/orders apiProvidedBy component:default/svc",
            "component:default/svc consumesApi api:billing/invoices",
            "api:billing/invoices apiConsumedBy component:default/svc",
            "component:default/svc dependsOn resource:default/db",
            "resource:default/db dependencyOf component:default/svc",
        ] {
            assert!(rels.contains(&expected.to_owned()), "missing {expected} in {rels:#?}");
        }
        assert_eq!(rels.len(), 10);
    }

    #[test]
    fn subcomponents_and_subdomains_are_part_of_their_parent() {
        let c = entity(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: worker}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n  subcomponentOf: shop-api\n",
        );
        let rels = names(&relations_of(&c));
        assert!(rels.contains(&"component:default/worker partOf component:default/shop-api".to_owned()), "{rels:#?}");
        assert!(rels.contains(&"component:default/shop-api hasPart component:default/worker".to_owned()));
        let d = entity(
            "apiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata: {name: cards, namespace: pay}\nspec:\n  owner: team-a\n  subdomainOf: payments\n",
        );
        let rels = names(&relations_of(&d));
        assert!(rels.contains(&"domain:pay/cards partOf domain:pay/payments".to_owned()), "{rels:#?}");
        assert!(rels.contains(&"domain:pay/payments hasPart domain:pay/cards".to_owned()));
    }

    #[test]
    fn groups_and_users_and_namespace_inheritance() {
        let g = entity(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a, namespace: payments}\nspec:\n  type: team\n  parent: dept\n  children: [default/squad]\n  members: [jdoe]\n",
        );
        let rels = names(&relations_of(&g));
        assert!(rels.contains(&"group:payments/team-a childOf group:payments/dept".to_owned()), "{rels:#?}");
        assert!(rels.contains(&"group:payments/dept parentOf group:payments/team-a".to_owned()));
        assert!(rels.contains(&"group:payments/team-a parentOf group:default/squad".to_owned()));
        assert!(rels.contains(&"group:payments/team-a hasMember user:payments/jdoe".to_owned()));
        assert!(rels.contains(&"user:payments/jdoe memberOf group:payments/team-a".to_owned()));
        let u = entity(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: JDoe}\nspec: {memberOf: [Team-A]}\n",
        );
        assert_eq!(
            names(&relations_of(&u)),
            ["group:default/team-a hasMember user:default/jdoe", "user:default/jdoe memberOf group:default/team-a"]
        );
    }

    #[test]
    fn owners_may_be_users_and_inverse_is_symmetric() {
        let e = entity(
            "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: s}\nspec: {owner: 'user:jdoe', domain: shop}\n",
        );
        let rels = names(&relations_of(&e));
        assert!(rels.contains(&"system:default/s ownedBy user:default/jdoe".to_owned()), "{rels:#?}");
        assert!(rels.contains(&"domain:default/shop hasPart system:default/s".to_owned()));
        for t in RelationType::ALL {
            assert_eq!(t.inverse().inverse(), t);
            assert_eq!(RelationType::parse(t.as_str()), Some(t));
        }
    }
}
