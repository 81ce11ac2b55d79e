//! Allocation rules: which tag keys name the component, team and environment, which accounts belong to which team,
//! which Kubernetes namespaces belong to which component, and which costs are shared. A tag set lands in exactly
//! one of: a component, shared, or unallocated (with the reason). Rules apply in order: shared rules first (the
//! first that matches wins), then the component tags in their order, then the namespace rules.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The rules, as stored (JSON) and edited through `GET/PUT /api/v1/cost/rules`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Tag keys naming the component, first match wins.
    pub component_tags: Vec<String>,
    /// Tag keys naming the owning team.
    pub team_tags: Vec<String>,
    /// Tag keys naming the environment.
    pub environment_tags: Vec<String>,
    /// Environment values that mean a configured environment (`prod` → `production`).
    pub environment_aliases: BTreeMap<String, String>,
    /// Accounts that belong to a team.
    pub accounts: Vec<AccountRule>,
    /// Kubernetes namespaces that belong to a component.
    pub namespaces: Vec<NamespaceRule>,
    /// Costs shared by everyone.
    pub shared: Vec<SharedRule>,
}

/// Everything charged to `account` belongs to `team` (unless a team tag says otherwise).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRule {
    /// Usage or billing account id.
    pub account: String,
    /// Team (`group:default/payments` or `payments`).
    pub team: String,
}

/// Lines tagged with this Kubernetes namespace belong to `component`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceRule {
    /// Namespace (the value of a `namespace`, `kubernetes_namespace` or `k8s_namespace` tag).
    pub namespace: String,
    /// Component (`component:default/payments-api` or `payments-api`).
    pub component: String,
}

/// Lines matching every given condition are shared costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedRule {
    /// A name shown as the reason.
    pub name: String,
    /// `key=value` a tag must have.
    #[serde(default)]
    pub tag: Option<String>,
    /// Account.
    #[serde(default)]
    pub account: Option<String>,
    /// How it is split among components in a component's view: `even` or `proportional` (to direct cost).
    #[serde(default = "even")]
    pub split: String,
}

fn even() -> String {
    "even".to_owned()
}

impl Default for Rules {
    fn default() -> Self {
        let aliases = [
            ("prod", "production"),
            ("prd", "production"),
            ("live", "production"),
            ("stage", "staging"),
            ("stg", "staging"),
            ("dev", "development"),
            ("develop", "development"),
        ];
        Rules {
            component_tags: vec!["service".into(), "component".into(), "app".into()],
            team_tags: vec!["team".into(), "owner".into()],
            environment_tags: vec!["env".into(), "environment".into(), "stage".into()],
            environment_aliases: aliases.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect(),
            accounts: Vec::new(),
            namespaces: Vec::new(),
            shared: Vec::new(),
        }
    }
}

/// What the catalog contributes to allocation: its components by name and by reference.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Lower-case `component:namespace/name` refs.
    pub components: std::collections::HashSet<String>,
}

/// Where a tag set landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// `component`, `shared` or `unallocated`.
    pub allocation: &'static str,
    /// The component.
    pub component_ref: Option<String>,
    /// The team a tag or an account rule names.
    pub team_ref: Option<String>,
    /// The environment.
    pub environment: Option<String>,
    /// Which rule decided, or why nothing did.
    pub reason: String,
}

