//! Scaffolding pages: `/create` lists the templates and the viewer's recent runs; the wizard
//! (`/create/templates/:namespace/:name?step=N`) shows one form step at a time, then a review with an optional
//! dry-run (the rendered files and what each step would do); `/create/tasks/:id` shows a run's steps and log,
//! live while it runs.
//!
//! Every button is a plain form post to the server (`/create/wizard`, `/create/tasks/:id/cancel|retry`), which
//! checks the step with the template's schema and redirects, so the wizard works the same with JavaScript off.
//! The browser checks what HTML can (required, lengths, ranges) before a step is sent.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use portolan_types::Viewer;
use portolan_types::catalog::entity_path;
use portolan_types::scaffold::{CreateHome, Task, TaskPage, WizardField, WizardPage};

use crate::auth::RequireViewer;
use crate::error::{AppError, ErrorPage};

/// The templates and the viewer's recent tasks.
#[server(prefix = "/fn", endpoint = "create_home")]
pub async fn load_create_home() -> Result<CreateHome, AppError> {
    use portolan_core::scaffold;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let templates =
        scaffold::wizard::cards(&state.db).await.map_err(|e| crate::ssr::internal("listing templates", e))?;
    let (tasks, _) = scaffold::tasks::list(&state.db, Some(&viewer.login), 10)
        .await
        .map_err(|e| crate::ssr::internal("listing tasks", e))?;
    Ok(CreateHome { templates, tasks })
}

/// One step of the wizard (or the review, with a dry-run when asked for).
#[server(prefix = "/fn", endpoint = "wizard_page")]
pub async fn load_wizard(namespace: String, name: String, step: String, dry: bool) -> Result<WizardPage, AppError> {
    use portolan_core::access::{Action, Target};
    use portolan_core::scaffold::{self, wizard};
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let loaded = match scaffold::load(&state, &format!("template:{namespace}/{name}")).await {
        Ok(l) => l,
        Err(scaffold::ScaffoldError::Db(e)) => return Err(crate::ssr::internal("reading a template", e)),
        Err(scaffold::ScaffoldError::Template(p)) => return Err(AppError::Invalid(p.join("; "))),
        Err(_) => return Err(AppError::NotFound(format!("The template {namespace}/{name}"))),
    };
    let tpl = &loaded.template;
    let n = tpl.parameters.len();
    let step = if step == "review" { n } else { step.parse::<usize>().unwrap_or(0).min(n) };
    let refusal = match portolan_core::access::check(
        &state.db,
        &viewer,
        Action::ScaffoldRun,
        &Target::for_row(&loaded.row),
    )
    .await
    {
        Ok(d) if d.allowed => None,
        Ok(d) => Some(d.reason),
        Err(e) => return Err(crate::ssr::internal("deciding a permission", e)),
    };
    let drafts: wizard::Drafts = match crate::ssr::session() {
        Some(s) => s.get(wizard::SESSION_KEY).await.ok().flatten().unwrap_or_default(),
        None => wizard::Drafts::new(),
    };
    let draft = drafts.get(&tpl.entity_ref).cloned().unwrap_or_default();
    let mut values = draft.values.clone();
    for form in tpl.parameters.iter().take(step + 1) {
        scaffold::schema::apply_defaults(&form.schema, &mut values);
    }
    let secrets = wizard::secrets(&viewer.login, &tpl.entity_ref);
    let secrets_set: Vec<String> = secrets.keys().cloned().collect();
    let fields = wizard::fields(&state.db, tpl, step, &values, &secrets_set, &draft.errors)
        .await
        .map_err(|e| crate::ssr::internal("building the form", e))?;
    let review = if step == n { wizard::review(tpl, &values, &secrets_set) } else { Vec::new() };
    let dry_run = if step == n && dry {
        let mut all = values.clone();
        all.extend(secrets.clone());
        let user = scaffold::tasks::user_context(&state, &viewer.login)
            .await
            .map_err(|e| crate::ssr::internal("reading the user", e))?;
        let result = scaffold::dry_run(tpl, &loaded.source, &all, &secrets, &user, Some(&state.github_sync)).await;
        Some(wizard::dry_run_view(&result))
    } else {
        None
    };
    Ok(WizardPage {
        template_ref: tpl.entity_ref.clone(),
        title: tpl.title.clone(),
        description: tpl.description.clone(),
        steps: tpl.parameters.iter().map(|p| p.title.clone()).collect(),
        step,
        fields,
        review,
        dry_run,
        refusal,
        problems: scaffold::run::preflight(tpl),
    })
}

