//! `/settings/access`: who may do what, on one page. Everyone sees the actions and who holds them, and can ask
//! "may I do X to this entity, and why?"; administrators also see every granted rule, grant new ones, revoke
//! them, and ask the same question for anyone. Works without JavaScript as plain forms.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use portolan_types::Viewer;
use portolan_types::access::{ActionInfo, Explanation, RuleView};
use serde::{Deserialize, Serialize};

use crate::auth::RequireViewer;
use crate::error::{AppError, ErrorPage};
use crate::utc;

/// What the page shows before any question is asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessOverview {
    /// Every action, its scope and its holders.
    pub actions: Vec<ActionInfo>,
    /// Every granted rule; `None` when the viewer may not manage rules.
    pub rules: Option<Vec<RuleView>>,
}

/// The actions, and the rules for administrators.
#[server(prefix = "/fn", endpoint = "access_overview")]
pub async fn get_access_overview() -> Result<AccessOverview, AppError> {
    use portolan_core::access::{self, Action, Target};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let rules = if crate::ssr::allowed(&state, &viewer, Action::AccessAdmin, &Target::global()).await? {
        Some(access::rule_views(&state.db).await.map_err(|e| crate::ssr::internal("listing rules", e))?)
    } else {
        None
    };
    Ok(AccessOverview { actions: access::action_infos(), rules })
}

/// For a person (default: the viewer) and an entity (default: none), every action allowed or refused, and why.
#[server(prefix = "/fn", endpoint = "access_explain")]
pub async fn explain_access(login: Option<String>, entity: Option<String>) -> Result<Explanation, AppError> {
    use portolan_core::access::ExplainError;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::access::explain(&state.db, &state.config, &viewer, login.as_deref(), entity.as_deref())
        .await
        .map_err(|e| match e {
            ExplainError::Forbidden(d) => AppError::Forbidden(format!("{} ({})", d.action, d.reason)),
            ExplainError::NotFound(m) => AppError::Invalid(m),
            ExplainError::Invalid(m) => AppError::Invalid(m),
            ExplainError::Db(e) => crate::ssr::internal("explaining decisions", e),
        })
}

/// Grants a rule (administrators).
#[server(prefix = "/fn", endpoint = "access_grant")]
pub async fn grant_rule(
    subject: String,
    action: String,
    scope_type: String,
    scope_value: Option<String>,
) -> Result<RuleView, AppError> {
    use portolan_core::access::{self, Action, RuleError, Target};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    crate::ssr::authorize(&state, &viewer, Action::AccessAdmin, &Target::global()).await?;
    access::grant_rule(&state.db, &viewer.login, &subject, &action, &scope_type, scope_value.as_deref()).await.map_err(
        |e| match e {
            RuleError::Invalid(m) => AppError::Invalid(m),
            RuleError::Db(e) => crate::ssr::internal("granting a rule", e),
        },
    )
}

/// Revokes a rule (administrators).
#[server(prefix = "/fn", endpoint = "access_revoke")]
pub async fn revoke_rule(id: i64) -> Result<(), AppError> {
    use portolan_core::access::{self, Action, Target};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    crate::ssr::authorize(&state, &viewer, Action::AccessAdmin, &Target::global()).await?;
    match access::revoke_rule(&state.db, &viewer.login, id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(AppError::NotFound("The rule".to_owned())),
        Err(e) => Err(crate::ssr::internal("revoking a rule", e)),
    }
}

/// `/settings/access`.
#[component]
pub fn AccessPage() -> impl IntoView {
    view! {
        <Title text="Who may do what" />
        <RequireViewer signed_in=|v: Viewer| view! { <Access viewer=v /> } />
    }
}

const SCOPE_TYPES: [(&str, &str); 4] =
    [("all", "everything"), ("kind", "a kind"), ("namespace", "a namespace"), ("entity", "one entity")];