/// Why rules cannot be saved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct RulesError {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl Rules {
    /// Checks the rules before they are saved.
    pub fn validate(&self, environments: &[String]) -> Result<(), RulesError> {
        let err = |field: String, reason: &str| Err(RulesError { field, reason: reason.to_owned() });
        for (name, list) in [
            ("component_tags", &self.component_tags),
            ("team_tags", &self.team_tags),
            ("environment_tags", &self.environment_tags),
        ] {
            if list.iter().any(|k| k.trim().is_empty()) {
                return err(name.to_owned(), "a tag key is empty");
            }
        }
        for (alias, env) in &self.environment_aliases {
            if !environments.iter().any(|e| e == env) {
                return err(format!("environment_aliases.{alias}"), "is not a configured environment");
            }
        }
        for (i, s) in self.shared.iter().enumerate() {
            if s.tag.is_none() && s.account.is_none() {
                return err(format!("shared[{i}]"), "needs a tag or an account");
            }
            if s.tag.as_deref().is_some_and(|t| !t.contains('=')) {
                return err(format!("shared[{i}].tag"), "must be key=value");
            }
            if s.split != "even" && s.split != "proportional" {
                return err(format!("shared[{i}].split"), "must be even or proportional");
            }
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.account.trim().is_empty() || a.team.trim().is_empty() {
                return err(format!("accounts[{i}]"), "needs an account and a team");
            }
        }
        for (i, n) in self.namespaces.iter().enumerate() {
            if n.namespace.trim().is_empty() || n.component.trim().is_empty() {
                return err(format!("namespaces[{i}]"), "needs a namespace and a component");
            }
        }
        Ok(())
    }

    /// Allocates one tag set. `environments` are the configured environment names.
    pub fn allocate(
        &self,
        sub_account: &str,
        tags: &[(String, String)],
        catalog: &Catalog,
        environments: &[String],
    ) -> Allocation {
        let tag = |key: &str| {
            let key = key.trim().to_lowercase();
            tags.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
        };
        let first_tag = |keys: &[String]| keys.iter().find_map(|k| tag(k).map(|v| (k.clone(), v.to_owned())));
        let environment = first_tag(&self.environment_tags).and_then(|(_, v)| {
            let v = v.trim().to_lowercase();
            let v = self.environment_aliases.get(&v).cloned().unwrap_or(v);
            environments.contains(&v).then_some(v)
        });
        let team_ref = first_tag(&self.team_tags).map(|(_, v)| entity_ref("group", &v)).or_else(|| {
            self.accounts.iter().find(|a| a.account.trim() == sub_account).map(|a| entity_ref("group", &a.team))
        });
        let base =
            Allocation { allocation: "unallocated", component_ref: None, team_ref, environment, reason: String::new() };
        for rule in &self.shared {
            let tag_ok = rule.tag.as_deref().is_none_or(|t| {
                let (k, v) = t.split_once('=').unwrap_or((t, ""));
                tag(k).is_some_and(|have| have.trim().eq_ignore_ascii_case(v.trim()))
            });
            let account_ok = rule.account.as_deref().is_none_or(|a| a.trim() == sub_account);
            if tag_ok && account_ok {
                return Allocation { allocation: "shared", reason: format!("shared rule `{}`", rule.name), ..base };
            }
        }
        let mut missing = None;
        for key in &self.component_tags {
            if let Some(v) = tag(key) {
                let r = entity_ref("component", v);
                if catalog.components.contains(&r) {
                    return Allocation {
                        allocation: "component",
                        component_ref: Some(r),
                        reason: format!("tag `{key}`"),
                        ..base
                    };
                }
                missing.get_or_insert(format!("tag `{key}={v}` names no component in the catalog"));
            }
        }
        let namespace = ["namespace", "kubernetes_namespace", "k8s_namespace"].into_iter().find_map(tag);
        if let Some(ns) = namespace
            && let Some(rule) = self.namespaces.iter().find(|n| n.namespace.trim() == ns.trim())
        {
            let r = entity_ref("component", &rule.component);
            if catalog.components.contains(&r) {
                return Allocation {
                    allocation: "component",
                    component_ref: Some(r),
                    reason: format!("namespace `{ns}`"),
                    ..base
                };
            }
            missing.get_or_insert(format!("namespace rule names `{}`, which is not in the catalog", rule.component));
        }
        let reason = missing.unwrap_or_else(|| {
            if tags.is_empty() { "untagged".to_owned() } else { format!("no {} tag", self.component_tags.join("/")) }
        });
        Allocation { reason, ..base }
    }
}

/// `payments` → `group:default/payments`; `group:ops/x` and `ops/x` keep their namespace. Lower case.
pub fn entity_ref(default_kind: &str, value: &str) -> String {
    let v = value.trim().to_lowercase();
    let (kind, rest) = match v.split_once(':') {
        Some((k, r)) => (k.to_owned(), r.to_owned()),
        None => (default_kind.to_owned(), v),
    };
    let (ns, name) =
        rest.split_once('/').map_or(("default".to_owned(), rest.clone()), |(n, m)| (n.to_owned(), m.to_owned()));
    format!("{kind}:{ns}/{name}")
}

