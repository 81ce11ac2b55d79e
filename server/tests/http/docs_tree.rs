//! Docs beyond single pages: pages nested under pages (breadcrumbs, sub-page lists, moves that cannot make a
//! loop), and files attached to a page (checked content, a size limit, safe headers, who may add them).

use axum::body::Body;
use http::{Request, StatusCode};
use portolan_testkit::FakeGithubConfig;
use serde_json::json;

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp, TestResponse};

db_tests!(
    pages_nest_with_breadcrumbs_and_never_loop,
    files_are_attached_checked_and_served_safely,
    a_plain_form_upload_comes_back_to_the_page,
    only_editors_attach_and_files_go_with_their_page,
);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

async fn new_page(app: &mut TestApp, title: &str, parent: Option<&str>) -> serde_json::Value {
    let body = json!({"space": "payments", "title": title, "markdown": format!("# {title}\n"), "owner": "payments",
        "parent": parent});
    let res = app.post_json_with_token("/api/v1/pages", &body, API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    res.json()
}

async fn move_to(app: &mut TestApp, id: i64, body: serde_json::Value) -> TestResponse {
    app.post_json_with_token(&format!("/api/v1/pages/{id}/move"), &body, API_TOKEN).await
}

async fn pages_nest_with_breadcrumbs_and_never_loop(b: Backend) {
    let mut app = TestApp::new(b).await;
    let top = new_page(&mut app, "Operations", None).await;
    let mid = new_page(&mut app, "Databases", Some("operations")).await;
    let leaf = new_page(&mut app, "Failover", Some("databases")).await;
    let crumbs: Vec<&str> =
        leaf["breadcrumbs"].as_array().unwrap().iter().map(|c| c["slug"].as_str().unwrap()).collect();
    assert_eq!(crumbs, ["operations", "databases"]);
    let top_now = app.get_with_token(&format!("/api/v1/pages/{}", top["id"]), API_TOKEN).await.json();
    assert_eq!(top_now["children"][0]["title"], "Databases", "{top_now}");

    // The browser shows the trail and the sub-pages.
    app.login_as("octocat").await;
    let shown = app.get("/docs/payments/failover").await;
    assert!(shown.body.contains(r#"href="/docs/payments/operations""#), "{}", shown.body);
    assert!(shown.body.contains(r#"href="/docs/payments/databases""#));
    let shown = app.get("/docs/payments/operations").await;
    assert!(shown.body.contains("Pages under this one") && shown.body.contains(r#"href="/docs/payments/databases""#));

    // A parent must exist in the same space; a page cannot go under itself or below itself.
    let res = app
        .post_json_with_token(
            "/api/v1/pages",
            &json!({"space": "payments", "title": "X", "markdown": "x", "parent": "nope"}),
            API_TOKEN,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("parent"), "{}", res.body);
    let res = move_to(
        &mut app,
        top["id"].as_i64().unwrap(),
        json!({"space": "payments", "slug": "operations", "parent": "failover"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert!(res.body.contains("below it"), "{}", res.body);

    // Moving the leaf to the top of the space; then deleting the middle page lifts its sub-pages a level.
    let res =
        move_to(&mut app, leaf["id"].as_i64().unwrap(), json!({"space": "payments", "slug": "failover", "parent": ""}))
            .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.json()["breadcrumbs"].as_array().unwrap().is_empty());
    let res = move_to(
        &mut app,
        leaf["id"].as_i64().unwrap(),
        json!({"space": "payments", "slug": "failover", "parent": "databases"}),
    )
    .await;
    assert_eq!(res.json()["breadcrumbs"].as_array().unwrap().len(), 2);
    let del = Request::delete(format!("/api/v1/pages/{}", mid["id"]))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(del).await.status, StatusCode::NO_CONTENT);
    let leaf_now = app.get_with_token(&format!("/api/v1/pages/{}", leaf["id"]), API_TOKEN).await.json();
    let crumbs: Vec<&str> =
        leaf_now["breadcrumbs"].as_array().unwrap().iter().map(|c| c["slug"].as_str().unwrap()).collect();
    assert_eq!(crumbs, ["operations"]);
    // Moving to another space leaves the sub-pages behind, at the top of their space.
    let res = move_to(&mut app, top["id"].as_i64().unwrap(), json!({"space": "platform"})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let leaf_now = app.get_with_token(&format!("/api/v1/pages/{}", leaf["id"]), API_TOKEN).await.json();
    assert!(leaf_now["breadcrumbs"].as_array().unwrap().is_empty(), "{leaf_now}");
    // The list knows each page's parent, so it can show the tree.
    let list = app.get_with_token("/api/v1/pages?space=payments", API_TOKEN).await.json();
    assert!(list.as_array().unwrap().iter().all(|p| p.get("parent_id").is_some()), "{list}");
}

/// A `multipart/form-data` body with one file field (and extra text fields first).
fn multipart(fields: &[(&str, &str)], name: &str, content_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "portolan-test-boundary-7d1f";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(id: i64, name: &str, content_type: &str, data: &[u8], token: Option<&str>) -> Request<Body> {
    let (ct, body) = multipart(&[], name, content_type, data);
    let mut req = Request::post(format!("/api/v1/pages/{id}/attachments")).header("content-type", ct);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    req.body(Body::from(body)).unwrap()
}

async fn files_are_attached_checked_and_served_safely(b: Backend) {
    let mut app = TestApp::with(b, FakeGithubConfig::default(), |c| c.docs_attachment_max_bytes = 4096).await;
    let page = new_page(&mut app, "Failover", None).await;
    let id = page["id"].as_i64().unwrap();

    let res = app.send(upload(id, "../../Network diagram.png", "image/png", PNG, Some(API_TOKEN))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let file = res.json();
    assert_eq!(file["name"], "Network-diagram.png", "the path is dropped and the name made safe");
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(file["size"], PNG.len());
    let url = file["url"].as_str().unwrap().to_owned();
    assert_eq!(file["markdown"], format!("![Network-diagram.png]({url})"));

    // Content that is not what the name says, a type never taken, an empty file, one over the limit.
    for (name, ct, data, expect) in [
        ("graph.png", "image/png", &b"<script>alert(1)</script>"[..], "not a valid .png"),
        ("page.html", "text/html", &b"<p>hi</p>"[..], "not accepted"),
        ("notes.txt", "text/html", &b"<p>hi</p>"[..], "sent as text/html"),
        ("empty.txt", "text/plain", &b""[..], "empty"),
    ] {
        let res = app.send(upload(id, name, ct, data, Some(API_TOKEN))).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}: {res:?}");
        assert!(res.body.contains(expect), "{name}: {}", res.body);
    }
    let res = app.send(upload(id, "big.log", "text/plain", &[b'a'; 5000], Some(API_TOKEN))).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{res:?}");
    assert!(res.body.contains("at most 4096"), "{}", res.body);
    let res = app.send(upload(id, "x.txt", "text/plain", b"x", None)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // Served to signed-in people only, sandboxed, revalidated by hash.
    let anonymous = app.send(Request::get(&url).body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let got = app.get_with_token(&url, API_TOKEN).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.headers["content-type"], "image/png");
    assert!(got.headers["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert_eq!(got.headers["x-content-type-options"], "nosniff");
    assert!(got.headers["content-disposition"].to_str().unwrap().starts_with("inline"));
    let etag = got.headers["etag"].to_str().unwrap().to_owned();
    let again = Request::get(&url)
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("if-none-match", &etag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(again).await.status, StatusCode::NOT_MODIFIED);
    // Another name on the same id is no file.
    let wrong = url.replace("Network-diagram.png", "other.png");
    assert_eq!(app.get_with_token(&wrong, API_TOKEN).await.status, StatusCode::NOT_FOUND);

    // An SVG is taken but downloaded when opened, never run in the portal's origin.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let res = app.send(upload(id, "flow.svg", "image/svg+xml", svg, Some(API_TOKEN))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let got = app.get_with_token(res.json()["url"].as_str().unwrap(), API_TOKEN).await;
    assert!(got.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert!(got.headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));

    // The same name again replaces the file; the list has both files once.
    let res = app.send(upload(id, "Network diagram.png", "image/png", PNG, Some(API_TOKEN))).await;
    assert_eq!(res.json()["id"], file["id"]);
    let list = app.get_with_token(&format!("/api/v1/pages/{id}/attachments"), API_TOKEN).await.json();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Network-diagram.png", "flow.svg"]);

    // Removing is audited; the file is gone.
    let del = Request::delete(format!("/api/v1/attachments/{}", file["id"]))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_with_token(&url, API_TOKEN).await.status, StatusCode::NOT_FOUND);
    let audit = portolan_core::audit::recent(&app.state.app.db, 20).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "docs.attachment.upload"));
    assert!(audit.iter().any(|e| e.action == "docs.attachment.delete"));
}

async fn a_plain_form_upload_comes_back_to_the_page(b: Backend) {
    let mut app = TestApp::new(b).await;
    let page = new_page(&mut app, "Failover", None).await;
    let id = page["id"].as_i64().unwrap();
    app.login_as("octocat").await;
    let send = |fields: &[(&str, &str)], name: &str, data: &[u8]| {
        let (ct, body) = multipart(fields, name, "text/plain", data);
        Request::post(format!("/api/v1/pages/{id}/attachments"))
            .header("content-type", ct)
            .header("accept", "text/html")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .unwrap()
    };
    let res = app.send(send(&[("return_to", "/docs/payments/failover/edit")], "steps.txt", b"1. fail over\n")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    assert_eq!(res.location(), "/docs/payments/failover/edit?attached=steps.txt#attachments");
    let res = app.send(send(&[("return_to", "/docs/payments/failover")], "bin.txt", b"\0\0")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.location().starts_with("/docs/payments/failover?attach_error=file%3A+bin.txt"), "{}", res.location());
    // The page shows the message and the file with its Markdown.
    let shown = app.get("/docs/payments/failover?attach_error=file%3A+bin.txt+is+not+a+valid+.txt+file").await;
    assert!(shown.body.contains("file: bin.txt is not a valid .txt file"), "{}", shown.body);
    assert!(shown.body.contains("[steps.txt](/files/"), "{}", shown.body);
    // Nowhere but back into the docs.
    let res = app.send(send(&[("return_to", "https://evil.example/")], "a.txt", b"a")).await;
    assert_eq!(res.status, StatusCode::CREATED, "an unsafe return address gets the JSON answer: {res:?}");
    // A cross-site form post is refused before anything is read.
    let (ct, body) = multipart(&[], "c.txt", "text/plain", b"c");
    let cross = Request::post(format!("/api/v1/pages/{id}/attachments"))
        .header("content-type", ct)
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(app.send(cross).await.status, StatusCode::FORBIDDEN);
}

async fn only_editors_attach_and_files_go_with_their_page(b: Backend) {
    let mut app = TestApp::new(b).await;
    let page = new_page(&mut app, "Failover", None).await;
    let id = page["id"].as_i64().unwrap();
    let res = app.send(upload(id, "a.txt", "text/plain", b"a", Some(API_TOKEN))).await;
    let file_url = res.json()["url"].as_str().unwrap().to_owned();

    // hubot is on no team: reads the file, cannot add or remove one.
    app.login_as("hubot").await;
    assert_eq!(app.get(&file_url).await.status, StatusCode::OK);
    let (ct, body) = multipart(&[], "b.txt", "text/plain", b"b");
    let req = Request::post(format!("/api/v1/pages/{id}/attachments"))
        .header("content-type", ct)
        .body(Body::from(body))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    let shown = app.get("/docs/payments/failover").await;
    assert!(!shown.body.contains(r#"enctype="multipart/form-data""#), "no upload form for readers");

    // Deleting the page deletes its files.
    let del = Request::delete(format!("/api/v1/pages/{id}"))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("cookie", "")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_with_token(&file_url, API_TOKEN).await.status, StatusCode::NOT_FOUND);
}
