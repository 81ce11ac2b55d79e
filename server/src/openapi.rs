//! The JSON API described by an OpenAPI 3.1 document, generated from the handlers' own annotations and types
//! (`utoipa`), so it cannot drift from them: `GET /api/v1/openapi.json`, and a reference page rendered from the
//! same document on the server (`GET /api/docs`, no JavaScript, linked from every page's footer).

use axum::Json;
use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use http::HeaderValue;
use http::header::CONTENT_SECURITY_POLICY;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::ServerState;
use crate::http::escape_html as esc;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portolan API",
        description = "Every page of the portal as JSON. Authenticate with `Authorization: Bearer <token>` (an API \
                       token from /settings/tokens, or `PORTOLAN_API_TOKEN`) or the browser's session cookie. Errors \
                       answer `{\"error\": {\"code\", \"message\"}}` (Backstage's routes add Backstage's `error.name`, \
                       `request` and `response`); 429 answers carry `Retry-After`."
    ),
    paths(
        crate::api::healthz,
        crate::api::readyz,
        crate::api::me,
        crate::api::person,
        crate::catalog::list,
        crate::catalog::by_ref,
        crate::catalog::graph,
        crate::catalog::locations,
        crate::catalog::register_location,
        crate::catalog::backstage_entities,
        crate::catalog::backstage_by_name,
        crate::catalog::backstage_by_query,
        crate::catalog::backstage_by_refs,
        crate::catalog::backstage_facets,
        crate::docs::list_pages,
        crate::docs::create_page,
        crate::docs::page_diff,
        crate::docs::get_page,
        crate::docs::save_page,
        crate::docs::page_revisions,
        crate::docs::page_revision,
        crate::docs::restore_page,
        crate::docs::delete_page,
        crate::docs::review_page,
        crate::docs::move_page,
        crate::docs::my_guides,
        crate::docs::guide,
        crate::docs::guide_step,
        crate::docs::team_guides,
        crate::attachments::list,
        crate::attachments::upload,
        crate::attachments::remove,
        crate::docs::sync_entity_docs,
        crate::search::search,
        crate::scaffold::actions,
        crate::scaffold::parameter_schema,
        crate::scaffold::create_task,
        crate::scaffold::list_tasks,
        crate::scaffold::get_task,
        crate::scaffold::task_events,
        crate::scaffold::task_eventstream,
        crate::scaffold::cancel_task,
        crate::scaffold::retry_task,
        crate::scaffold::dry_run,
        crate::access::list_tokens,
        crate::access::create_token,
        crate::access::revoke_token,
        crate::access::list_rules,
        crate::access::grant_rule,
        crate::access::revoke_rule,
        crate::access::decisions,
        crate::webhooks::github,
        crate::deploys::list_environments,
        crate::deploys::record_deployment,
        crate::deploys::list_deployments,
        crate::deploys::get_deployment,
        crate::deploys::record_incident,
        crate::deploys::list_incidents,
        crate::deploys::dora,
        crate::deploys::dora_details,
        crate::deploys::runs_where,
        crate::deploys::sync_deployments,
        crate::health::grid,
        crate::health::events,
        crate::health::alertmanager_webhook,
        crate::health::entity_health,
        crate::health::history,
        crate::health::badge,
        crate::health::list_checks,
        crate::health::create_check,
        crate::health::update_check,
        crate::health::delete_check,
        crate::health::create_maintenance,
        crate::health::delete_maintenance,
        crate::cost::report,
        crate::cost::import,
        crate::cost::list_periods,
        crate::cost::get_rules,
        crate::cost::put_rules,
        crate::cost::list_budgets,
        crate::cost::put_budget,
        crate::cost::pull_opencost,
        crate::cost::list_anomalies,
        crate::cost::triage_anomaly,
    ),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "catalog", description = "Entities, relations and locations"),
        (name = "backstage", description = "Backstage's catalog API, same paths and JSON shapes"),
        (name = "docs", description = "Runbooks, guides and reference pages with revisions"),
        (name = "deploys", description = "Deployments, incidents, environments and the DORA four keys"),
        (name = "health", description = "Checks, uptime, SLOs and maintenance windows per service and environment"),
        (name = "cost", description = "Cloud spend per component, team and environment; billing imports and allocation rules"),
        (name = "search", description = "One search over pages and entities"),
        (name = "access", description = "API tokens, granted rules and permission decisions"),
        (name = "people", description = "Who is signed in, and people's teams"),
        (name = "webhooks", description = "Receivers for GitHub's webhooks"),
        (name = "operations", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components.get_or_insert_with(Default::default).add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("ptl_…").build()),
        );
    }
}