/// The name part of an entity ref: `group:default/payments` → `payments`.
pub fn short_name(entity_ref: &str) -> &str {
    entity_ref.rsplit('/').next().unwrap_or(entity_ref)
}

/// Environment names of the configuration.
pub fn environment_names(config: &crate::Config) -> Vec<String> {
    config.environments.iter().map(|e| e.name.clone()).collect()
}

/// Tags as the JSON object stored with a tag set.
pub fn tags_json(tags: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        tags.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}

/// Reads the stored tag JSON back.
pub fn tags_from_json(text: &str) -> Vec<(String, String)> {
    let map: HashMap<String, String> = serde_json::from_str(text).unwrap_or_default();
    let mut tags: Vec<(String, String)> = map.into_iter().collect();
    tags.sort();
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        v.sort();
        v
    }

    fn catalog() -> Catalog {
        Catalog {
            components: ["component:default/payments-api", "component:default/storefront"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    fn envs() -> Vec<String> {
        ["development", "staging", "production"].iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn tags_name_the_component_team_and_environment() {
        let rules = Rules::default();
        let a = rules.allocate(
            "123",
            &t(&[("app", "Payments-API"), ("team", "payments"), ("env", "prod")]),
            &catalog(),
            &envs(),
        );
        assert_eq!(a.allocation, "component");
        assert_eq!(a.component_ref.as_deref(), Some("component:default/payments-api"));
        assert_eq!(a.team_ref.as_deref(), Some("group:default/payments"));
        assert_eq!(a.environment.as_deref(), Some("production"));
        assert_eq!(a.reason, "tag `app`");
        // An unknown environment is not invented.
        let a = rules.allocate("123", &t(&[("service", "storefront"), ("stage", "qa")]), &catalog(), &envs());
        assert_eq!(a.environment, None);
        assert_eq!(a.component_ref.as_deref(), Some("component:default/storefront"));
    }

    #[test]
    fn what_no_rule_places_is_unallocated_with_the_reason() {
        let rules = Rules::default();
        let a = rules.allocate("123", &[], &catalog(), &envs());
        assert_eq!((a.allocation, a.reason.as_str()), ("unallocated", "untagged"));
        let a = rules.allocate("123", &t(&[("service", "ghost")]), &catalog(), &envs());
        assert_eq!(a.allocation, "unallocated");
        assert!(a.reason.contains("service=ghost"), "{}", a.reason);
        let a = rules.allocate("123", &t(&[("cost-center", "42")]), &catalog(), &envs());
        assert_eq!(a.reason, "no service/component/app tag");
    }

    #[test]
    fn shared_account_and_namespace_rules_apply_in_order() {
        let rules = Rules {
            accounts: vec![AccountRule { account: "999".into(), team: "platform".into() }],
            namespaces: vec![NamespaceRule { namespace: "shop".into(), component: "storefront".into() }],
            shared: vec![SharedRule {
                name: "network".into(),
                tag: Some("shared=true".into()),
                account: None,
                split: "proportional".into(),
            }],
            ..Rules::default()
        };
        let a = rules.allocate("999", &t(&[("shared", "TRUE"), ("service", "storefront")]), &catalog(), &envs());
        assert_eq!((a.allocation, a.reason.as_str()), ("shared", "shared rule `network`"));
        assert_eq!(a.team_ref.as_deref(), Some("group:default/platform"));
        let a = rules.allocate("1", &t(&[("kubernetes_namespace", "shop")]), &catalog(), &envs());
        assert_eq!(a.component_ref.as_deref(), Some("component:default/storefront"));
        assert!(rules.validate(&envs()).is_ok());
        let mut bad = rules.clone();
        bad.shared[0].split = "random".into();
        assert_eq!(bad.validate(&envs()).unwrap_err().field, "shared[0].split");
        let mut bad = rules;
        bad.environment_aliases.insert("p".into(), "prod-mars".into());
        assert_eq!(bad.validate(&envs()).unwrap_err().field, "environment_aliases.p");
    }

    #[test]
    fn references_get_their_default_kind_and_namespace() {
        assert_eq!(entity_ref("group", "Payments"), "group:default/payments");
        assert_eq!(entity_ref("group", "ops/sre"), "group:ops/sre");
        assert_eq!(entity_ref("component", "component:shop/cart"), "component:shop/cart");
    }
}
