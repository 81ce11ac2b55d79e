//! Catalog HTTP tests: importing locations, the APIs (Portolan's and Backstage's), refusals and the pages.

use http::StatusCode;
use portolan_testkit::FakeGithubConfig;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp};

db_tests!(
    importing_the_example_catalog_and_reading_it_back,
    backstage_by_name_has_backstage_shape_and_relations,
    by_name_cache_follows_this_and_other_processes_changes,
    filters_search_and_cursor_paging,
    search_follows_every_change_through_the_index,
    a_large_import_leaves_the_search_index_merged,
    hidden_namespaces_show_only_to_owners_and_administrators,
    group_and_user_pages_show_where_they_sit_who_is_in_them_and_what_they_own,
    bad_documents_are_reported_and_good_ones_kept,
    entities_no_longer_declared_become_orphans_and_failed_files_orphan_nothing,
    two_locations_cannot_manage_one_entity,
    orphans_are_deleted_when_the_setting_asks_for_it,
    registering_a_location_needs_an_administrator,
    catalog_pages_render_and_escape_user_text,
    backstage_by_query_and_facets,
    backstage_entity_list_batch_reads_text_fields_and_errors,
    backstage_queries_reach_any_field_of_the_document,
    relation_graph_is_server_rendered_svg,
    portal_managed_entities_are_created_edited_and_deleted_by_their_owners,
    signed_in_pages_fetch_their_data_once,
);

fn form_body(etag: &str, fields: &[(&str, &str)]) -> String {
    let mut parts = vec![format!("etag={etag}")];
    for (k, v) in fields {
        parts.push(format!("form%5B{k}%5D={}", v.replace(' ', "+").replace(':', "%3A").replace('/', "%2F")));
    }
    parts.join("&")
}

async fn save(app: &mut TestApp, etag: &str, fields: &[(&str, &str)]) -> crate::support::TestResponse {
    app.post_form("/fn/catalog_save_entity", &form_body(etag, fields), &[("accept", "application/json")]).await
}