/// The document as JSON, with the running version.
pub fn document() -> Value {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    serde_json::to_value(&doc).unwrap_or(Value::Null)
}

/// The routes.
pub fn router() -> Router<ServerState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_json)).route("/api/docs", get(reference))
}

async fn openapi_json() -> Json<Value> {
    Json(document())
}

async fn reference() -> impl IntoResponse {
    let mut res = Html(render(&document())).into_response();
    res.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
             form-action 'self'",
        ),
    );
    res
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A schema as a short label, references linked to their section.
fn type_label(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let nullable = variants.iter().any(|v| str_of(v, "type") == "null");
            let labels: Vec<String> = variants.iter().filter(|v| str_of(v, "type") != "null").map(type_label).collect();
            return format!("{}{}", labels.join(" | "), if nullable { "?" } else { "" });
        }
    }
    let (types, nullable): (Vec<String>, bool) = match schema.get("type") {
        Some(Value::String(t)) => (vec![t.clone()], false),
        Some(Value::Array(ts)) => {
            let names: Vec<String> = ts.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            let nullable = names.iter().any(|t| t == "null");
            (names.into_iter().filter(|t| t != "null").collect(), nullable)
        }
        _ => (Vec::new(), false),
    };
    let label = match types.first().map(String::as_str) {
        Some("array") => format!("{}[]", schema.get("items").map(type_label).unwrap_or_else(|| "any".to_owned())),
        Some("object") => match schema.get("additionalProperties") {
            Some(inner @ Value::Object(_)) => format!("map of {}", type_label(inner)),
            _ => "object".to_owned(),
        },
        Some(t) => {
            let format = str_of(schema, "format");
            if format.is_empty() { esc(t) } else { format!("{} ({})", esc(t), esc(format)) }
        }
        None => "any".to_owned(),
    };
    format!("{label}{}", if nullable { "?" } else { "" })
}

fn operation(path: &str, method: &str, op: &Value) -> String {
    let anchor = format!("{method}-{}", path.replace(['/', '{', '}'], "-"));
    let mut html = format!(
        "<section class=\"card api-op\" id=\"{a}\"><h3><span class=\"method method-{m}\">{M}</span> <code>{p}</code></h3>",
        a = esc(&anchor),
        m = esc(method),
        M = esc(&method.to_uppercase()),
        p = esc(path),
    );
    let summary = str_of(op, "summary");
    let description = str_of(op, "description");
    for text in [summary, description].into_iter().filter(|t| !t.is_empty()) {
        html.push_str(&format!("<p>{}</p>", esc(text)));
    }
    if op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())))
    {
        html.push_str("<p class=\"muted\">No authentication needed.</p>");
    }
    if let Some(params) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        html.push_str("<h4>Parameters</h4><table class=\"table\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">In</th><th scope=\"col\">Type</th><th scope=\"col\">Required</th><th scope=\"col\">Description</th></tr></thead><tbody>");
        for p in params {
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(str_of(p, "name")),
                esc(str_of(p, "in")),
                p.get("schema").map(type_label).unwrap_or_default(),
                if p.get("required").and_then(Value::as_bool).unwrap_or(false) { "yes" } else { "no" },
                esc(str_of(p, "description")),
            ));
        }
        html.push_str("</tbody></table>");
    }
    if let Some(body) = op.get("requestBody") {
        let schema = body.pointer("/content/application~1json/schema");
        html.push_str(&format!(
            "<h4>Request body</h4><p>{} {}</p>",
            schema.map(type_label).unwrap_or_else(|| "any".to_owned()),
            esc(str_of(body, "description"))
        ));
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        html.push_str("<h4>Responses</h4><table class=\"table\"><thead><tr><th scope=\"col\">Status</th><th scope=\"col\">Body</th><th scope=\"col\">Meaning</th></tr></thead><tbody>");
        for (status, r) in responses {
            let schema = r.pointer("/content/application~1json/schema");
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(status),
                schema.map(type_label).unwrap_or_else(|| "—".to_owned()),
                esc(str_of(r, "description")),
            ));
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>");
    html
}

