//! `/settings/tokens`: the viewer's API tokens (and their teams'): make one (the secret is shown once), see when
//! each was last used, revoke. Works without JavaScript as plain forms.

use leptos::prelude::*;
use leptos_meta::Title;
use portolan_types::Viewer;
use portolan_types::access::{CreatedToken, SCOPES, TokenView};

use crate::auth::RequireViewer;
use crate::error::{AppError, ErrorPage};
use crate::utc;

/// The viewer's tokens.
#[server(prefix = "/fn", endpoint = "tokens_list")]
pub async fn list_tokens() -> Result<Vec<TokenView>, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::access::tokens::list(&state.db, &viewer).await.map_err(|e| crate::ssr::internal("listing tokens", e))
}

#[cfg(feature = "ssr")]
fn token_error(e: portolan_core::access::tokens::TokenError) -> AppError {
    use portolan_core::access::tokens::TokenError;
    match e {
        TokenError::Invalid(m) => AppError::Invalid(m),
        TokenError::Forbidden(m) => AppError::Forbidden(m),
        TokenError::NotFound => AppError::NotFound("The token".to_owned()),
        TokenError::Db(e) => crate::ssr::internal("storing a token", e),
    }
}

/// Makes a token. `scopes` come from checkboxes named `scopes[i]`; `expires_in_days` empty means never.
#[server(prefix = "/fn", endpoint = "tokens_create")]
pub async fn create_token(
    name: String,
    scopes: Option<Vec<String>>,
    expires_in_days: Option<String>,
    team: Option<String>,
) -> Result<CreatedToken, AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let expires_at = match expires_in_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => {
            let days: i64 = d
                .parse()
                .ok()
                .filter(|n| (1..=3650).contains(n))
                .ok_or_else(|| AppError::Invalid("Expires in: a number of days from 1 to 3650".to_owned()))?;
            Some((chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339())
        }
    };
    let new = portolan_types::access::NewToken { name, scopes: scopes.unwrap_or_default(), expires_at, team };
    portolan_core::access::tokens::create(&state.db, &viewer, &new).await.map_err(token_error)
}

/// Revokes a token.
#[server(prefix = "/fn", endpoint = "tokens_revoke")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    portolan_core::access::tokens::revoke(&state.db, &viewer, id).await.map(|_| ()).map_err(token_error)
}

/// `/settings/tokens`.
#[component]
pub fn TokensPage() -> impl IntoView {
    view! {
        <Title text="API tokens" />
        <RequireViewer signed_in=|_: Viewer| view! { <Tokens /> } />
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    view! {
        <h1>"API tokens"</h1>
        <p class="muted">
            "A token acts as you (or as a team), narrowed to its scopes. Send it as "
            <code>"Authorization: Bearer …"</code> "."
        </p>
        <ActionForm action=create attr:class="card token-form">
            <label>"Name" <input name="name" required maxlength="100" placeholder="deploy pipeline" /></label>
            <fieldset>
                <legend>"Scopes"</legend>
                {SCOPES.iter().enumerate().map(|(i, s)| view! {
                    <label class="check">
                        <input type="checkbox" name=format!("scopes[{i}]") value=*s checked=*s == "read" />
                        <code>{*s}</code>
                    </label>
                }).collect_view()}
            </fieldset>
            <label>"Expires in (days, empty for never)" <input name="expires_in_days" inputmode="numeric" size="6" /></label>
            <label>"Team (org/team, empty for a personal token)" <input name="team" placeholder="acme/payments" /></label>
            <button class="button button-primary" type="submit">"Create token"</button>
        </ActionForm>
        {move || create.value().get().map(|result| match result {
            Ok(t) => view! {
                <div class="alert" role="status">
                    <p>"Copy this token now; it will not be shown again."</p>
                    <code class="secret" data-testid="new-token">{t.token}</code>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
        {move || revoke.value().get().and_then(Result::err).map(|e| view! { <p class="alert alert-error" role="alert">{e.to_string()}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) if list.is_empty() => view! { <p class="card">"No tokens yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table entity-table">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Token"</th><th scope="col">"Scopes"</th>
                                <th scope="col">"Team"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th>
                                <th scope="col"><span class="visually-hidden">"Revoke"</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| view! { <TokenRow token=t revoke=revoke /> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TokenRow(token: TokenView, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let revoked = token.revoked_at.is_some();
    view! {
        <tr class:muted=revoked>
            <td>{token.name.clone()}</td>
            <td><code>{format!("{}…", token.prefix)}</code></td>
            <td>{token.scopes.join(", ")}</td>
            <td>{token.team.clone().unwrap_or_else(|| "—".to_owned())}</td>
            <td>{token.expires_at.as_deref().map(utc).unwrap_or_else(|| "never".to_owned())}</td>
            <td>{token.last_used_at.as_deref().map(utc).unwrap_or_else(|| "never".to_owned())}</td>
            <td>
                {if revoked {
                    view! { <span class="badge badge-error">"revoked"</span> }.into_any()
                } else {
                    view! {
                        <ActionForm action=revoke>
                            <input type="hidden" name="id" value=token.id.to_string() />
                            <button class="button" type="submit">{format!("Revoke {}", token.name)}</button>
                        </ActionForm>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}