async fn portal_managed_entities_are_created_edited_and_deleted_by_their_owners(b: Backend) {
    // No admin teams: octocat acts through team membership alone (acme/payments stands for group `payments`).
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| c.admin_teams.clear()).await;
    register(&mut app, &example_catalog()).await;
    app.login_as("octocat").await;
    let billing = [
        ("kind", "component"),
        ("namespace", "default"),
        ("name", "billing"),
        ("title", "Billing"),
        ("owner", "group:default/payments"),
        ("spec_type", "service"),
        ("lifecycle", "experimental"),
        ("tags", "rust, money"),
    ];
    let res = save(&mut app, "", &billing).await;
    assert!(res.status.is_success() || res.status.is_redirection(), "{res:?}");
    assert_eq!(res.headers["location"], "/catalog/default/component/billing");
    let detail = app.get_with_token("/api/v1/entities/by-ref/component/default/billing", API_TOKEN).await.json();
    assert_eq!(detail["summary"]["managed_by"], "portal");
    assert_eq!(detail["summary"]["tags"], json!(["rust", "money"]));
    assert!(
        detail["relations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "ownedBy" && r["target_ref"] == "group:default/payments")
    );
    let etag = detail["etag"].as_str().unwrap().to_owned();

    // The same name twice is refused, and so is an invalid one, naming the field.
    let again = save(&mut app, "", &billing).await;
    assert!(again.body.contains("already exists"), "{again:?}");
    let mut bad = billing;
    bad[2] = ("name", "not a name");
    assert!(save(&mut app, "", &bad).await.body.contains("metadata.name"));

    // Edit with the etag it was opened with; a second edit from the same stale form is a conflict.
    let mut renamed = billing;
    renamed[3] = ("title", "Billing service");
    let ok = save(&mut app, &etag, &renamed).await;
    assert_eq!(ok.headers["location"], "/catalog/default/component/billing", "{ok:?}");
    let mut other = billing;
    other[3] = ("title", "Lost update");
    let stale = save(&mut app, &etag, &other).await;
    assert!(stale.body.contains("Someone changed this entity"), "{stale:?}");
    let before = detail;
    let detail = app.get_with_token("/api/v1/entities/by-ref/component/default/billing", API_TOKEN).await.json();
    assert_eq!(detail["summary"]["title"], "Billing service");
    assert_eq!(detail["uid"], before["uid"], "the uid is stable across changes");
    assert_ne!(detail["etag"], before["etag"], "the etag changes with the entity");
    let etag = detail["etag"].as_str().unwrap().to_owned();

    // Entities from a repository are edited there.
    let imported = app.get_with_token("/api/v1/entities/by-ref/component/default/payments-api", API_TOKEN).await.json();
    let mut hijack = billing;
    hijack[2] = ("name", "payments-api");
    let refused = save(&mut app, imported["etag"].as_str().unwrap(), &hijack).await;
    assert!(refused.body.contains("managed in its repository"), "{refused:?}");

    // Someone outside the owning team may neither create for it nor edit it.
    let mut outsider = app.replica().await;
    outsider.cookies.clear();
    outsider.login_as("hubot").await;
    let mut theirs = billing;
    theirs[2] = ("name", "sneaky");
    let refused = save(&mut outsider, "", &theirs).await;
    assert!(refused.body.contains("catalog.entity.create component:default/sneaky"), "{refused:?}");
    assert!(refused.body.contains("hubot is not a member of the owner group:default/payments"), "{refused:?}");
    let refused = save(&mut outsider, &etag, &renamed).await;
    assert!(refused.body.contains("catalog.entity.edit component:default/billing"), "{refused:?}");

    let audit = portolan_core::audit::recent(&app.state.app.db, 20).await.unwrap();
    let update = audit.iter().find(|e| e.action == "catalog.entity.update").expect("update audited");
    assert_eq!(update.actor, "octocat");
    assert!((chrono::Utc::now() - update.at).num_seconds().abs() < 60, "when: {}", update.at);
    let create = audit.iter().find(|e| e.action == "catalog.entity.create").expect("creation audited");
    assert_eq!((create.actor.as_str(), create.target.as_deref()), ("octocat", Some("component:default/billing")));
    let created: serde_json::Value = serde_json::from_str(create.detail.as_deref().unwrap()).unwrap();
    assert_eq!(created["after"]["metadata"]["title"], "Billing");
    assert!(created["before"].is_null(), "{created}");
    let detail_json: serde_json::Value = serde_json::from_str(update.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail_json["before"]["metadata"]["title"], "Billing");
    assert_eq!(detail_json["after"]["metadata"]["title"], "Billing service");

    let deleted = app
        .post_form(
            "/fn/catalog_delete_entity",
            &format!("entity_ref=component%3Adefault%2Fbilling&etag={etag}"),
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(deleted.headers["location"], "/catalog", "{deleted:?}");
    let gone = app.get_with_token("/api/v1/entities/by-ref/component/default/billing", API_TOKEN).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(relations_mentioning(&app, "component:default/billing").await, 0, "its relations went with it");
    let audit = portolan_core::audit::recent(&app.state.app.db, 20).await.unwrap();
    let delete = audit
        .iter()
        .find(|e| e.action == "catalog.entity.delete" && e.target.as_deref() == Some("component:default/billing"))
        .expect("deletion audited");
    let removed: serde_json::Value = serde_json::from_str(delete.detail.as_deref().unwrap()).unwrap();
    assert_eq!(removed["before"]["metadata"]["title"], "Billing service", "{removed}");
    assert!(removed["after"].is_null(), "{removed}");
}

async fn relation_graph_is_server_rendered_svg(b: Backend) {
    let mut app = TestApp::new(b).await;
    register(&mut app, &example_catalog()).await;
    let one =
        app.get_with_token("/api/v1/entities/by-ref/component/default/payments-api/graph", API_TOKEN).await.json();
    let refs: Vec<&str> = one["nodes"].as_array().unwrap().iter().map(|n| n["entity_ref"].as_str().unwrap()).collect();
    assert!(refs.contains(&"group:default/payments") && refs.contains(&"system:default/checkout"), "{refs:?}");
    assert!(!refs.contains(&"group:default/engineering"), "two hops away");
    assert!(one["edges"].as_array().unwrap().contains(
        &json!({"from": "component:default/payments-api", "to": "group:default/payments", "type": "ownedBy"})
    ));
    let two = app
        .get_with_token(
            "/api/v1/entities/by-ref/component/default/payments-api/graph?depth=2&relations=structure",
            API_TOKEN,
        )
        .await
        .json();
    let refs: Vec<&str> = two["nodes"].as_array().unwrap().iter().map(|n| n["entity_ref"].as_str().unwrap()).collect();
    assert!(refs.contains(&"domain:default/commerce"), "{refs:?}");
    assert!(!refs.contains(&"group:default/payments"), "ownership filtered out: {refs:?}");
    let bad = app
        .get_with_token("/api/v1/entities/by-ref/component/default/payments-api/graph?relations=nope", API_TOKEN)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    app.login_as("octocat").await;
    let page = app.get("/catalog/default/component/portolan?depth=1").await;
    assert!(
        page.body.contains("<svg viewBox=") && page.body.contains("aria-label=\"Relation graph\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("node-missing"), "the missing ledger is drawn as missing");
    assert!(
        page.body.contains("href=\"/catalog/default/group/platform?depth=1&amp;relations=\""),
        "nodes link to entities"
    );
}

async fn backstage_by_query_and_facets(b: Backend) {
    let mut app = TestApp::new(b).await;
    register(&mut app, &example_catalog()).await;
    let q = |s: &str| format!("/api/catalog/entities/by-query?{s}");
    let res = app.get_with_token(&q("filter=kind=component,spec.owner=group:default/payments"), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let body = res.json();
    assert_eq!(body["totalItems"], 2);
    let names: Vec<&str> =
        body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["payments-api", "storefront"]);
    assert!(body["items"][0]["relations"].as_array().unwrap().len() > 1);

    // Several filter parameters are OR'ed; values compare case-insensitively.
    let or = app
        .get_with_token(&q("filter=kind=Group&filter=kind=user&orderField=metadata.name,desc"), API_TOKEN)
        .await
        .json();
    assert_eq!(or["totalItems"], 5);
    assert_eq!(or["items"][0]["metadata"]["name"], "platform");

    // Backstage's client sends only the cursor and the limit after the first page: the cursor keeps the filter,
    // the search term and the order.
    let names = |page: &serde_json::Value| -> Vec<String> {
        let items = page["items"].as_array().unwrap_or_else(|| panic!("not a page: {page}"));
        items.iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_owned()).collect()
    };
    let first = app.get_with_token(&q("filter=kind=component&orderField=metadata.name,desc&limit=3"), API_TOKEN).await;
    let paged = first.json();
    assert_eq!(names(&paged), ["storefront", "portolan", "payments-api"]);
    assert!(paged["pageInfo"].get("prevCursor").is_none());
    let next = paged["pageInfo"]["nextCursor"].as_str().unwrap().to_owned();
    let rest = app.get_with_token(&q(&format!("limit=3&cursor={next}")), API_TOKEN).await.json();
    assert_eq!(names(&rest), ["fraud-scorer"], "{rest}");
    assert_eq!(rest["totalItems"], 4);
    assert!(rest["pageInfo"].get("nextCursor").is_none());
    let prev = rest["pageInfo"]["prevCursor"].as_str().unwrap().to_owned();
    let back = app.get_with_token(&q(&format!("limit=3&cursor={prev}")), API_TOKEN).await.json();
    assert_eq!(names(&back), names(&paged));
    let searched = app.get_with_token(&q("fullTextFilterTerm=pay&limit=1"), API_TOKEN).await.json();
    let next = searched["pageInfo"]["nextCursor"].as_str().unwrap().to_owned();
    let searched_rest = app.get_with_token(&q(&format!("limit=50&cursor={next}")), API_TOKEN).await.json();
    assert_eq!(searched_rest["totalItems"], searched["totalItems"]);
    assert_eq!(searched_rest["items"].as_array().unwrap().len() + 1, searched["totalItems"].as_u64().unwrap() as usize);
    let forged = app.get_with_token(&q("cursor=o3"), API_TOKEN).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.body);

    let text = app.get_with_token(&q("fullTextFilterTerm=captures"), API_TOKEN).await.json();
    assert_eq!(text["totalItems"], 1);

    let bad = app.get_with_token(&q("filter=spec..colour=red"), API_TOKEN).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"]["message"].as_str().unwrap().contains("spec..colour"));

    let facets = app
        .get_with_token("/api/catalog/entity-facets?facet=kind&facet=metadata.tags&filter=kind=component", API_TOKEN)
        .await
        .json();
    let kinds = &facets["facets"]["kind"];
    assert_eq!(kinds, &json!([{"value": "Component", "count": 4}]), "as written, as in Backstage");
    let tags = facets["facets"]["metadata.tags"].as_array().unwrap();
    assert!(tags.contains(&json!({"value": "rust", "count": 2})), "{tags:?}");
    // Document fields give the text as written; relations give full references; any field can be a facet.
    let facets = app
        .get_with_token(
            "/api/catalog/entity-facets?facet=spec.owner&facet=relations.ownedBy&facet=spec.lifecycle\
             &facet=metadata.annotations.github.com/project-slug&facet=metadata.namespace&filter=kind=component",
            API_TOKEN,
        )
        .await
        .json();
    assert_eq!(
        facets["facets"]["spec.owner"],
        json!([{"value": "payments", "count": 2}, {"value": "group:platform", "count": 1}, {"value": "platform", "count": 1}]),
        "{facets}"
    );
    assert_eq!(
        facets["facets"]["relations.ownedBy"],
        json!([{"value": "group:default/payments", "count": 2}, {"value": "group:default/platform", "count": 2}])
    );
    assert_eq!(
        facets["facets"]["spec.lifecycle"],
        json!([{"value": "production", "count": 3}, {"value": "experimental", "count": 1}])
    );
    assert_eq!(
        facets["facets"]["metadata.annotations.github.com/project-slug"],
        json!([{"value": "acme/payments-api", "count": 1}])
    );
    assert_eq!(facets["facets"]["metadata.namespace"], json!([{"value": "default", "count": 4}]));

    // Annotations, labels and any relation, as Backstage's plugins ask for them.
    let slug = app
        .get_with_token(
            &q("filter=kind=component,metadata.annotations.github.com/project-slug=ACME/payments-api"),
            API_TOKEN,
        )
        .await
        .json();
    assert_eq!(names(&slug), ["payments-api"], "{slug}");
    let slugged = app.get_with_token(&q("filter=metadata.annotations.github.com/project-slug"), API_TOKEN).await.json();
    assert!(
        slugged["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["metadata"]["annotations"]["github.com/project-slug"].is_string())
    );
    assert!(slugged["totalItems"].as_u64().unwrap() >= 1, "{slugged}");
    let members = app.get_with_token(&q("filter=relations.memberOf=group:default/payments"), API_TOKEN).await.json();
    assert_eq!(names(&members), ["grace"], "{members}");
    let labelled = app.get_with_token(&q("filter=metadata.labels.tier=gold"), API_TOKEN).await.json();
    assert_eq!(labelled["totalItems"], 0);
    let bad_key = app.get_with_token(&q("filter=metadata.annotations.a%20b=c"), API_TOKEN).await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST, "{}", bad_key.body);
    let bad_relation = app.get_with_token(&q("filter=relations.likes=x"), API_TOKEN).await;
    assert_eq!(bad_relation.status, StatusCode::BAD_REQUEST, "{}", bad_relation.body);
    // `limit=0` counts; `offset` starts the first page.
    let counted = app.get_with_token(&q("filter=kind=component&limit=0"), API_TOKEN).await.json();
    assert_eq!((counted["totalItems"].as_u64(), counted["items"].as_array().map(Vec::len)), (Some(4), Some(0)));
    let skipped = app.get_with_token(&q("filter=kind=component&offset=3&limit=3"), API_TOKEN).await.json();
    assert_eq!(names(&skipped), ["storefront"], "{skipped}");
    let past = app.get_with_token(&q("filter=kind=component&offset=4000000000"), API_TOKEN).await.json();
    assert_eq!((past["totalItems"].as_u64(), past["items"].as_array().map(Vec::len)), (Some(4), Some(0)), "{past}");
    let huge = app.get_with_token(&q("offset=9223372036854775808"), API_TOKEN).await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST, "{}", huge.body);
    let picked = app
        .get_with_token(&q("filter=kind=component&limit=1&fields=kind,metadata.name&fields=spec.owner"), API_TOKEN)
        .await
        .json();
    assert_eq!(
        picked["items"][0],
        json!({"kind": "Component", "metadata": {"name": "fraud-scorer"}, "spec": {"owner": "group:platform"}}),
        "{picked}"
    );
    let next = picked["pageInfo"]["nextCursor"].as_str().unwrap().to_owned();
    let picked_next = app.get_with_token(&q(&format!("cursor={next}&limit=1&fields=metadata.name")), API_TOKEN).await;
    assert_eq!(picked_next.json()["items"][0], json!({"metadata": {"name": "payments-api"}}));
    let unknown = app.get_with_token("/api/catalog/entity-facets?facet=spec.profile.email", API_TOKEN).await.json();
    assert_eq!(unknown, json!({"facets": {"spec.profile.email": []}}));

    // Items are the by-name answers (kept in the same cache), and follow a change at once.
    let by_name = app.get_with_token("/api/catalog/entities/by-name/component/default/payments-api", API_TOKEN).await;
    assert_eq!(body["items"][0], by_name.json());
    let described = |d: &str| component("cached", &format!("  description: {d}\n"));
    let dir = temp_catalog("by-query", &[("c.yaml", &described("first"))]);
    register(&mut app, dir.to_str().unwrap()).await;
    let cached = q("filter=metadata.name=cached");
    let description = |page: serde_json::Value| page["items"][0]["metadata"]["description"].clone();
    assert_eq!(description(app.get_with_token(&cached, API_TOKEN).await.json()), "first");
    assert_eq!(description(app.get_with_token(&cached, API_TOKEN).await.json()), "first");
    std::fs::write(dir.join("c.yaml"), described("second")).unwrap();
    assert_eq!(register(&mut app, dir.to_str().unwrap()).await.json()["updated"], 1);
    assert_eq!(description(app.get_with_token(&cached, API_TOKEN).await.json()), "second");
    let _ = std::fs::remove_dir_all(dir);
}