#[component]
fn Access(viewer: Viewer) -> impl IntoView {
    let grant = ServerAction::<GrantRule>::new();
    let revoke = ServerAction::<RevokeRule>::new();
    let overview = Resource::new(move || (grant.version().get(), revoke.version().get()), |_| get_access_overview());
    let query = use_query_map();
    let question = move || {
        let q = query.read();
        let nonempty = |k: &str| q.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        (nonempty("login"), nonempty("entity"))
    };
    let explanation = Resource::new(
        move || (question(), grant.version().get(), revoke.version().get()),
        |((login, entity), _, _)| explain_access(login, entity),
    );
    let me = viewer.login.clone();
    view! {
        <h1>"Who may do what"</h1>
        <p class="muted">
            "Everyone signed in reads everything. Changes follow ownership: the members of an entity's owner may change "
            "what hangs off it. Administrators may do everything and may grant more with rules. A token never has more "
            "rights than its owner, narrowed to its scopes."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! { <Overview overview=o grant=grant revoke=revoke /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
        <section class="card" aria-labelledby="explain-heading">
            <h2 id="explain-heading">"Explain a decision"</h2>
            <form class="filters" method="get" action="/settings/access">
                <label>
                    "Person (login)"
                    <input name="login" placeholder=me.clone() value=move || question().0.unwrap_or_default() />
                </label>
                <label>
                    "Entity"
                    <input name="entity" placeholder="component:default/payments-api" value=move || question().1.unwrap_or_default() />
                </label>
                <button class="button button-primary" type="submit">"Explain"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Deciding…"</p> }>
                {move || Suspend::new(async move {
                    match explanation.await {
                        Ok(x) => view! { <Decisions explanation=x /> }.into_any(),
                        Err(e) => view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Overview(
    overview: AccessOverview,
    grant: ServerAction<GrantRule>,
    revoke: ServerAction<RevokeRule>,
) -> impl IntoView {
    let action_names: Vec<String> = overview.actions.iter().map(|a| a.name.clone()).collect();
    view! {
        <section aria-labelledby="actions-heading">
            <h2 id="actions-heading">"Actions"</h2>
            <table class="table entity-table">
                <thead><tr>
                    <th scope="col">"Action"</th><th scope="col">"Token scope"</th><th scope="col">"Held by"</th>
                </tr></thead>
                <tbody>
                    {overview.actions.into_iter().map(|a| view! {
                        <tr><td><code>{a.name}</code></td><td><code>{a.scope}</code></td><td>{a.holders}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        {overview.rules.map(|rules| view! {
            <section aria-labelledby="rules-heading">
                <h2 id="rules-heading">"Granted rules"</h2>
                {move || grant.value().get().map(|r| match r {
                    Ok(rule) => view! { <p class="alert" role="status">{format!("Granted: {}", rule.description)}</p> }.into_any(),
                    Err(e) => view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
                {move || revoke.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
                {if rules.is_empty() {
                    view! { <p class="card">"No rules yet: rights come from ownership and administrators only."</p> }.into_any()
                } else {
                    view! {
                        <table class="table entity-table" data-testid="rules">
                            <thead><tr>
                                <th scope="col">"Rule"</th><th scope="col">"Granted by"</th><th scope="col">"Granted"</th>
                                <th scope="col"><span class="visually-hidden">"Revoke"</span></th>
                            </tr></thead>
                            <tbody>
                                {rules.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{r.description.clone()}</td>
                                        <td>{r.created_by.clone()}</td>
                                        <td>{utc(&r.created_at)}</td>
                                        <td>
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="id" value=r.id.to_string() />
                                                <button class="button" type="submit">{format!("Revoke rule #{}", r.id)}</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                <ActionForm action=grant attr:class="card filters">
                    <label>"Who (user or group)" <input name="subject" required placeholder="group:default/payments" /></label>
                    <label>
                        "May"
                        <select name="action">
                            <option value="*">"every action"</option>
                            {action_names.into_iter().map(|a| view! { <option value=a.clone()>{a.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>
                        "On"
                        <select name="scope_type">
                            {SCOPE_TYPES.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Which (kind, namespace or entity)" <input name="scope_value" placeholder="component" /></label>
                    <button class="button button-primary" type="submit">"Grant"</button>
                </ActionForm>
            </section>
        })}
    }
}

#[component]
fn Decisions(explanation: Explanation) -> impl IntoView {
    let heading = match &explanation.entity {
        Some(e) => format!("{} on {e}", explanation.login),
        None => format!("{} (no entity named: global actions)", explanation.login),
    };
    view! {
        <h3>{heading}</h3>
        <table class="table entity-table" data-testid="decisions">
            <thead><tr><th scope="col">"Action"</th><th scope="col">"Decision"</th><th scope="col">"Why"</th></tr></thead>
            <tbody>
                {explanation.decisions.into_iter().map(|d| view! {
                    <tr data-action=d.action.clone()>
                        <td><code>{d.action.clone()}</code></td>
                        <td>{if d.allowed {
                            view! { <span class="badge badge-ok">"allowed"</span> }.into_any()
                        } else {
                            view! { <span class="badge badge-error">"refused"</span> }.into_any()
                        }}</td>
                        <td>{d.reason}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