/// A task with its whole log.
#[server(prefix = "/fn", endpoint = "task_page")]
pub async fn load_task(id: String) -> Result<TaskPage, AppError> {
    use portolan_core::scaffold::tasks;
    let viewer = crate::ssr::require_viewer()?;
    let state = crate::ssr::state()?;
    let task = tasks::get(&state.db, &id)
        .await
        .map_err(|e| crate::ssr::internal("reading a task", e))?
        .ok_or_else(|| AppError::NotFound("That task".to_owned()))?;
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let batch =
            tasks::events_after(&state.db, &id, after).await.map_err(|e| crate::ssr::internal("reading a log", e))?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let full = batch.len() == 1000;
        events.extend(batch);
        if !full {
            break;
        }
    }
    let can_manage = viewer.is_admin || task.created_by == format!("user:default/{}", viewer.login);
    Ok(TaskPage { task, events, can_manage })
}

/// `/create`.
#[component]
pub fn CreatePage() -> impl IntoView {
    view! {
        <Title text="Create" />
        <RequireViewer signed_in=|_: Viewer| view! { <CreateList /> } />
    }
}

fn status_class(status: &str) -> &'static str {
    match status {
        "completed" => "badge badge-ok",
        "failed" => "badge badge-error",
        "cancelled" | "skipped" => "badge badge-muted",
        "processing" => "badge badge-warn",
        _ => "badge",
    }
}