async fn backstage_entity_list_batch_reads_text_fields_and_errors(b: Backend) {
    let mut app = TestApp::new(b).await;
    register(&mut app, &example_catalog()).await;
    let names = |page: &serde_json::Value| -> Vec<String> {
        let items = page.as_array().or_else(|| page["items"].as_array()).unwrap_or_else(|| panic!("no items: {page}"));
        let mut names: Vec<String> =
            items.iter().map(|i| i["metadata"]["name"].as_str().unwrap_or("null").to_owned()).collect();
        names.sort();
        names
    };

    // `GET /entities`: a JSON array, ordered, cut by `limit` with a `Link` to the rest that keeps the query.
    let res = app
        .get_with_token(
            "/api/catalog/entities?filter=kind=component&order=desc:metadata.name&limit=3&fields=metadata.name",
            API_TOKEN,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.json(),
        json!([{"metadata": {"name": "storefront"}}, {"metadata": {"name": "portolan"}}, {"metadata": {"name": "payments-api"}}])
    );
    let link = res.headers.get("link").and_then(|v| v.to_str().ok()).expect("a Link header").to_owned();
    let next =
        link.strip_prefix('<').and_then(|l| l.strip_suffix(">; rel=\"next\"")).unwrap_or_else(|| panic!("{link}"));
    assert!(next.starts_with("/api/catalog/entities?") && next.contains("fields=metadata.name"), "{next}");
    let rest = app.get_with_token(next, API_TOKEN).await;
    assert_eq!(rest.json(), json!([{"metadata": {"name": "fraud-scorer"}}]), "{}", rest.body);
    assert!(rest.headers.get("link").is_none());
    let all = app.get_with_token("/api/catalog/entities", API_TOKEN).await.json();
    assert_eq!(all.as_array().map(Vec::len), Some(14), "every entity when there is no limit");
    let offset =
        app.get_with_token("/api/catalog/entities?filter=kind=group&order=asc:metadata.name&offset=1", API_TOKEN).await;
    assert_eq!(names(&offset.json()), ["payments", "platform"]);
    for bad in [
        "limit=0",
        "limit=9223372036854775808",
        "order=sideways:metadata.name",
        "order=asc:spec.col%27our",
        "after=bogus",
        "offset=-1",
    ] {
        let res = app.get_with_token(&format!("/api/catalog/entities?{bad}"), API_TOKEN).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
        assert_eq!(res.json()["error"]["name"], "InputError", "{bad}");
    }

    // `POST /entities/by-refs`: one item per reference, in order, `null` where there is none.
    let by_refs = |filter: &str| format!("/api/catalog/entities/by-refs{filter}");
    let refs = json!({
        "entityRefs": ["component:default/payments-api", "component:default/nope", "Group:Payments", "no kind",
                       "component:default/payments-api"],
        "fields": ["metadata.name", "kind"]
    });
    let res = app.post_json_with_token(&by_refs(""), &refs, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let payments_api = json!({"kind": "Component", "metadata": {"name": "payments-api"}});
    assert_eq!(
        res.json(),
        json!({"items": [payments_api, null, {"kind": "Group", "metadata": {"name": "payments"}}, null, payments_api]})
    );
    let refs_only = json!({ "entityRefs": refs["entityRefs"] });
    let groups = app.post_json_with_token(&by_refs("?filter=kind=group&fields=kind"), &refs_only, API_TOKEN).await;
    assert_eq!(groups.json(), json!({"items": [null, null, {"kind": "Group"}, null, null]}));
    let whole = app
        .post_json_with_token(&by_refs(""), &json!({"entityRefs": ["component:default/payments-api"]}), API_TOKEN)
        .await
        .json();
    let by_name = app.get_with_token("/api/catalog/entities/by-name/component/default/payments-api", API_TOKEN).await;
    assert_eq!(whole["items"][0], by_name.json());
    let too_many: Vec<String> = (0..1001).map(|i| format!("component:default/c{i}")).collect();
    let res = app.post_json_with_token(&by_refs(""), &json!({ "entityRefs": too_many }), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    let res = app.post_json_with_token(&by_refs(""), &json!({"refs": []}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);

    // `fullTextFilterFields` narrows where the term is looked for; the cursor keeps it.
    let q = |s: &str| format!("/api/catalog/entities/by-query?{s}");
    let named = app
        .get_with_token(&q("fullTextFilterTerm=PAY&fullTextFilterFields=metadata.name&limit=2"), API_TOKEN)
        .await
        .json();
    assert_eq!(named["totalItems"], 4, "{named}");
    let cursor = named["pageInfo"]["nextCursor"].as_str().unwrap().to_owned();
    let second = app.get_with_token(&q(&format!("cursor={cursor}&limit=2")), API_TOKEN).await.json();
    let mut both = names(&named);
    both.extend(names(&second));
    both.sort();
    assert_eq!(both, ["payments", "payments", "payments-api", "payments-db"], "not fraud-scorer's description");
    let described = app
        .get_with_token(
            &q("fullTextFilterTerm=fraud&fullTextFilterFields=metadata.description,metadata.title"),
            API_TOKEN,
        )
        .await
        .json();
    assert_eq!(names(&described), ["fraud-scorer"]);
    let wildcard = app.get_with_token(&q("fullTextFilterTerm=%25&fullTextFilterFields=metadata.name"), API_TOKEN).await;
    assert_eq!(wildcard.json()["totalItems"], 0, "`%` is a character, not a wildcard");
    let bad = app.get_with_token(&q("fullTextFilterTerm=x&fullTextFilterFields=spec.a%20b"), API_TOKEN).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // Errors in Backstage's shape, which its clients read.
    let path = "/api/catalog/entities/by-name/component/default/nope";
    let missing = app.get_with_token(path, API_TOKEN).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let body = missing.json();
    assert_eq!(body["error"]["name"], "NotFoundError", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("No entity named 'nope'"), "{body}");
    assert_eq!(body["request"], json!({"method": "GET", "url": path}));
    assert_eq!(body["response"], json!({"statusCode": 404}));
    let anonymous = app.get("/api/catalog/entities/by-query").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["error"]["name"], "AuthenticationError", "{}", anonymous.body);
    let anonymous = app.post_json("/api/catalog/entities/by-refs", &json!({"not": "refs"})).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "who asks comes before what: {}", anonymous.body);
    let nowhere = app.get_with_token("/api/catalog/locations/by-entity/component/default/x", API_TOKEN).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.json()["error"]["name"], "NotFoundError", "{}", nowhere.body);
    let many: String = (0..21).map(|i| format!("facet=spec.f{i}&")).collect();
    let too_many = app.get_with_token(&format!("/api/catalog/entity-facets?{many}"), API_TOKEN).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST, "{}", too_many.body);
    let bad_filter = app.get_with_token(&q("filter=spec.a%20b=red"), API_TOKEN).await.json();
    assert_eq!(bad_filter["error"]["name"], "InputError");
    assert_eq!(bad_filter["response"]["statusCode"], 400);
    // Portolan's own API keeps its own shape.
    let own = app.get_with_token("/api/v1/entities/by-ref/component/default/nope", API_TOKEN).await.json();
    assert_eq!(own, json!({"error": {"code": "not_found", "message": own["error"]["message"]}}));
}