fn schema_section(name: &str, schema: &Value) -> String {
    let mut html = format!("<section class=\"card\" id=\"schema-{0}\"><h3>{0}</h3>", esc(name));
    let description = str_of(schema, "description");
    if !description.is_empty() {
        html.push_str(&format!("<p>{}</p>", esc(description)));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let list: Vec<String> =
            values.iter().map(|v| format!("<code>{}</code>", esc(&v.to_string().replace('"', "")))).collect();
        html.push_str(&format!("<p>One of {}</p>", list.join(", ")));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        html.push_str("<table class=\"table\"><thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Type</th><th scope=\"col\">Required</th><th scope=\"col\">Description</th></tr></thead><tbody>");
        for (field, p) in props {
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(field),
                type_label(p),
                if required.contains(&field.as_str()) { "yes" } else { "no" },
                esc(str_of(p, "description")),
            ));
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>");
    html
}

/// The reference page.
pub fn render(doc: &Value) -> String {
    let title = doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("API");
    let version = doc.pointer("/info/version").and_then(Value::as_str).unwrap_or_default();
    let intro = doc.pointer("/info/description").and_then(Value::as_str).unwrap_or_default();
    let mut by_tag: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    let mut toc = String::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(op) = item.get(method) {
                    let tag = op
                        .get("tags")
                        .and_then(Value::as_array)
                        .and_then(|t| t.first())
                        .and_then(Value::as_str)
                        .unwrap_or("other")
                        .to_owned();
                    by_tag.entry(tag).or_default().push(operation(path, method, op));
                }
            }
        }
    }
    let tags: Vec<(String, String)> = doc
        .get("tags")
        .and_then(Value::as_array)
        .map(|ts| ts.iter().map(|t| (str_of(t, "name").to_owned(), str_of(t, "description").to_owned())).collect())
        .unwrap_or_default();
    let mut body = String::new();
    for (tag, description) in &tags {
        let Some(ops) = by_tag.remove(tag) else { continue };
        toc.push_str(&format!("<li><a href=\"#tag-{0}\">{0}</a></li>", esc(tag)));
        body.push_str(&format!(
            "<h2 id=\"tag-{0}\">{0}</h2><p class=\"muted\">{1}</p>{2}",
            esc(tag),
            esc(description),
            ops.concat()
        ));
    }
    for (tag, ops) in by_tag {
        body.push_str(&format!("<h2 id=\"tag-{0}\">{0}</h2>{1}", esc(&tag), ops.concat()));
    }
    toc.push_str("<li><a href=\"#schemas\">schemas</a></li>");
    body.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) {
        for (name, schema) in schemas {
            body.push_str(&schema_section(name, schema));
        }
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\">\
         <title>{t} reference · Portolan</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/pkg/{css}.css\"></head><body><main class=\"page api-reference\">\
         <p class=\"muted small\"><a href=\"/\">Portolan</a> / API reference</p><h1>{t} <span class=\"muted\">{v}\
         </span></h1><p>{intro}</p><p>The machine-readable document: <a href=\"/api/v1/openapi.json\">\
         <code>/api/v1/openapi.json</code></a> (OpenAPI 3.1).</p><nav aria-label=\"Sections\"><ul class=\"inline-list\">\
         {toc}</ul></nav>{body}</main></body></html>",
        t = esc(title),
        v = esc(version),
        intro = esc(intro),
        css = portolan_app::OUTPUT_NAME,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_covers_every_route() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for p in
            ["/api/v1/entities", "/api/v1/tokens/{id}", "/api/catalog/entities/by-query", "/api/v1/webhooks/github"]
        {
            assert!(paths.contains_key(p), "{p} missing");
        }
        // Every response that has a body names a schema that exists.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "{name} is referenced but not defined");
        }
    }

    #[test]
    fn labels_read_like_types() {
        assert_eq!(type_label(&serde_json::json!({"type": ["string", "null"]})), "string?");
        assert_eq!(
            type_label(&serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/TokenView"}})),
            "<a href=\"#schema-TokenView\">TokenView</a>[]"
        );
        assert_eq!(type_label(&serde_json::json!({"type": "integer", "format": "int64"})), "integer (int64)");
    }

    #[test]
    fn the_page_escapes_what_it_shows() {
        let doc = serde_json::json!({"info": {"title": "<x>", "description": "a & b"}, "paths": {}});
        let html = render(&doc);
        assert!(html.contains("&lt;x&gt;") && html.contains("a &amp; b"));
        assert!(!html.contains("<x>"));
    }
}