#[component]
fn CreateList() -> impl IntoView {
    let query = use_query_map();
    let problem = move || query.read().get("error");
    let data = Resource::new(|| (), |_| load_create_home());
    view! {
        <div class="page-heading">
            <h1>"Create"</h1>
            <a class="button" href="/create/edit">"Template editor"</a>
        </div>
        <p class="muted">"Start a new service, library or website from a template your platform team maintains."</p>
        {move || problem().map(|p| view! { <p class="alert alert-error" role="alert">{p}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(home) => view! { <CreateBody home /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CreateBody(home: CreateHome) -> impl IntoView {
    let empty = home.templates.is_empty();
    let tasks = home.tasks.clone();
    view! {
        <section aria-labelledby="templates-title">
            <h2 id="templates-title">"Templates"</h2>
            {empty.then(|| view! {
                <p class="muted">
                    "No templates yet. Register a file holding a "
                    <code>"scaffolder.backstage.io/v1beta3"</code>
                    " Template entity under "<a href="/catalog/locations">"Catalog locations"</a>"."
                </p>
            })}
            <ul class="template-cards" id="templates">
                {home.templates.into_iter().map(|t| {
                    let href = format!("/create/templates/{}/{}?step=0", t.namespace, t.name);
                    view! {
                        <li class="card template-card" data-template=t.entity_ref.clone()>
                            <h3>{t.title.clone()}</h3>
                            <p class="muted small">
                                {t.kind.clone().unwrap_or_else(|| "template".to_owned())}
                                {t.owner.clone().map(|o| format!(" · owned by {o}"))}
                            </p>
                            {t.description.clone().map(|d| view! { <p>{d}</p> })}
                            {(!t.tags.is_empty()).then(|| view! {
                                <p class="tags">{t.tags.iter().map(|tag| view! { <span class="tag">{tag.clone()}</span> }).collect_view()}</p>
                            })}
                            {match t.problem.clone() {
                                Some(p) => view! { <p class="alert alert-error small">"Cannot run: "{p}</p> }.into_any(),
                                None => view! { <a class="button button-primary" href=href>"Choose"</a> }.into_any(),
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
        <section aria-labelledby="runs-title">
            <h2 id="runs-title">"Your recent runs"</h2>
            {if tasks.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                view! { <TaskTable tasks /> }.into_any()
            }}
        </section>
    }
}

#[component]
fn TaskTable(tasks: Vec<Task>) -> impl IntoView {
    view! {
        <table class="table" id="recent-tasks">
            <thead><tr><th>"Template"</th><th>"Started (UTC)"</th><th>"Status"</th></tr></thead>
            <tbody>
                {tasks.into_iter().map(|t| view! {
                    <tr>
                        <td><a href=format!("/create/tasks/{}", t.id)>{t.template_title.clone()}</a></td>
                        <td>{crate::utc(&t.created_at)}</td>
                        <td><span class=status_class(&t.status)>{t.status.clone()}</span></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// `/create/templates/:namespace/:name`.
#[component]
pub fn WizardRoute() -> impl IntoView {
    view! { <RequireViewer signed_in=|_: Viewer| view! { <Wizard /> } /> }
}

#[component]
fn Wizard() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let p = params.read();
        let q = query.read();
        (
            p.get("namespace").unwrap_or_default(),
            p.get("name").unwrap_or_default(),
            q.get("step").unwrap_or_else(|| "0".to_owned()),
            q.get("dry").is_some_and(|d| d == "1"),
        )
    };
    let data = Resource::new(key, |(namespace, name, step, dry)| load_wizard(namespace, name, step, dry));
    let problem = move || query.read().get("error");
    view! {
        {move || problem().map(|p| view! { <p class="alert alert-error" role="alert" id="wizard-error">{p}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <WizardBody page /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn WizardBody(page: WizardPage) -> impl IntoView {
    let n = page.steps.len();
    let review = page.step >= n;
    let step_label = if review { "Review".to_owned() } else { page.steps[page.step].clone() };
    let mut stepper: Vec<String> = page.steps.clone();
    stepper.push("Review".to_owned());
    let current = page.step;
    view! {
        <Title text=format!("{} · Create", page.title) />
        <p class="muted small"><a href="/create">"Create"</a>" / "{page.title.clone()}</p>
        <h1>{page.title.clone()}</h1>
        {page.description.clone().map(|d| view! { <p class="muted">{d}</p> })}
        <ol class="stepper" aria-label="Steps">
            {stepper.into_iter().enumerate().map(|(i, s)| {
                let state = if i == current { "current" } else if i < current { "done" } else { "todo" };
                view! { <li class=format!("stepper-{state}") aria-current=(i == current).then_some("step")>{s}</li> }
            }).collect_view()}
        </ol>
        {page.refusal.clone().map(|r| view! { <p class="alert alert-error" role="alert">"You may not run this template: "{r}</p> })}
        {(!page.problems.is_empty()).then(|| view! {
            <p class="alert alert-error" role="alert">"This template cannot run: "{page.problems.join("; ")}</p>
        })}
        <form class="card wizard" method="post" action="/create/wizard" id="wizard-form">
            <h2>{step_label}</h2>
            <input type="hidden" name="__template" value=page.template_ref.clone() />
            <input type="hidden" name="__step" value=page.step.to_string() />
            {page.fields.into_iter().map(|f| view! { <Field field=f /> }).collect_view()}
            {review.then(|| view! {
                <dl class="review" id="review">
                    {page.review.iter().map(|r| view! {
                        <div class="review-row">
                            <dt>{r.label.clone()}<span class="muted small">" · "{r.step.clone()}</span></dt>
                            <dd>{r.value.clone()}</dd>
                        </div>
                    }).collect_view()}
                </dl>
            })}
            <div class="actions">
                {(page.step > 0).then(|| view! {
                    <button class="button" type="submit" name="__nav" value="back" formnovalidate=true>"Back"</button>
                })}
                {if review {
                    view! {
                        <button class="button" type="submit" name="__nav" value="dry-run" id="dry-run">"Dry-run"</button>
                        <button class="button button-primary" type="submit" name="__nav" value="create" id="create">"Create"</button>
                    }.into_any()
                } else {
                    let label = if page.step + 1 == n { "Review" } else { "Next" };
                    view! { <button class="button button-primary" type="submit" name="__nav" value="next" id="next">{label}</button> }.into_any()
                }}
            </div>
        </form>
        {page.dry_run.map(|d| view! {
            <section class="card" id="dry-run-result" aria-labelledby="dry-run-title">
                <h2 id="dry-run-title">"Dry-run"</h2>
                <p class="muted">"Nothing was created: this is what the run would do."</p>
                {d.error.clone().map(|e| view! { <p class="alert alert-error" role="alert">{e}</p> })}
                <h3>"Steps"</h3>
                <ol class="log">{d.log.iter().map(|l| view! { <li>{l.clone()}</li> }).collect_view()}</ol>
                <h3>{format!("Files ({})", d.files.len())}</h3>
                <ul class="file-tree" id="dry-run-files">
                    {d.files.iter().map(|f| view! {
                        <li>
                            <details>
                                <summary><code>{f.path.clone()}</code>" "<span class="muted small">{format!("{} bytes", f.bytes)}</span></summary>
                                {match f.text.clone() {
                                    Some(t) => view! { <pre class="file-content">{t}</pre> }.into_any(),
                                    None => view! { <p class="muted small">"Binary file, copied as it is."</p> }.into_any(),
                                }}
                            </details>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
    }
}

#[component]
fn Field(field: WizardField) -> impl IntoView {
    let id = format!("field-{}", field.name);
    let WizardField {
        name,
        title,
        description,
        help,
        widget,
        required,
        value,
        values,
        options,
        pattern,
        min_length,
        max_length,
        minimum,
        maximum,
        integer,
        autofocus,
        secret_set,
        error,
        repo,
        controls,
    } = field;
    // HTML anchors `pattern` to the whole value; JSON Schema does not, so only anchored patterns go to the browser.
    let html_pattern = pattern.filter(|p| p.starts_with('^') && p.ends_with('$'));
    let described = error.as_ref().map(|_| format!("{id}-error"));
    let invalid = error.is_some().then_some("true");
    let control = match widget.as_str() {
        "textarea" | "list" => view! {
            <textarea id=id.clone() name=name.clone() required=required rows="4" aria-invalid=invalid
                aria-describedby=described.clone() autofocus=autofocus>{value.clone()}</textarea>
        }.into_any(),
        "password" => view! {
            <input id=id.clone() type="password" name=name.clone() autocomplete="off"
                required=required && !secret_set aria-invalid=invalid aria-describedby=described.clone()
                placeholder=if secret_set { "entered; leave empty to keep it" } else { "" } autofocus=autofocus />
        }.into_any(),
        "checkbox" => view! {
            <input id=id.clone() type="checkbox" name=name.clone() value="true" checked=value == "true" autofocus=autofocus />
        }.into_any(),
        "number" => view! {
            <input id=id.clone() type="number" name=name.clone() value=value.clone() required=required
                min=minimum.map(|m| m.to_string()) max=maximum.map(|m| m.to_string())
                step=if integer { "1" } else { "any" } aria-invalid=invalid aria-describedby=described.clone() autofocus=autofocus />
        }.into_any(),
        "select" => view! {
            <select id=id.clone() name=name.clone() required=required aria-invalid=invalid aria-describedby=described.clone() autofocus=autofocus>
                <option value="" selected=value.is_empty()>"Choose…"</option>
                {options.iter().map(|(v, l)| view! { <option value=v.clone() selected=*v == value>{l.clone()}</option> }).collect_view()}
            </select>
        }.into_any(),
        "multiselect" => view! {
            <span class="choices">
                <input type="hidden" name=format!("{name}__present") value="1" />
                {options.iter().map(|(v, l)| view! {
                    <label class="choice">
                        <input type="checkbox" name=name.clone() value=v.clone() checked=values.contains(v) />
                        {l.clone()}
                    </label>
                }).collect_view()}
            </span>
        }.into_any(),
        "repo" => {
            let r = repo.unwrap_or(portolan_types::scaffold::RepoField {
                hosts: Vec::new(), owners: Vec::new(), host: String::new(), owner: String::new(), repo: String::new(),
            });
            view! {
                <span class="repo-picker">
                    {if r.hosts.is_empty() {
                        view! { <input name=format!("{name}.host") value=r.host.clone() placeholder="github.com" aria-label="Host" required=required /> }.into_any()
                    } else {
                        view! {
                            <select name=format!("{name}.host") aria-label="Host">
                                {r.hosts.iter().map(|h| view! { <option value=h.clone() selected=*h == r.host>{h.clone()}</option> }).collect_view()}
                            </select>
                        }.into_any()
                    }}
                    " / "
                    {if r.owners.is_empty() {
                        view! { <input name=format!("{name}.owner") value=r.owner.clone() aria-label="Owner" placeholder="organisation" required=required /> }.into_any()
                    } else {
                        view! {
                            <select name=format!("{name}.owner") aria-label="Owner" required=required>
                                {r.owners.iter().map(|o| view! { <option value=o.clone() selected=*o == r.owner>{o.clone()}</option> }).collect_view()}
                            </select>
                        }.into_any()
                    }}
                    " / "
                    <input id=id.clone() name=format!("{name}.repo") value=r.repo.clone() aria-label="Repository name"
                        placeholder="repository" required=required aria-invalid=invalid aria-describedby=described.clone() autofocus=autofocus />
                </span>
            }.into_any()
        }
        _ => view! {
            <input id=id.clone() name=name.clone() value=value.clone() required=required pattern=html_pattern.clone()
                minlength=min_length.map(|m| m.to_string()) maxlength=max_length.map(|m| m.to_string())
                aria-invalid=invalid aria-describedby=described.clone() autofocus=autofocus />
        }.into_any(),
    };
    view! {
        <div class="field" data-field=name.clone() data-controls=controls.then_some("true") on:change=move |ev| {
            if controls {
                show_dependent_fields(&ev);
            }
        }>
            <label for=id.clone()>{title}{required.then_some(" *")}</label>
            {description.map(|d| view! { <p class="muted small">{d}</p> })}
            {control}
            {controls.then(|| view! {
                <button class="button button-quiet field-update" type="submit" name="__nav" value="update"
                    formnovalidate=true>"Show the fields for this choice"</button>
            })}
            {help.map(|h| view! { <p class="muted small">{h}</p> })}
            {error.map(|e| view! { <p class="field-error" id=format!("{id}-error") role="alert">{e}</p> })}
        </div>
    }
}

/// A field that decides which others a step shows changed: send the form back to the same step (the field's own
/// "Show the fields for this choice" button), so the server lays the step out again with what was typed kept.
#[cfg_attr(not(feature = "hydrate"), expect(unused_variables, reason = "only the browser sends forms"))]
fn show_dependent_fields(ev: &leptos::ev::Event) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let button = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|field| field.query_selector("button.field-update").ok().flatten())
            .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(button) = button {
            button.click();
        }
    }
}

/// `/create/tasks/:id`.
#[component]
pub fn TaskRoute() -> impl IntoView {
    // The task and its live updates belong to the route, not to the signed-in view inside a suspense, whose
    // contents are built again when the viewer resolves (which would drop the stream's owner).
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(id, load_task);
    let running = move || {
        data.get_untracked()
            .and_then(Result::ok)
            .is_some_and(|p: TaskPage| matches!(p.task.status.as_str(), "open" | "processing"))
    };
    follow_task(id(), move || data.refetch(), running);
    view! { <RequireViewer signed_in=move |_: Viewer| view! { <TaskView data /> } /> }
}

#[component]
fn TaskView(data: Resource<Result<TaskPage, AppError>>) -> impl IntoView {
    let query = use_query_map();
    let notice = move || query.read().get("notice");
    let problem = move || query.read().get("error");
    view! {
        <Title text="Task · Create" />
        {move || notice().map(|n| view! { <p class="alert" role="status" id="task-notice">{n}</p> })}
        {move || problem().map(|p| view! { <p class="alert alert-error" role="alert" id="task-error">{p}</p> })}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <TaskBody page /> }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TaskBody(page: TaskPage) -> impl IntoView {
    let t = page.task;
    let running = matches!(t.status.as_str(), "open" | "processing");
    let retryable = matches!(t.status.as_str(), "failed" | "cancelled");
    let links: Vec<(String, String)> = t
        .output
        .as_ref()
        .and_then(|o| o.get("links"))
        .and_then(|l| l.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|l| {
                    let title = l.get("title").and_then(|v| v.as_str()).unwrap_or("Link").to_owned();
                    if let Some(url) = l.get("url").and_then(|v| v.as_str()).filter(|u| !u.is_empty()) {
                        return Some((title, url.to_owned()));
                    }
                    let r = l.get("entityRef").and_then(|v| v.as_str()).filter(|r| !r.is_empty())?;
                    Some((title, entity_path(r)))
                })
                .collect()
        })
        .unwrap_or_default();
    let texts: Vec<(String, String)> = t
        .output
        .as_ref()
        .and_then(|o| o.get("text"))
        .and_then(|l| l.as_array())
        .map(|a| {
            a.iter()
                .map(|x| {
                    let title = x.get("title").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                    (title, x.get("content").and_then(|v| v.as_str()).unwrap_or_default().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let id = t.id.clone();
    view! {
        <p class="muted small"><a href="/create">"Create"</a>" / "{t.template_title.clone()}</p>
        <div class="page-heading">
            <h1>{t.template_title.clone()}</h1>
            <span class=status_class(&t.status) id="task-status" data-status=t.status.clone()>{t.status.clone()}</span>
        </div>
        <p class="muted small">
            "Started "{crate::utc(&t.created_at)}" by "{t.created_by.clone()}
            {t.finished_at.as_ref().map(|f| format!(" · ended {}", crate::utc(f)))}
        </p>
        {t.error.clone().map(|e| view! { <p class="alert alert-error" role="alert" id="task-failure">{e}</p> })}
        {(!links.is_empty()).then(|| view! {
            <p class="task-links" id="task-links">
                {links.into_iter().map(|(title, href)| view! { <a class="button button-primary" href=href>{title}</a> }).collect_view()}
            </p>
        })}
        {texts.into_iter().map(|(title, content)| view! { <section class="card"><h2>{title}</h2><pre>{content}</pre></section> }).collect_view()}
        {page.can_manage.then(|| view! {
            <div class="actions">
                {running.then(|| view! {
                    <form method="post" action=format!("/create/tasks/{id}/cancel")>
                        <button class="button" type="submit" id="cancel-task">"Cancel"</button>
                    </form>
                })}
                {retryable.then(|| view! {
                    <form method="post" action=format!("/create/tasks/{id}/retry")>
                        <button class="button button-primary" type="submit" id="retry-task">"Retry from the failed step"</button>
                    </form>
                })}
            </div>
        })}
        <section aria-labelledby="steps-title">
            <h2 id="steps-title">"Steps"</h2>
            <ol class="task-steps" id="task-steps">
                {t.steps.iter().map(|s| view! {
                    <li data-step=s.id.clone() data-status=s.status.clone()>
                        <span class=status_class(&s.status)>{s.status.clone()}</span>" "
                        <strong>{s.name.clone()}</strong>" "<code class="muted small">{s.action.clone()}</code>
                        {s.error.clone().map(|e| view! { <p class="field-error">{e}</p> })}
                    </li>
                }).collect_view()}
            </ol>
        </section>
        <section aria-labelledby="log-title">
            <h2 id="log-title">"Log"</h2>
            <ol class="log" id="task-log">
                {page.events.into_iter().map(|e| view! {
                    <li data-event=e.id.to_string()>
                        <time class="muted small">{crate::utc(&e.created_at)}</time>" "
                        {e.body.step_id.clone().map(|s| view! { <span class="muted small">"["{s}"] "</span> })}
                        {e.body.message.clone()}
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// Follows a task's event stream in the browser and reloads the page's data when something happens (at most
/// every 300 ms), until the task completes; while the page shows the task running it also reloads every 2 s, so a
/// stream cut by a proxy or a missed event cannot leave the page behind. Without JavaScript the page shows the
/// state when it was loaded.
#[cfg_attr(not(feature = "hydrate"), expect(unused_variables, reason = "live updates need a browser"))]
fn follow_task(id: String, reload: impl Fn() + Clone + 'static, running: impl Fn() -> bool + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        use leptos::wasm_bindgen::closure::Closure;
        use std::cell::Cell;
        use std::rc::Rc;
        let url = format!("/api/scaffolder/v2/tasks/{id}/eventstream");
        let Ok(source) = web_sys::EventSource::new(&url) else { return };
        let pending = Rc::new(Cell::new(false));
        let make = |close: bool| {
            let pending = pending.clone();
            let reload = reload.clone();
            let source = source.clone();
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                if close {
                    source.close();
                }
                crate::reload_soon(&pending, reload.clone());
            })
        };
        let on_log = make(false);
        let on_done = make(true);
        let _ = source.add_event_listener_with_callback("log", on_log.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("completion", on_done.as_ref().unchecked_ref());
        let poll = {
            let reload = reload.clone();
            set_interval_with_handle(
                move || {
                    if running() {
                        reload();
                    }
                },
                std::time::Duration::from_secs(2),
            )
            .ok()
        };
        let kept = StoredValue::new_local(Some((source, on_log, on_done)));
        on_cleanup(move || {
            if let Some(poll) = poll {
                poll.clear();
            }
            if let Some(Some((source, _a, _b))) = kept.try_update_value(Option::take) {
                source.close();
            }
        });
    }
}

/// What a new editor starts with: a small template and its skeleton, ready to preview.
pub const SAMPLE_TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: my-template
  title: My template
spec:
  owner: group:platform
  type: service
  parameters:
    - title: About
      required: [name]
      properties:
        name:
          type: string
          pattern: '^[a-z][a-z0-9-]*$'
  steps:
    - id: fetch
      name: Fetch skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values:
          name: ${{ parameters.name }}
    - id: publish
      name: Publish
      action: publish:github
      input:
        repoUrl: github.com?owner=acme&repo=${{ parameters.name }}
";

/// The sample skeleton, in the editor's `=== path` format.
pub const SAMPLE_FILES: &str = "=== skeleton/README.md
# ${{ values.name }}

Made from my template.
=== skeleton/catalog-info.yaml
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ${{ values.name }}
spec:
  type: service
  lifecycle: experimental
  owner: group:platform
";

/// The editor's state: what was pasted last and its preview, or the sample.
#[server(prefix = "/fn", endpoint = "template_editor")]
pub async fn load_editor() -> Result<portolan_types::scaffold::EditorState, AppError> {
    crate::ssr::require_viewer()?;
    let kept = match crate::ssr::session() {
        Some(s) => s.get::<portolan_types::scaffold::EditorState>("scaffold_editor").await.ok().flatten(),
        None => None,
    };
    Ok(kept.unwrap_or_else(|| portolan_types::scaffold::EditorState {
        template: SAMPLE_TEMPLATE.to_owned(),
        files: SAMPLE_FILES.to_owned(),
        values: "{\"name\": \"orders\"}".to_owned(),
        problems: Vec::new(),
        result: None,
    }))
}

/// `/create/edit`: paste a template and a skeleton, preview what it would make.
#[component]
pub fn EditorRoute() -> impl IntoView {
    view! {
        <Title text="Template editor · Create" />
        <RequireViewer signed_in=|_: Viewer| view! { <Editor /> } />
    }
}

#[component]
fn Editor() -> impl IntoView {
    let query = use_query_map();
    let problem = move || query.read().get("error");
    let data = Resource::new(|| (), |_| load_editor());
    view! {
        <p class="muted small"><a href="/create">"Create"</a>" / template editor"</p>
        <h1>"Template editor"</h1>
        <p class="muted">
            "Paste a template and its files, then preview: the files it would write and what each step would do. "
            "Nothing is created. Files start with a line "<code>"=== path"</code>"; "
            <code>"url: ./skeleton"</code>" reads the files under "<code>"skeleton/"</code>"."
        </p>
        {move || problem().map(|p| view! { <p class="alert alert-error" role="alert">{p}</p> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(e) => view! {
                        <form class="card editor-form" method="post" action="/create/edit" id="editor-form">
                            <label for="editor-template">"Template (YAML)"</label>
                            <textarea id="editor-template" name="template" rows="18" spellcheck="false">{e.template.clone()}</textarea>
                            <label for="editor-files">"Files"</label>
                            <textarea id="editor-files" name="files" rows="12" spellcheck="false">{e.files.clone()}</textarea>
                            <label for="editor-values">"Values (JSON or YAML)"</label>
                            <textarea id="editor-values" name="values" rows="4" spellcheck="false">{e.values.clone()}</textarea>
                            <div class="actions">
                                <button class="button button-primary" type="submit" id="preview-template">"Preview"</button>
                            </div>
                        </form>
                        <section id="preview" aria-labelledby="preview-title">
                            {(!e.problems.is_empty()).then(|| view! {
                                <div class="alert alert-error" role="alert" id="editor-problems">
                                    <ul>{e.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                                </div>
                            })}
                            {e.result.clone().map(|d| view! {
                                <div class="card" id="editor-result">
                                    <h2 id="preview-title">"Preview"</h2>
                                    {d.error.clone().map(|x| view! { <p class="alert alert-error" role="alert">{x}</p> })}
                                    <ol class="log">{d.log.iter().map(|l| view! { <li>{l.clone()}</li> }).collect_view()}</ol>
                                    <ul class="file-tree" id="editor-files-out">
                                        {d.files.iter().map(|f| view! {
                                            <li>
                                                <details open=true>
                                                    <summary><code>{f.path.clone()}</code></summary>
                                                    {match f.text.clone() {
                                                        Some(t) => view! { <pre class="file-content">{t}</pre> }.into_any(),
                                                        None => view! { <p class="muted small">"Binary file."</p> }.into_any(),
                                                    }}
                                                </details>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </div>
                            })}
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