/// Backstage's filters, orderings, text search and facets reach every field of an entity, through lists (a
/// `spec.profile.email` lookup is how Backstage's sign-in finds a user; `metadata.links.url` walks a list of
/// objects), with values in any case and booleans and numbers as JSON writes them.
async fn backstage_queries_reach_any_field_of_the_document(b: Backend) {
    let mut app = TestApp::new(b).await;
    let user = |name: &str, profile: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: {name}\nspec:\n{profile}  memberOf: []\n"
        )
    };
    let linked = |name: &str, tier: u32, public: bool, links: &str| {
        component(name, &format!("  links:\n{links}"))
            .replace("spec:\n", &format!("spec:\n  tier: {tier}\n  public: {public}\n"))
    };
    let files = [
        ("ada.yaml", user("ada", "  profile:\n    email: Ada@Example.com\n    displayName: Ada\n")),
        ("bob.yaml", user("bob", "  profile:\n    email: bob@example.com\n")),
        ("cyd.yaml", user("cyd", "")),
        // Keys in another case: Backstage compares keys in lower case.
        ("dee.yaml", user("dee", "  Profile:\n    EMail: dee@example.com\n")),
        (
            "alpha.yaml",
            linked(
                "alpha",
                2,
                true,
                "    - url: https://Dash.example.com/alpha\n      title: Dashboard\n    - url: https://runbook.example.com\n",
            ),
        ),
        ("beta.yaml", linked("beta", 3, false, "    - url: https://dash.example.com/beta\n      title: Dashboard\n")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let dir = temp_catalog("any-field", &files);
    let imported = register(&mut app, dir.to_str().unwrap()).await.json();
    assert_eq!(imported["added"], 6, "{imported}");
    let names = |page: &serde_json::Value| -> Vec<String> {
        let items = page.as_array().or_else(|| page["items"].as_array()).unwrap_or_else(|| panic!("no items: {page}"));
        items.iter().map(|i| i["metadata"]["name"].as_str().unwrap_or("null").to_owned()).collect()
    };
    let query = |s: &str| format!("/api/catalog/entities/by-query?{s}&orderField=metadata.name,asc");
    for (filter, expected) in [
        ("kind=user,spec.profile.email=ADA@example.com", vec!["ada"]),
        ("spec.profile.email", vec!["ada", "bob", "dee"]),
        ("Spec.PROFILE.eMail=ada@example.com", vec!["ada"]),
        ("KIND=User,spec.profile.email=dee@example.com", vec!["dee"]),
        ("METADATA.Links.URL=https://runbook.example.com", vec!["alpha"]),
        ("metadata.links.url=https://dash.example.com/alpha", vec!["alpha"]),
        ("metadata.links.title=dashboard", vec!["alpha", "beta"]),
        ("spec.public=true", vec!["alpha"]),
        ("spec.public=FALSE", vec!["beta"]),
        ("spec.tier=3", vec!["beta"]),
        ("spec.colour=red", vec![]),
        ("spec.profile", vec![]),
        ("spec.profile.email=ada@example.com&filter=spec.tier=2", vec!["ada", "alpha"]),
    ] {
        let res = app.get_with_token(&query(&format!("filter={filter}")), API_TOKEN).await;
        assert_eq!(res.status, StatusCode::OK, "{filter}: {}", res.body);
        assert_eq!(names(&res.json()), expected, "{filter}");
    }
    let bad = app.get_with_token(&query("filter=spec.a%20b=x"), API_TOKEN).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // Ordering by any field: entities without it come last, either way.
    let ordered = |order: &str| format!("/api/catalog/entities?filter=kind=user&order={order}&fields=metadata.name");
    let ascending = app.get_with_token(&ordered("asc:spec.profile.email"), API_TOKEN).await;
    assert_eq!(names(&ascending.json()), ["ada", "bob", "dee", "cyd"], "{}", ascending.body);
    let descending = app.get_with_token(&ordered("desc:spec.profile.email"), API_TOKEN).await;
    assert_eq!(names(&descending.json()), ["dee", "bob", "ada", "cyd"], "{}", descending.body);
    let by_tier = app
        .get_with_token("/api/catalog/entities/by-query?filter=kind=component&orderField=spec.tier,desc", API_TOKEN)
        .await;
    assert_eq!(names(&by_tier.json()), ["beta", "alpha"], "{}", by_tier.body);

    // Text search within any field.
    let searched = app
        .get_with_token(&query("fullTextFilterTerm=EXAMPLE.COM&fullTextFilterFields=spec.profile.email"), API_TOKEN)
        .await;
    assert_eq!(names(&searched.json()), ["ada", "bob", "dee"], "{}", searched.body);

    // Facets of fields inside lists of objects, and of numbers and booleans.
    let facets = app
        .get_with_token(
            "/api/catalog/entity-facets?facet=metadata.links.title&facet=metadata.links.url&facet=spec.tier\
             &facet=spec.public&facet=spec.profile.email&filter=kind=component",
            API_TOKEN,
        )
        .await
        .json();
    assert_eq!(facets["facets"]["metadata.links.title"], json!([{"value": "Dashboard", "count": 2}]), "{facets}");
    assert_eq!(
        facets["facets"]["metadata.links.url"],
        json!([
            {"value": "https://Dash.example.com/alpha", "count": 1},
            {"value": "https://dash.example.com/beta", "count": 1},
            {"value": "https://runbook.example.com", "count": 1}
        ])
    );
    assert_eq!(facets["facets"]["spec.tier"], json!([{"value": "2", "count": 1}, {"value": "3", "count": 1}]));
    assert_eq!(facets["facets"]["spec.public"], json!([{"value": "false", "count": 1}, {"value": "true", "count": 1}]));
    assert_eq!(facets["facets"]["spec.profile.email"], json!([]), "users are filtered out");
    let emails =
        app.get_with_token("/api/catalog/entity-facets?facet=Spec.Profile.Email&filter=kind=user", API_TOKEN).await;
    assert_eq!(
        emails.json()["facets"]["Spec.Profile.Email"],
        json!([
            {"value": "Ada@Example.com", "count": 1},
            {"value": "bob@example.com", "count": 1},
            {"value": "dee@example.com", "count": 1}
        ]),
        "{}",
        emails.body
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn example_catalog() -> String {
    format!("{}/../examples/catalog", env!("CARGO_MANIFEST_DIR"))
}

pub fn temp_catalog(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portolan-catalog-{name}-{}-{}", std::process::id(), rand_suffix()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

fn component(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{extra}spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

async fn register(app: &mut TestApp, target: &str) -> crate::support::TestResponse {
    app.post_json_with_token("/api/v1/locations", &json!({ "target": target }), API_TOKEN).await
}

async fn importing_the_example_catalog_and_reading_it_back(b: Backend) {
    let mut app = TestApp::new(b).await;
    let res = register(&mut app, &example_catalog()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let report = res.json();
    assert_eq!(report["added"], 14, "{report}");
    assert_eq!(report["errors"], json!([]));
    let again = register(&mut app, &example_catalog()).await.json();
    assert_eq!((again["added"].clone(), again["unchanged"].clone()), (json!(0), json!(14)), "{again}");

    let detail = app.get_with_token("/api/v1/entities/by-ref/component/default/portolan", API_TOKEN).await.json();
    let relations = detail["relations"].as_array().unwrap();
    let missing = relations.iter().find(|r| r["target_ref"] == "component:default/ledger").expect("kept, not dropped");
    assert_eq!(missing["type"], "dependsOn");
    assert_eq!(missing["target_exists"], false);
    let owner = relations.iter().find(|r| r["type"] == "ownedBy").unwrap();
    assert_eq!(owner["target_ref"], "group:default/platform");
    assert_eq!(owner["target_exists"], true);

    // The other direction is computed too.
    let group = app.get_with_token("/api/v1/entities/by-ref/group/default/payments", API_TOKEN).await.json();
    let owned: Vec<&str> = group["relations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "ownerOf")
        .map(|r| r["target_ref"].as_str().unwrap())
        .collect();
    assert!(owned.contains(&"component:default/payments-api"), "{owned:?}");
    assert!(
        group["relations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "hasMember" && r["target_ref"] == "user:default/grace")
    );

    let locations = app.get_with_token("/api/v1/locations", API_TOKEN).await.json();
    assert_eq!(locations[0]["status"], "ok");
    assert!(locations[0]["last_refresh_at"].as_str().unwrap().ends_with('Z'));
}

async fn backstage_by_name_has_backstage_shape_and_relations(b: Backend) {
    let mut app = TestApp::new(b).await;
    register(&mut app, &example_catalog()).await;
    let res = app.get_with_token("/api/catalog/entities/by-name/component/default/payments-api", API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK);
    let e = res.json();
    assert_eq!(e["apiVersion"], "backstage.io/v1alpha1");
    assert_eq!(e["kind"], "Component");
    assert_eq!(e["metadata"]["name"], "payments-api");
    assert_eq!(e["metadata"]["namespace"], "default");
    assert_eq!(e["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(!e["metadata"]["etag"].as_str().unwrap().is_empty());
    assert!(e["metadata"]["annotations"]["backstage.io/managed-by-location"].as_str().unwrap().starts_with("file:"));
    assert_eq!(e["spec"]["owner"], "payments");
    let rels = e["relations"].as_array().unwrap();
    assert!(rels.contains(&json!({"type": "ownedBy", "targetRef": "group:default/payments"})), "{rels:?}");
    assert!(rels.contains(&json!({"type": "providesApi", "targetRef": "api:default/payments"})), "{rels:?}");
    assert!(rels.contains(&json!({"type": "dependsOn", "targetRef": "resource:default/payments-db"})), "{rels:?}");
    // Case-insensitive, like Backstage.
    let upper = app.get_with_token("/api/catalog/entities/by-name/Component/default/Payments-API", API_TOKEN).await;
    assert_eq!(upper.status, StatusCode::OK);
    let missing = app.get_with_token("/api/catalog/entities/by-name/component/default/nope", API_TOKEN).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let anonymous = app.get("/api/catalog/entities/by-name/component/default/payments-api").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // As in Backstage, the etag changes when the entity served changes, relations included: a new component owned
    // by `payments` gives the group a new ownerOf relation. Portolan's own etag, of the group's document, stays.
    let group = "/api/catalog/entities/by-name/group/default/payments";
    let own = "/api/v1/entities/by-ref/group/default/payments";
    let (before, own_before) =
        (app.get_with_token(group, API_TOKEN).await.json(), app.get_with_token(own, API_TOKEN).await.json());
    let dir = temp_catalog("etag", &[("c.yaml", &owned_component("default", "ledger", "payments"))]);
    assert_eq!(register(&mut app, dir.to_str().unwrap()).await.json()["added"], 1);
    let (after, own_after) =
        (app.get_with_token(group, API_TOKEN).await.json(), app.get_with_token(own, API_TOKEN).await.json());
    assert!(
        after["relations"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "ownerOf", "targetRef": "component:default/ledger"}))
    );
    assert_ne!(after["metadata"]["etag"], before["metadata"]["etag"], "{after}");
    assert_eq!(own_after["etag"], own_before["etag"]);
    assert_eq!(
        app.get_with_token(group, API_TOKEN).await.json()["metadata"]["etag"],
        after["metadata"]["etag"],
        "stable"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The by-name read cache: it serves repeated lookups, shows a change this process made at once, one another
/// process made once it polls `catalog_generation`, and never shows a hidden entity to someone who may not see it.
async fn by_name_cache_follows_this_and_other_processes_changes(b: Backend) {
    use portolan_core::catalog::cache;
    let mut app =
        TestApp::with(b, FakeGithubConfig::default(), |c| c.hidden_namespaces = vec!["secret".to_owned()]).await;
    let described = |text: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shop\n  description: {text}\n\
             spec:\n  type: service\n  lifecycle: production\n  owner: group:default/search\n"
        )
    };
    let dir = temp_catalog(
        "cache",
        &[("shop.yaml", &described("first")), ("hsm.yaml", &owned_component("secret", "hsm", "group:default/search"))],
    );
    let db = app.state.app.db.clone();
    let before = cache::generation(&db).await.unwrap();
    assert_eq!(register(&mut app, &dir.to_string_lossy()).await.json()["added"], 2);
    assert!(cache::generation(&db).await.unwrap() > before, "an import that changed entities raises the generation");
    let unchanged = cache::generation(&db).await.unwrap();
    register(&mut app, &dir.to_string_lossy()).await;
    assert_eq!(cache::generation(&db).await.unwrap(), unchanged, "a refresh that changed nothing leaves it");

    let entity_cache = app.state.app.entity_cache.clone();
    entity_cache.poll(&db).await.unwrap();
    let shop = "/api/catalog/entities/by-name/component/default/shop";
    let description = |app_res: crate::support::TestResponse| app_res.json()["metadata"]["description"].clone();
    assert_eq!(description(app.get_with_token(shop, API_TOKEN).await), "first");
    assert_eq!(entity_cache.usage().0, 1, "the answer is kept");
    assert_eq!(description(app.get_with_token(shop, API_TOKEN).await), "first");

    // A change through this process shows at once.
    std::fs::write(dir.join("shop.yaml"), described("second")).unwrap();
    assert_eq!(register(&mut app, &dir.to_string_lossy()).await.json()["updated"], 1);
    assert_eq!(description(app.get_with_token(shop, API_TOKEN).await), "second");

    // Another process's change: written straight to the database with the generation raised, as its own
    // transaction does. Served from memory until the next poll, then fresh. (Catalog writes of other tests in the
    // same process would empty this cache too; nextest runs each test in a process of its own.)
    assert_eq!(entity_cache.usage().0, 1);
    let backend = db.get_database_backend();
    let body: String = {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT body FROM entities WHERE entity_ref = 'component:default/shop'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    let changed = body.replace("\"second\"", "\"third\"");
    assert_ne!(body, changed);
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        if backend == sea_orm::DbBackend::Postgres {
            "UPDATE entities SET body = $1 WHERE entity_ref = 'component:default/shop'"
        } else {
            "UPDATE entities SET body = ? WHERE entity_ref = 'component:default/shop'"
        },
        [changed.into()],
    ))
    .await
    .unwrap();
    db.execute_unprepared("UPDATE catalog_generation SET value = value + 1 WHERE id = 1").await.unwrap();
    assert_eq!(description(app.get_with_token(shop, API_TOKEN).await), "second", "still the cached answer");
    entity_cache.poll(&db).await.unwrap();
    assert_eq!(description(app.get_with_token(shop, API_TOKEN).await), "third", "the poll saw the other process");

    // An administrator's lookup fills the cache with a hidden entity; someone else still gets 404 for it.
    let hsm = "/api/catalog/entities/by-name/component/secret/hsm";
    assert_eq!(app.get_with_token(hsm, API_TOKEN).await.status, StatusCode::OK);
    assert_eq!(app.get_with_token(hsm, API_TOKEN).await.status, StatusCode::OK);
    app.login_as("hubot").await;
    assert_eq!(app.get(hsm).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(shop).await.status, StatusCode::OK);

    // A list's count is kept per filters and viewer, and follows the same changes.
    let components = "/api/v1/entities?kind=component";
    let total = |res: crate::support::TestResponse| res.json()["total"].clone();
    assert_eq!(total(app.get(components).await), 1, "hubot does not count the hidden entity");
    assert_eq!(total(app.get_with_token(components, API_TOKEN).await), 2);
    assert_eq!(total(app.get(components).await), 1, "nor once the administrator's count is kept");
    db.execute_unprepared("UPDATE entities SET kind = 'resource' WHERE entity_ref = 'component:default/shop'")
        .await
        .unwrap();
    db.execute_unprepared("UPDATE catalog_generation SET value = value + 1 WHERE id = 1").await.unwrap();
    let listed = |res: crate::support::TestResponse| -> Vec<String> {
        res.json()["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(total(app.get_with_token(components, API_TOKEN).await), 2, "the kept count until the poll");
    assert_eq!(listed(app.get_with_token(components, API_TOKEN).await), ["hsm", "shop"], "and the kept page");
    assert_eq!(listed(app.get(components).await), ["shop"], "each viewer's own page");
    entity_cache.poll(&db).await.unwrap();
    assert_eq!(total(app.get_with_token(components, API_TOKEN).await), 1, "the poll saw the other process");
    assert_eq!(listed(app.get_with_token(components, API_TOKEN).await), ["hsm"]);
    assert!(listed(app.get(components).await).is_empty());
    // A change through this process shows on the next page at once.
    db.execute_unprepared("UPDATE entities SET kind = 'component' WHERE entity_ref = 'component:default/shop'")
        .await
        .unwrap();
    cache::note_local_write();
    assert_eq!(listed(app.get_with_token(components, API_TOKEN).await), ["hsm", "shop"]);
    db.execute_unprepared("UPDATE entities SET kind = 'resource' WHERE entity_ref = 'component:default/shop'")
        .await
        .unwrap();
    cache::note_local_write();
    assert_eq!(listed(app.get_with_token(components, API_TOKEN).await), ["hsm"]);

    // Text search reads every entity's search text from the cache once, then matches in memory, with the other
    // filters and visibility still applied by the database; it follows the same changes.
    let search = |q: &str| format!("/api/v1/entities?q={q}");
    let names = |res: crate::support::TestResponse| -> Vec<String> {
        let v = res.json();
        let mut names: Vec<String> =
            v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        names
    };
    assert!(matches!(entity_cache.search_texts(), cache::SearchState::Unread));
    assert_eq!(names(app.get_with_token(&search("secon"), API_TOKEN).await), ["shop"]);
    assert!(matches!(entity_cache.search_texts(), cache::SearchState::Kept(_)), "read once and kept");
    assert_eq!(names(app.get_with_token(&search("sh+sec"), API_TOKEN).await), ["shop"], "every word, partially");
    assert!(names(app.get_with_token(&search("shop+nowhere"), API_TOKEN).await).is_empty());
    assert_eq!(names(app.get_with_token(&format!("{}&kind=resource", search("shop")), API_TOKEN).await), ["shop"]);
    assert!(names(app.get_with_token(&format!("{}&kind=component", search("shop")), API_TOKEN).await).is_empty());
    assert_eq!(names(app.get_with_token(&search("hsm"), API_TOKEN).await), ["hsm"]);
    assert!(names(app.get(&search("hsm")).await).is_empty(), "hidden from hubot in memory too");
    // A wildcard character is taken literally, as by the database's search.
    assert!(names(app.get_with_token(&search("sh_p"), API_TOKEN).await).is_empty());
    // Another process's change shows after the poll; a change through this process at once.
    db.execute_unprepared(
        "UPDATE entities SET search_text = 'shop renamed fourth' WHERE entity_ref = 'component:default/shop'",
    )
    .await
    .unwrap();
    db.execute_unprepared("UPDATE catalog_generation SET value = value + 1 WHERE id = 1").await.unwrap();
    assert!(names(app.get_with_token(&search("fourth"), API_TOKEN).await).is_empty(), "until the poll");
    entity_cache.poll(&db).await.unwrap();
    assert_eq!(names(app.get_with_token(&search("fourth"), API_TOKEN).await), ["shop"]);
    std::fs::write(dir.join("shop.yaml"), described("fifth")).unwrap();
    register(&mut app, &dir.to_string_lossy()).await;
    assert_eq!(names(app.get_with_token(&search("fifth"), API_TOKEN).await), ["shop"], "this process's import");
    assert!(names(app.get_with_token(&search("fourth"), API_TOKEN).await).is_empty());
}

async fn filters_search_and_cursor_paging(b: Backend) {
    let mut app = TestApp::new(b).await;
    register(&mut app, &example_catalog()).await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
    };
    let components = app.get_with_token("/api/v1/entities?kind=component", API_TOKEN).await.json();
    assert_eq!(components["total"], 4);
    assert_eq!(names(&components), ["fraud-scorer", "payments-api", "portolan", "storefront"]);
    let owned = app.get_with_token("/api/v1/entities?kind=component&owner=payments", API_TOKEN).await.json();
    assert_eq!(names(&owned), ["payments-api", "storefront"]);
    let full_ref =
        app.get_with_token("/api/v1/entities?owner=group:default/platform&kind=component", API_TOKEN).await.json();
    assert_eq!(names(&full_ref), ["fraud-scorer", "portolan"]);
    let partial = app.get_with_token("/api/v1/entities?q=FRAU", API_TOKEN).await.json();
    assert_eq!(names(&partial), ["fraud-scorer"], "partial words, any case, in the name");
    assert_eq!(partial["total"], 1, "{partial}");
    // Past the last page: no items, and still the true total.
    let past = app.get_with_token("/api/v1/entities?lifecycle=production&cursor=o64", API_TOKEN).await.json();
    assert!(past["items"].as_array().unwrap().is_empty() && past["next_cursor"].is_null(), "{past}");
    let production = app.get_with_token("/api/v1/entities?lifecycle=production", API_TOKEN).await.json();
    assert!(production["total"].as_u64().unwrap() > 0);
    assert_eq!(past["total"], production["total"], "{past}");
    let described = app.get_with_token("/api/v1/entities?q=receipt", API_TOKEN).await.json();
    assert_eq!(names(&described), ["commerce"], "words in the description");
    let tagged = app.get_with_token("/api/v1/entities?tag=ml", API_TOKEN).await.json();
    assert_eq!(names(&tagged), ["fraud-scorer"]);
    let in_system = app.get_with_token("/api/v1/entities?system=checkout&type=service", API_TOKEN).await.json();
    assert_eq!(names(&in_system), ["fraud-scorer", "payments-api"]);
    let slim =
        app.get_with_token("/api/v1/entities?kind=component&fields=name,owner_ref&limit=1", API_TOKEN).await.json();
    assert_eq!(slim["items"][0], json!({"name": "fraud-scorer", "owner_ref": "group:default/platform"}));
    let bad_field = app.get_with_token("/api/v1/entities?fields=secret", API_TOKEN).await;
    assert_eq!(bad_field.status, StatusCode::BAD_REQUEST);
    let newest_first = app.get_with_token("/api/v1/entities?kind=component&sort=-name", API_TOKEN).await.json();
    assert_eq!(names(&newest_first), ["storefront", "portolan", "payments-api", "fraud-scorer"]);

    let mut seen = Vec::new();
    let mut url = "/api/v1/entities?limit=5".to_owned();
    loop {
        let page = app.get_with_token(&url, API_TOKEN).await.json();
        assert_eq!(page["total"], 14);
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["entity_ref"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/entities?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 14);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 14, "no entity twice across pages: {seen:?}");
}

async fn bad_documents_are_reported_and_good_ones_kept(b: Backend) {
    let mut app = TestApp::new(b).await;
    let text = format!(
        "{}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [broken\n---\n{}",
        component("good-one", ""),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: no-owner\nspec:\n  type: service\n  lifecycle: production\n"
    );
    let dir = temp_catalog("bad", &[("catalog-info.yaml", &text)]);
    let report = register(&mut app, dir.to_str().unwrap()).await.json();
    assert_eq!(report["added"], 1, "{report}");
    let errors: Vec<String> =
        report["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("catalog-info.yaml") && e.contains("document 2") && e.contains("line")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("document 3") && e.contains("spec.owner")), "{errors:?}");
    let locations = app.get_with_token("/api/v1/locations", API_TOKEN).await.json();
    assert_eq!(locations[0]["status"], "failed");
    assert!(locations[0]["last_error"].as_str().unwrap().contains("spec.owner"));
    let _ = std::fs::remove_dir_all(dir);
}

const GOES_EDIT_URL: &str = "  annotations:\n    backstage.io/edit-url: https://git.example.com/edit/goes.yaml\n";

async fn entities_no_longer_declared_become_orphans_and_failed_files_orphan_nothing(b: Backend) {
    let mut app = TestApp::new(b).await;
    let dir = temp_catalog(
        "orphan",
        &[
            ("a.yaml", &format!("{}---\n{}", component("stays", ""), component("goes", GOES_EDIT_URL))),
            ("b.yaml", &component("other", "  annotations:\n    github.com/project-slug: acme/other\n")),
        ],
    );
    register(&mut app, dir.to_str().unwrap()).await;
    std::fs::write(dir.join("a.yaml"), component("stays", "")).unwrap();
    let report = register(&mut app, dir.to_str().unwrap()).await.json();
    assert_eq!(report["orphaned"], 1, "{report}");
    assert_eq!(report["removed"], 0, "kept unless the setting asks otherwise: {report}");
    // The refresh's audit entry names each entity it changed, with before and after.
    let audit = portolan_core::audit::recent(&app.state.app.db, 5).await.unwrap();
    let refresh = audit.iter().find(|e| e.action == "catalog.refresh").expect("the refresh is audited");
    let detail: serde_json::Value = serde_json::from_str(refresh.detail.as_deref().unwrap()).unwrap();
    let changed = detail["entities"].as_array().unwrap_or_else(|| panic!("{detail}"));
    assert_eq!(changed.len(), 1, "{detail}");
    assert_eq!(
        (changed[0]["ref"].as_str(), changed[0]["change"].as_str()),
        (Some("component:default/goes"), Some("orphaned"))
    );
    assert_eq!(changed[0]["before"]["metadata"]["name"], "goes", "{detail}");
    let first = audit.iter().filter(|e| e.action == "catalog.refresh").nth(1).expect("the first import too");
    let detail: serde_json::Value = serde_json::from_str(first.detail.as_deref().unwrap()).unwrap();
    let mut added: Vec<(&str, &str)> = detail["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["ref"].as_str().unwrap(), c["change"].as_str().unwrap()))
        .collect();
    added.sort();
    assert_eq!(
        added,
        [
            ("component:default/goes", "added"),
            ("component:default/other", "added"),
            ("component:default/stays", "added")
        ]
    );
    assert!(detail["entities"][0]["before"].is_null() && detail["entities"][0]["after"]["kind"] == "Component");
    let goes = app.get_with_token("/api/v1/entities/by-ref/component/default/goes", API_TOKEN).await.json();
    assert_eq!(goes["summary"]["orphan"], true, "kept and marked, not deleted");
    // Backstage's JSON marks it as Backstage does, and its orphan filter finds it.
    let backstage = app.get_with_token("/api/catalog/entities/by-name/component/default/goes", API_TOKEN).await.json();
    assert_eq!(backstage["metadata"]["annotations"]["backstage.io/orphan"], "true", "{backstage}");
    let orphans = app
        .get_with_token(
            "/api/catalog/entities/by-query?filter=metadata.annotations.backstage.io/orphan=true",
            API_TOKEN,
        )
        .await
        .json();
    assert_eq!(orphans["items"][0]["metadata"]["name"], "goes", "{orphans}");
    assert_eq!(orphans["totalItems"], 1);

    // b.yaml breaks: what it declared last time survives the failed refresh.
    std::fs::write(dir.join("b.yaml"), "kind: [oops\n").unwrap();
    let report = register(&mut app, dir.to_str().unwrap()).await.json();
    assert_eq!(report["orphaned"], 0, "{report}");
    let other = app.get_with_token("/api/v1/entities/by-ref/component/default/other", API_TOKEN).await.json();
    assert_eq!(other["summary"]["orphan"], false);

    // Only an orphan can be removed, and only on purpose. Its page offers that instead of a link to a file that
    // no longer declares it, even when it carries an edit URL.
    app.login_as("octocat").await;
    let page = app.get("/catalog/default/component/goes").await;
    assert!(page.body.contains("Remove orphan"), "{}", page.body);
    assert!(!page.body.contains("Edit in repository"), "{}", page.body);
    let page = app.get("/catalog/default/component/other").await;
    let web = app.state.app.config.github_url.as_str().trim_end_matches('/').to_owned();
    assert!(page.body.contains(&format!("href=\"{web}/acme/other/blob/HEAD/catalog-info.yaml\"")), "{}", page.body);
    assert!(!page.body.contains("Remove orphan"));
    let still_declared = app
        .post_form(
            "/fn/catalog_remove_orphan",
            "entity_ref=component%3Adefault%2Fstays",
            &[("accept", "application/json")],
        )
        .await;
    assert!(still_declared.body.contains("still declared"), "{still_declared:?}");
    let removed = app
        .post_form(
            "/fn/catalog_remove_orphan",
            "entity_ref=component%3Adefault%2Fgoes",
            &[("accept", "application/json")],
        )
        .await;
    assert_eq!(removed.headers["location"], "/catalog", "{removed:?}");
    let gone = app.get_with_token("/api/v1/entities/by-ref/component/default/goes", API_TOKEN).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    // The whole location vanishing is a failed refresh, not a mass orphaning.
    std::fs::remove_dir_all(&dir).unwrap();
    let report = register(&mut app, dir.to_str().unwrap()).await.json();
    assert_eq!(report["orphaned"], 0, "{report}");
    let stays = app.get_with_token("/api/v1/entities/by-ref/component/default/stays", API_TOKEN).await.json();
    assert_eq!(stays["summary"]["orphan"], false);
}

async fn two_locations_cannot_manage_one_entity(b: Backend) {
    let mut app = TestApp::new(b).await;
    let first = temp_catalog("first", &[("c.yaml", &component("shared", ""))]);
    let second = temp_catalog("second", &[("c.yaml", &component("shared", "  title: Impostor\n"))]);
    register(&mut app, first.to_str().unwrap()).await;
    let report = register(&mut app, second.to_str().unwrap()).await.json();
    assert_eq!(report["added"], 0);
    assert!(report["errors"][0].as_str().unwrap().contains("already managed"), "{report}");
    let e = app.get_with_token("/api/v1/entities/by-ref/component/default/shared", API_TOKEN).await.json();
    assert_eq!(e["summary"]["title"], serde_json::Value::Null, "the first location's version stays");
    let _ = std::fs::remove_dir_all(first);
    let _ = std::fs::remove_dir_all(second);
}

async fn registering_a_location_needs_an_administrator(b: Backend) {
    let mut app = TestApp::new(b).await;
    app.login_as("hubot").await;
    let res = app.post_json("/api/v1/locations", &json!({ "target": example_catalog() })).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("catalog.location.create"));
    let anonymous = TestApp::new(b).await.post_json("/api/v1/locations", &json!({ "target": example_catalog() })).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let list = app.get("/api/v1/entities").await.json();
    assert_eq!(list["total"], 0, "nothing was imported");
}

async fn catalog_pages_render_and_escape_user_text(b: Backend) {
    let mut app = TestApp::new(b).await;
    register(&mut app, &example_catalog()).await;
    let evil = temp_catalog(
        "evil",
        &[(
            "evil.yaml",
            &component(
                "evil",
                "  description: \"<script>alert(1)</script>\"\n  links:\n    - url: \"javascript:alert(1)\"\n      title: click me\n",
            ),
        )],
    );
    std::fs::write(
        evil.join("graph.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: graph\nspec:\n  type: graphql\n  \
         lifecycle: production\n  owner: team-a\n  definition: |\n    # </code><script>alert(1)</script>\n    \
         type Query { payment(id: ID!): String }\n",
    )
    .unwrap();
    register(&mut app, evil.to_str().unwrap()).await;
    app.login_as("octocat").await;

    // octocat's GitHub team acme/payments stands for the catalog group `payments`.
    let home = app.get("/").await;
    assert!(home.body.contains("My services"));
    assert!(home.body.contains("href=\"/catalog/default/component/payments-api\""), "{}", home.body);
    assert!(home.body.contains("href=\"/catalog/default/component/fraud-scorer\""), "acme/platform owns it");

    let list = app.get("/catalog?kind=component&owner=payments").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("2 entities match"), "{}", list.body);
    assert!(list.body.contains("href=\"/catalog/default/component/payments-api\""));
    assert!(!list.body.contains(">Fraud scorer<"));

    let page = app.get("/catalog/default/component/portolan").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("component:default/ledger"));
    assert!(page.body.contains("missing"));
    assert!(page.body.contains("href=\"/catalog/default/group/platform\""));

    let evil_page = app.get("/catalog/default/component/evil").await;
    assert!(!evil_page.body.contains("<script>alert(1)</script>"));
    assert!(evil_page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!evil_page.body.contains("href=\"javascript:"), "non-http links are not links");

    let api = app.get("/catalog/default/api/payments").await;
    assert!(api.body.contains("/payments/{id}/capture"), "OpenAPI operations are listed");
    assert!(api.body.contains("<span class=\"hl-key\">openapi</span>"), "its source is highlighted YAML");
    assert!(api.body.contains("<span class=\"hl-key\">apiVersion</span>"), "so is the entity's own document");
    let graph = app.get("/catalog/default/api/graph").await;
    assert!(graph.body.contains("<span class=\"hl-kw\">type</span> Query"), "{}", graph.body);
    assert!(graph.body.contains("&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", graph.body);
    assert!(!graph.body.contains("<script>alert(1)"));
    let graph_json = app.get_with_token("/api/v1/entities/by-ref/api/default/graph", API_TOKEN).await.json();
    assert!(graph_json.get("highlighted").is_none(), "the JSON API keeps to the data: {graph_json}");
    assert!(api.body.contains("Capture a payment"));
    let api_json = app.get_with_token("/api/v1/entities/by-ref/api/default/payments", API_TOKEN).await.json();
    assert_eq!(
        api_json["api_operations"][1],
        json!({"method": "POST", "path": "/payments/{id}/capture", "summary": "Capture a payment"})
    );

    let nothing = app.get("/catalog/default/component/does-not-exist").await;
    assert_eq!(nothing.status, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(evil);
}

async fn orphans_are_deleted_when_the_setting_asks_for_it(b: Backend) {
    let mut app =
        TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| c.catalog_delete_orphans = true).await;
    let dir = temp_catalog(
        "delete-orphans",
        &[("a.yaml", &format!("{}---\n{}", component("stays", ""), component("goes", "")))],
    );
    register(&mut app, dir.to_str().unwrap()).await;
    std::fs::write(dir.join("a.yaml"), component("stays", "")).unwrap();
    let report = register(&mut app, dir.to_str().unwrap()).await.json();
    assert_eq!((&report["removed"], &report["orphaned"]), (&json!(1), &json!(0)), "{report}");
    let gone = app.get_with_token("/api/v1/entities/by-ref/component/default/goes", API_TOKEN).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Its relations (ownedBy, and the owner's ownerOf) go with it: on PostgreSQL no foreign key removes them.
    assert_eq!(relations_mentioning(&app, "component:default/goes").await, 0);
    assert_eq!(relations_mentioning(&app, "component:default/stays").await, 2, "ownedBy and ownerOf");
    let _ = std::fs::remove_dir_all(dir);
}

/// How many stored relations have `entity_ref` at either end.
async fn relations_mentioning(app: &TestApp, entity_ref: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = &app.state.app.db;
    let sql =
        format!("SELECT count(*) FROM relations WHERE source_ref = '{entity_ref}' OR target_ref = '{entity_ref}'");
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

fn described_component(name: &str, description: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  description: {description}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: payments\n"
    )
}

/// Search goes through a trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL): it must still find parts of words,
/// follow edits of the indexed text, and take any characters.
async fn search_follows_every_change_through_the_index(b: Backend) {
    let mut app = TestApp::new(b).await;
    let dir = temp_catalog(
        "search",
        &[
            ("a.yaml", &described_component("ledger-writer", "Writes double-entry bookings")),
            ("b.yaml", &described_component("ledger-reader", "Reads bookings for reports")),
        ],
    );
    let target = dir.to_string_lossy().into_owned();
    assert_eq!(register(&mut app, &target).await.status, StatusCode::CREATED);
    assert_eq!(search_names(&mut app, "DGER").await, ["ledger-reader", "ledger-writer"], "inside a word, any case");
    assert_eq!(search_names(&mut app, "ledger%20double").await, ["ledger-writer"], "every word must match");
    assert_eq!(search_names(&mut app, "ok").await, ["ledger-reader", "ledger-writer"], "two letters: b-oo-k-ings");
    assert_eq!(
        search_names(&mut app, "%22bookings%22%20OR").await,
        Vec::<String>::new(),
        "quotes and operators are text"
    );
    assert_eq!(search_names(&mut app, "*").await, Vec::<String>::new());

    std::fs::write(dir.join("a.yaml"), described_component("ledger-writer", "Appends journal lines")).unwrap();
    assert_eq!(register(&mut app, &target).await.status, StatusCode::CREATED);
    assert_eq!(search_names(&mut app, "journal").await, ["ledger-writer"], "the new description is indexed");
    assert_eq!(search_names(&mut app, "double").await, Vec::<String>::new(), "the old one is gone from the index");
    let backstage =
        app.get_with_token("/api/catalog/entities/by-query?fullTextFilterTerm=ppends", API_TOKEN).await.json();
    assert_eq!(backstage["totalItems"], 1, "{backstage}");
}

/// A large import is searchable at full speed at once: on PostgreSQL the trigram index's pending entries (which
/// every search reads end to end until a vacuum merges them) are merged by the import itself.
async fn a_large_import_leaves_the_search_index_merged(b: Backend) {
    let mut app = TestApp::new(b).await;
    let many: String = (0..600)
        .map(|i| {
            format!(
                "---\n{}",
                described_component(&format!("worker-{i}"), &format!("Handles queue number {i} of the warehouse"))
            )
        })
        .collect();
    let dir = temp_catalog("large", &[("many.yaml", &many)]);
    let res = register(&mut app, &dir.to_string_lossy()).await;
    assert_eq!(res.json()["added"], 600, "{}", res.body);
    assert_eq!(search_names(&mut app, "worker-417").await, ["worker-417"]);
    assert_eq!(search_names(&mut app, "queue%20number%20599").await, ["worker-599"]);
    if matches!(b, Backend::Postgres) {
        let pending = app
            .state
            .app
            .db
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT gin_clean_pending_list('ix_entities_search_trgm'::regclass) AS pages",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "pages")
            .unwrap();
        assert_eq!(pending, 0, "the import merged the index's pending entries");
    }
}

async fn search_names(app: &mut TestApp, q: &str) -> Vec<String> {
    let res = app.get_with_token(&format!("/api/v1/entities?q={q}"), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{q}: {res:?}");
    res.json()["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

fn owned_component(namespace: &str, name: &str, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n  dependsOn: [component:secret/hsm]\n"
    )
}

/// `PORTOLAN_HIDDEN_NAMESPACES`: entities there are seen only by administrators and their owners' members, in every
/// list, page, search, facet and graph.
async fn hidden_namespaces_show_only_to_owners_and_administrators(b: Backend) {
    let mut app =
        TestApp::with(b, FakeGithubConfig::default(), |c| c.hidden_namespaces = vec!["secret".to_owned()]).await;
    let group = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: vaulters\n\
                 spec:\n  type: team\n  children: []\n  members: [hubot]\n";
    let dir = temp_catalog(
        "hidden",
        &[
            ("group.yaml", group),
            ("vault.yaml", &owned_component("secret", "vault", "group:default/vaulters")),
            ("hsm.yaml", &owned_component("secret", "hsm", "group:default/search")),
            ("shop.yaml", &owned_component("default", "shop", "group:default/search")),
        ],
    );
    let res = register(&mut app, &dir.to_string_lossy()).await;
    assert_eq!(res.json()["added"], 4, "{}", res.body);
    // An administrator sees everything.
    let all = app.get_with_token("/api/v1/entities?kind=component&q=s", API_TOKEN).await.json();
    assert_eq!(all["total"], 2, "shop and hsm match `s`: {all}");
    app.login_as("hubot").await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["entity_ref"].as_str().unwrap().to_owned()).collect()
    };
    let mine = app.get("/api/v1/entities?kind=component").await.json();
    assert_eq!(names(&mine), ["component:default/shop", "component:secret/vault"], "hsm is hidden: {mine}");
    assert_eq!(mine["total"], 2);
    let hidden = app.get("/api/v1/entities/by-ref/component/secret/hsm").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let backstage = app.get("/api/catalog/entities/by-name/component/secret/hsm").await;
    assert_eq!(backstage.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/entities/by-ref/component/secret/hsm/graph").await.status, StatusCode::NOT_FOUND);
    let page = app.get("/catalog/secret/component/hsm").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "the page too");
    // The dependency of a visible entity on a hidden one shows as missing, and the graph leaves it out.
    let vault = app.get("/api/v1/entities/by-ref/component/secret/vault").await.json();
    let dep = vault["relations"].as_array().unwrap().iter().find(|r| r["type"] == "dependsOn").cloned().unwrap();
    assert_eq!(dep["target_exists"], false, "{dep}");
    assert!(dep["target_title"].is_null());
    let graph = app.get("/api/v1/entities/by-ref/component/default/shop/graph").await.json();
    assert!(!graph.to_string().contains("secret/hsm"), "{graph}");
    let q = app.get("/api/catalog/entities/by-query?filter=metadata.namespace=secret").await.json();
    assert_eq!(q["totalItems"], 1, "{q}");
    let listed = app.get("/api/catalog/entities?filter=metadata.namespace=secret").await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let refs = json!({"entityRefs": ["component:secret/hsm", "component:secret/vault"]});
    let batch = app.post_json("/api/catalog/entities/by-refs", &refs).await.json();
    assert!(batch["items"][0].is_null(), "hidden, as if it did not exist: {batch}");
    assert_eq!(batch["items"][1]["metadata"]["name"], "vault", "{batch}");
    // A relation facet leaves out targets the viewer may not see; an administrator's token sees them.
    let deps = app.get("/api/catalog/entity-facets?facet=relations.dependsOn").await.json();
    assert!(!deps.to_string().contains("secret/hsm"), "{deps}");
    let all_deps = app.get_with_token("/api/catalog/entity-facets?facet=relations.dependsOn", API_TOKEN).await.json();
    assert!(all_deps.to_string().contains("component:secret/hsm"), "{all_deps}");
    let facets = app.get("/api/catalog/entity-facets?facet=metadata.namespace").await.json();
    let secret = facets["facets"]["metadata.namespace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["value"] == "secret")
        .cloned()
        .unwrap();
    assert_eq!(secret["count"], 1, "{facets}");
    let explained = app.get("/api/v1/access/decisions?entity=component:secret/hsm").await;
    assert_eq!(explained.status, StatusCode::NOT_FOUND, "asking about it does not reveal it: {explained:?}");
}

/// Text between a heading and the end of its list, to check one section's contents.
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let start = page.find(&format!("<h3>{heading}</h3>")).unwrap_or_else(|| panic!("no {heading} section"));
    let rest = &page[start..];
    &rest[..rest.find("</div>").unwrap_or(rest.len())]
}

async fn group_and_user_pages_show_where_they_sit_who_is_in_them_and_what_they_own(b: Backend) {
    let mut app = TestApp::new(b).await;
    register(&mut app, &example_catalog()).await;
    app.login_as("octocat").await;
    let team = app.get("/catalog/default/group/payments").await;
    assert_eq!(team.status, StatusCode::OK);
    assert!(team.body.contains(">Team</h2>"), "{}", team.body);
    assert!(section(&team.body, "Parent").contains("/catalog/default/group/engineering"));
    assert!(section(&team.body, "Members").contains("/catalog/default/user/grace"));
    let owns = section(&team.body, "Owns (5)");
    for owned in ["/catalog/default/component/payments-api", "/catalog/default/component/storefront"] {
        assert!(owns.contains(owned), "{owned} in {owns}");
    }
    let dept = app.get("/catalog/default/group/engineering").await;
    let children = section(&dept.body, "Child groups");
    assert!(children.contains("group/payments") && children.contains("group/platform"), "{children}");
    let person = app.get("/catalog/default/user/grace").await;
    assert!(person.body.contains(">Person</h2>"));
    assert!(section(&person.body, "Member of").contains("/catalog/default/group/payments"));
}

/// The data a server-rendered page fetched, as the hydration scripts carry it: one payload per resource.
fn resource_payloads(html: &str) -> Vec<&str> {
    html.split("__RESOLVED_RESOURCES[")
        .skip(1)
        .filter_map(|chunk| chunk.split_once("] = ").map(|(_, rest)| rest))
        .map(|rest| rest.split("\";").next().unwrap_or(rest))
        .collect()
}

/// Every page behind sign-in builds its body once on the server: each of its data reads runs once and reaches the
/// browser once (the page's suspense used to run it three times, tripling the work and the payload).
async fn signed_in_pages_fetch_their_data_once(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    app.login_as("octocat").await;
    for path in [
        "/catalog",
        "/catalog/default/component/payments-api",
        "/docs",
        "/cost",
        "/deploys",
        "/health",
        "/settings/access",
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {page:?}");
        let payloads = resource_payloads(&page.body);
        assert!(payloads.len() >= 2, "{path}: the viewer and the page's own data are sent: {payloads:?}");
        let mut seen = std::collections::HashSet::new();
        // Short answers (an empty list, nothing) may well come from two different reads.
        for p in payloads.iter().filter(|p| p.len() > 64) {
            assert!(seen.insert(*p), "{path}: the same data was fetched and sent twice: {p}");
        }
    }
}
