//! Cost: generated FOCUS, CUR and CUR 2.0 files imported through the API and read back per component, team,
//! environment and day in both views, compared with the generator's own totals to the nano-unit; re-imports that
//! replace instead of adding; refusals that change nothing; allocation rules applied to past costs.

use axum::body::Body;
use chrono::NaiveDate;
use http::{Request, StatusCode, header};
use portolan_core::cost::Amount;
use portolan_core::cost::formats::Format;
use portolan_core::cost::generate::{self, Expected, Totals};
use serde_json::{Value, json};

use crate::db_tests;
use crate::support::{API_TOKEN, Backend, TestApp, TestResponse};

db_tests!(
    generated_files_of_every_format_import_exactly_in_both_views,
    importing_twice_changes_nothing_and_a_restated_period_replaces_the_old_one,
    malformed_files_are_refused_with_line_and_column_and_change_nothing,
    changed_allocation_rules_apply_to_costs_already_imported,
    budgets_show_spend_and_forecast_and_are_announced_once_at_80_and_100_percent,
    anomalies_are_found_on_complete_days_and_can_be_dismissed_or_snoozed,
    a_service_carries_its_part_of_shared_costs_and_shows_it_in_engineers,
    opencost_is_pulled_a_day_per_step_with_its_idle_and_unallocated_buckets,
    random_imports_add_up_and_importing_again_changes_nothing,
    the_rules_editor_saves_refuses_mistakes_and_stale_edits_and_keeps_the_text,
);

fn spec(seed: u64, month: u32, lines: usize) -> generate::Spec {
    let start = NaiveDate::from_ymd_opt(2026, month, 1).unwrap();
    generate::Spec {
        seed,
        lines,
        period_start: start,
        days: 28,
        account: "111122223333".into(),
        currency: "USD".into(),
        components: vec![
            ("payments-api".into(), "payments".into()),
            ("storefront".into(), "payments".into()),
            ("fraud-scorer".into(), "platform".into()),
        ],
    }
}

fn file(format: Format, spec: &generate::Spec, gzip: bool) -> (Vec<u8>, Expected) {
    let mut plain = Vec::new();
    let expected = generate::write(format, spec, &mut plain).unwrap();
    if !gzip {
        return (plain, expected);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    (gz.finish().unwrap(), expected)
}

async fn upload(app: &mut TestApp, name: &str, bytes: Vec<u8>) -> TestResponse {
    let req = Request::post(format!("/api/v1/cost/imports?name={name}"))
        .header(header::AUTHORIZATION, format!("Bearer {API_TOKEN}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .header(header::COOKIE, "")
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

async fn report(app: &mut TestApp, query: &str) -> Value {
    let res = app.get_with_token(&format!("/api/v1/cost?{query}"), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{query}: {res:?}");
    res.json()
}

fn amount(v: &Value) -> Amount {
    Amount::parse(v.as_str().unwrap_or_else(|| panic!("not a decimal string: {v}"))).unwrap()
}

fn groups(r: &Value) -> std::collections::BTreeMap<String, Amount> {
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), amount(&g["amount"])))
        .collect()
}

fn nonzero<K: Ord + Clone>(m: &std::collections::BTreeMap<K, Amount>) -> std::collections::BTreeMap<K, Amount> {
    m.iter().filter(|(_, a)| !a.is_zero()).map(|(k, a)| (k.clone(), *a)).collect()
}

/// Compares one view of the API with the generator's totals for a month.
async fn check_view(app: &mut TestApp, month: u32, metric: &str, want: &Totals, label: &str) {
    let range = format!("from=2026-{month:02}-01&to=2026-{:02}-01&metric={metric}", month + 1);
    let by_component = report(app, &format!("group_by=component&{range}")).await;
    assert_eq!(by_component["currency"], "USD");
    assert_eq!(amount(&by_component["total"]), want.total, "{label}: total");
    assert_eq!(amount(&by_component["unallocated"]), want.unallocated, "{label}: unallocated");
    assert_eq!(amount(&by_component["shared"]), Amount::ZERO, "{label}: shared");
    assert_eq!(nonzero(&groups(&by_component)), nonzero(&want.by_component), "{label}: per component");
    let sum: Amount = groups(&by_component).values().copied().sum::<Amount>()
        + amount(&by_component["shared"])
        + amount(&by_component["unallocated"]);
    assert_eq!(sum, want.total, "{label}: allocated + shared + unallocated = total");

    let by_team = report(app, &format!("group_by=team&{range}")).await;
    assert_eq!(nonzero(&groups(&by_team)), nonzero(&want.by_team), "{label}: per team");
    let by_env = report(app, &format!("group_by=environment&{range}")).await;
    assert_eq!(nonzero(&groups(&by_env)), nonzero(&want.by_environment), "{label}: per environment");
    let by_day = report(app, &format!("group_by=day&{range}")).await;
    let want_days: std::collections::BTreeMap<String, Amount> =
        want.by_day.iter().map(|(d, a)| (d.to_string(), *a)).collect();
    assert_eq!(nonzero(&groups(&by_day)), nonzero(&want_days), "{label}: per day");
    let days: Vec<&str> = by_day["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    let mut sorted = days.clone();
    sorted.sort();
    assert_eq!(days, sorted, "{label}: days in date order");
    let by_month = report(app, &format!("group_by=month&{range}")).await;
    assert_eq!(groups(&by_month).into_iter().collect::<Vec<_>>(), [(format!("2026-{month:02}"), want.total)]);

    // A whole month is read from the monthly roll-up, any other range from the daily sums: the month's two halves
    // must add up to the same figures in every grouping.
    for group_by in ["component", "team", "environment", "service", "day"] {
        let whole = report(app, &format!("group_by={group_by}&{range}")).await;
        let mut halves = std::collections::BTreeMap::<String, Amount>::new();
        let (mut total, mut shared, mut unallocated) = (Amount::ZERO, Amount::ZERO, Amount::ZERO);
        for half in [
            format!("from=2026-{month:02}-01&to=2026-{month:02}-16"),
            format!("from=2026-{month:02}-16&to=2026-{:02}-01", month + 1),
        ] {
            let r = report(app, &format!("group_by={group_by}&{half}&metric={metric}")).await;
            for (k, a) in groups(&r) {
                *halves.entry(k).or_default() += a;
            }
            total += amount(&r["total"]);
            shared += amount(&r["shared"]);
            unallocated += amount(&r["unallocated"]);
        }
        let label = format!("{label}: {group_by}, whole month against its halves");
        assert_eq!(nonzero(&groups(&whole)), nonzero(&halves), "{label}");
        assert_eq!(amount(&whole["total"]), total, "{label}: total");
        assert_eq!(amount(&whole["shared"]), shared, "{label}: shared");
        assert_eq!(amount(&whole["unallocated"]), unallocated, "{label}: unallocated");
    }
}

async fn generated_files_of_every_format_import_exactly_in_both_views(b: Backend) {
    // 60 daily sums in memory at most: each file's sums go through many sorted scratch runs and their merge,
    // which must store exactly what summing in memory alone would (the other tests import with the default).
    let mut app = TestApp::with_example_catalog_and(b, |c| c.cost.import_sums = 60).await;
    for (i, (format, gzip)) in
        [(Format::Cur, true), (Format::Cur2, false), (Format::Focus, true)].into_iter().enumerate()
    {
        // One month per format: the same account's month would replace the one before.
        let month = 7 + i as u32;
        let s = spec(40 + i as u64, month, 1500);
        let (bytes, want) = file(format, &s, gzip);
        let res = upload(&mut app, &format!("{}.csv", format.as_str()), bytes).await;
        assert_eq!(res.status, StatusCode::CREATED, "{format:?}: {res:?}");
        let summary = res.json();
        assert_eq!(summary["rows"], want.lines, "{format:?}");
        assert_eq!(summary["periods"], json!([format!("AWS 111122223333 2026-{month:02}")]));
        let usd = &summary["totals"][0];
        assert_eq!(amount(&usd["billed"]), want.billed.total, "{format:?}: billed total in the summary");
        assert_eq!(amount(&usd["effective"]), want.effective.total);
        assert_eq!(
            amount(&usd["allocated"]) + amount(&usd["shared"]) + amount(&usd["unallocated"]),
            want.effective.total
        );
        assert_ne!(want.billed.total, want.effective.total, "the two views must differ to prove anything");
        check_view(&mut app, month, "billed", &want.billed, &format!("{format:?} billed")).await;
        check_view(&mut app, month, "effective", &want.effective, &format!("{format:?} effective")).await;
    }

    // One component, and one team's filter, agree with the grouped figures.
    let range = "from=2026-07-01&to=2026-08-01";
    let all = report(&mut app, &format!("group_by=component&{range}")).await;
    let payments_api = groups(&all)["component:default/payments-api"];
    let one = report(&mut app, &format!("group_by=day&component=payments-api&{range}")).await;
    assert_eq!(amount(&one["total"]), payments_api);
    let days = groups(&one);
    assert!(days.len() > 20, "a component's whole month by day has its days: {days:?}");
    assert!(days.keys().all(|d| d.len() == 10 && d.starts_with("2026-07-")), "{days:?}");
    assert_eq!(days.values().copied().sum::<Amount>(), payments_api);
    let team = report(&mut app, &format!("group_by=component&team=platform&{range}")).await;
    assert_eq!(groups(&team).keys().collect::<Vec<_>>(), ["component:default/fraud-scorer"]);

    // Several months at once: per month.
    let months = report(&mut app, "group_by=month&from=2026-07-01&to=2026-10-01&metric=billed").await;
    assert_eq!(groups(&months).len(), 3);

    // Bad parameters are named.
    let res = app.get_with_token("/api/v1/cost?group_by=planet", API_TOKEN).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("group_by"), "{}", res.body);
    let res = app.get_with_token("/api/v1/cost?from=2026-08-01&to=2026-07-01", API_TOKEN).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.get("/api/v1/cost").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

async fn importing_twice_changes_nothing_and_a_restated_period_replaces_the_old_one(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    let range = "group_by=component&from=2026-07-01&to=2026-08-01";
    let (first, want_first) = file(Format::Cur, &spec(1, 7, 800), true);
    assert_eq!(upload(&mut app, "july.csv.gz", first.clone()).await.status, StatusCode::CREATED);
    let once = report(&mut app, range).await;
    assert_eq!(amount(&once["total"]), want_first.effective.total);
    assert_eq!(upload(&mut app, "july.csv.gz", first).await.status, StatusCode::CREATED);
    assert_eq!(report(&mut app, range).await, once, "the same file twice is the same as once");

    // AWS restates the month: the new file replaces the old one, nothing is added up.
    let (restated, want_restated) = file(Format::Cur, &spec(2, 7, 900), false);
    assert_eq!(upload(&mut app, "july-restated.csv", restated).await.status, StatusCode::CREATED);
    let after = report(&mut app, range).await;
    assert_eq!(amount(&after["total"]), want_restated.effective.total);
    assert_ne!(want_restated.effective.total, want_first.effective.total);

    let periods = app.get_with_token("/api/v1/cost/imports", API_TOKEN).await.json();
    let periods = periods.as_array().unwrap();
    assert_eq!(periods.len(), 1, "{periods:?}");
    assert_eq!(periods[0]["period"], "2026-07");
    assert_eq!(periods[0]["files"], json!(["july-restated.csv"]));
    assert_eq!(periods[0]["rows"], want_restated.lines);
    assert_eq!(periods[0]["imported_by"], "api-token");
}

async fn malformed_files_are_refused_with_line_and_column_and_change_nothing(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    let range = "group_by=day&from=2026-07-01&to=2026-09-01&metric=billed";
    let (good, _) = file(Format::Cur, &spec(5, 7, 300), false);
    assert_eq!(upload(&mut app, "good.csv", good.clone()).await.status, StatusCode::CREATED);
    let before = report(&mut app, range).await;

    let text = String::from_utf8(good).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // A restated July (which would replace the good one) with a bad number on line 9.
    let mut bad_number = lines.clone();
    let fields: Vec<&str> = bad_number[8].split(',').collect();
    let cost_at = 8; // lineItem/UnblendedCost in the generator's legacy layout
    let mut f: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
    f[cost_at] = "12;50".to_owned();
    bad_number[8] = f.join(",");
    let res = upload(&mut app, "restated.csv", bad_number.join("\n").into_bytes()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("restated.csv: line 9, column lineItem/UnblendedCost"), "{message}");
    assert!(message.contains("`12;50` is not a decimal number"), "{message}");

    // A line with a missing field.
    lines[20] = lines[20].rsplit_once(',').unwrap().0.to_owned();
    let res = upload(&mut app, "short.csv", lines.join("\n").into_bytes()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("short.csv: line 21"), "{message}");

    // A header from no known format.
    let res = upload(&mut app, "export.csv", b"Date,Amount,Team\n2026-07-01,3.50,payments\n".to_vec()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("export.csv: line 1: the header is not FOCUS"), "{}", res.body);

    // A truncated download of a gzipped August.
    let (august, _) = file(Format::Focus, &spec(6, 8, 2000), true);
    let res = upload(&mut app, "august.csv.gz", august[..august.len() / 2].to_vec()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("august.csv.gz") && res.body.contains("truncated"), "{}", res.body);

    // An empty body.
    let res = upload(&mut app, "empty.csv", Vec::new()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(report(&mut app, range).await, before, "nothing changed");
    let periods = app.get_with_token("/api/v1/cost/imports", API_TOKEN).await.json();
    assert_eq!(periods.as_array().unwrap().len(), 1);
    assert_eq!(periods[0]["files"], json!(["good.csv"]));
}

async fn changed_allocation_rules_apply_to_costs_already_imported(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    let range = "group_by=component&from=2026-07-01&to=2026-08-01";
    let (bytes, want) = file(Format::Cur2, &spec(9, 7, 1000), false);
    assert_eq!(upload(&mut app, "july.csv", bytes).await.status, StatusCode::CREATED);
    let before = report(&mut app, range).await;
    assert_eq!(amount(&before["unallocated"]), want.effective.unallocated);

    let rules = app.get_with_token("/api/v1/cost/rules", API_TOKEN).await.json();
    assert_eq!(rules["component_tags"], json!(["service", "component", "app"]));
    assert_eq!(rules["environment_aliases"]["prod"], "production");

    // The generator tags some lines `service=ghost-service`: call them shared, and send the payer's untagged
    // lines to the platform team.
    let mut new_rules = rules.clone();
    new_rules["shared"] = json!([{"name": "ghost", "tag": "service=ghost-service", "split": "even"}]);
    let res = put_rules(&mut app, &new_rules).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.json()["moved"].as_u64().unwrap() > 0);

    let after = report(&mut app, range).await;
    let shared = amount(&after["shared"]);
    assert!(shared > Amount::ZERO);
    assert_eq!(shared + amount(&after["unallocated"]), amount(&before["unallocated"]), "ghost moved to shared");
    assert_eq!(after["groups"], before["groups"], "components keep their costs");
    assert_eq!(amount(&after["total"]), amount(&before["total"]));

    // A bad rule is refused and names itself; the rules in force stay.
    let mut bad = rules.clone();
    bad["shared"] = json!([{"name": "x", "tag": "no-equals-sign"}]);
    let res = put_rules(&mut app, &bad).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("shared[0].tag"), "{}", res.body);
    assert_eq!(report(&mut app, range).await, after);
    let saved = app.get_with_token("/api/v1/cost/rules", API_TOKEN).await.json();
    assert_eq!(saved["shared"][0]["name"], "ghost");
}

async fn put_budget(app: &mut TestApp, body: Value, token: &str) -> TestResponse {
    let req = Request::put("/api/v1/cost/budgets")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, "")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

async fn budgets_show_spend_and_forecast_and_are_announced_once_at_80_and_100_percent(b: Backend) {
    // A Slack-like receiver recording what it was sent, per path.
    let (hooks_addr, got) = crate::support::webhook_receiver().await;
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.health.team_webhooks = vec![(
            "group:default/payments".to_owned(),
            portolan_core::Secret::new(format!("http://{hooks_addr}/payments")),
        )];
    })
    .await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED);

    // July, with data for its first 28 days.
    let (bytes, want) = file(Format::Cur, &spec(21, 7, 1200), false);
    assert_eq!(upload(&mut app, "july.csv", bytes).await.status, StatusCode::CREATED);
    let spent = want.effective.by_team["group:default/payments"];
    assert!(spent > Amount::ZERO);

    // A budget the month has used 90 % of: a warning, forecast at the daily rate over 31 days.
    let budget = Amount(spent.0 * 10 / 9);
    let res = put_budget(&mut app, json!({"scope": "payments", "amount": budget.to_string()}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let list = res.json();
    let row = &list[0];
    assert_eq!(row["scope"], "group:default/payments");
    assert_eq!(row["currency"], "USD");
    assert_eq!(row["month"], "2026-07");
    assert_eq!(row["spent"], spent.to_cents_text());
    assert_eq!(row["forecast"], Amount(spent.0 * 31 / 28).to_cents_text());
    assert_eq!(row["spent_percent"], "90.0");
    assert_eq!(row["status"], "warning");
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "payments");
    let text = sent[0].1["text"].as_str().unwrap().to_owned();
    assert!(text.contains("*payments* has spent") && text.contains("(90.0%)") && text.contains("July 2026"), "{text}");

    // Importing again announces nothing new; lowering the budget below the spend announces 100 % once.
    let (bytes, _) = file(Format::Cur, &spec(21, 7, 1200), false);
    assert_eq!(upload(&mut app, "july.csv", bytes).await.status, StatusCode::CREATED);
    assert_eq!(got.lock().unwrap().len(), 1);
    let lower = Amount(spent.0 / 2);
    let res =
        put_budget(&mut app, json!({"scope": "group:default/payments", "amount": lower.to_string()}), API_TOKEN).await;
    assert_eq!(res.json()[0]["status"], "over");
    let res =
        put_budget(&mut app, json!({"scope": "group:default/payments", "amount": lower.to_string()}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK);
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].1["text"].as_str().unwrap().contains("(200.0%)"), "{sent:?}");

    // A component's budget, listed beside the team's; bad input names the field; removing it.
    let res =
        put_budget(&mut app, json!({"scope": "component:default/storefront", "amount": "10.50"}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json().as_array().unwrap().len(), 2);
    for (body, field) in [
        (json!({"scope": "ghost-team", "amount": "1"}), "scope"),
        (json!({"scope": "payments", "amount": "-3"}), "amount"),
        (json!({"scope": "payments", "amount": "lots"}), "amount"),
        (json!({"scope": "payments", "amount": "1", "currency": "dollars"}), "currency"),
        (json!({"scope": "api:default/payments", "amount": "1"}), "scope"),
    ] {
        let res = put_budget(&mut app, body.clone(), API_TOKEN).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {res:?}");
        assert!(res.body.contains(field), "{body}: {}", res.body);
    }
    let res = put_budget(&mut app, json!({"scope": "component:default/storefront", "amount": null}), API_TOKEN).await;
    assert_eq!(res.json().as_array().unwrap().len(), 1);
    let listed = app.get_with_token("/api/v1/cost/budgets", API_TOKEN).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Someone outside the team may not set its budget; a member of the team may.
    let mut other = app.replica().await;
    other.cookies.clear();
    other.login_as("hubot").await;
    let put_as = |scope: &str| {
        Request::put("/api/v1/cost/budgets")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"scope": scope, "amount": "5"}).to_string()))
            .unwrap()
    };
    let res = other.send(put_as("payments")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("cost.budget.edit"), "{}", res.body);
    let mut member = app.replica().await;
    member.cookies.clear();
    member.login_as("monalisa").await;
    let res = member.send(put_as("payments")).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.json()[0]["amount"], "5.00");
}

/// Dismisses, snoozes or reopens an anomaly with the admin token.
async fn triage_as_admin(app: &mut TestApp, body: Value) -> TestResponse {
    app.post_json_with_token("/api/v1/cost/anomalies/triage", &body, API_TOKEN).await
}

/// Replaces the allocation rules with the admin token.
async fn put_rules(app: &mut TestApp, rules: &Value) -> TestResponse {
    let req = Request::put("/api/v1/cost/rules")
        .header(header::AUTHORIZATION, format!("Bearer {API_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, "")
        .body(Body::from(rules.to_string()))
        .unwrap();
    app.send(req).await
}

/// A FOCUS file with one line per (day, tag, amount): the tag is `key=value`, or a bare name for `service=name`;
/// `None` leaves the line untagged.
fn focus_days(lines: &[(NaiveDate, Option<&str>, Amount)]) -> Vec<u8> {
    let mut out = String::from(
        "BillingAccountId,SubAccountId,ProviderName,BillingPeriodStart,ChargePeriodStart,BillingCurrency,\
         ServiceName,ChargeCategory,BilledCost,EffectiveCost,Tags\n",
    );
    for (day, service, amount) in lines {
        let period = day.format("%Y-%m-01");
        let tags = service
            .map(|s| {
                let (k, v) = s.split_once('=').unwrap_or(("service", s));
                format!("\"{{\"\"{k}\"\":\"\"{v}\"\"}}\"")
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "444455556666,444455556666,AWS,{period}T00:00:00Z,{day}T00:00:00Z,USD,Amazon EC2,Usage,{amount},{amount},{tags}\n"
        ));
    }
    out.into_bytes()
}

async fn anomalies_are_found_on_complete_days_and_can_be_dismissed_or_snoozed(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    let a = |s: &str| Amount::parse(s).unwrap();
    // storefront wobbles around 100 a day; payments-api is flat at 50; untagged spend is flat at 20.
    let storefront = |day: NaiveDate| {
        use chrono::Datelike;
        a(["100", "102", "98", "101", "99", "103", "97"][day.ordinal() as usize % 7])
    };
    let mut lines = Vec::new();
    for day in d(10, 1).iter_days().take_while(|x| *x <= d(11, 5)) {
        let s = match day {
            x if x == d(10, 20) => a("400"),
            x if x == d(11, 5) => a("900"),
            x => storefront(x),
        };
        lines.push((day, Some("storefront"), s));
        // A rise of 8 on a flat series: unusual, but under the 10.00 minimum.
        lines.push((day, Some("payments-api"), if day == d(10, 25) { a("58") } else { a("50") }));
        lines.push((day, None, if day == d(10, 22) { a("200") } else { a("20") }));
    }
    let res = upload(&mut app, "oct-nov.csv", focus_days(&lines)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");

    let list = app.get_with_token("/api/v1/cost/anomalies", API_TOKEN).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let list = list.json();
    // 5 November is the latest imported day, so partial: its spike is not judged yet.
    assert_eq!(list["complete_through"], "2026-11-04");
    assert_eq!(list["settings"], json!({"min_amount": "10.00", "trailing_days": 14, "z": "3.50"}));
    let found: Vec<(&str, &str)> = list["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["scope"].as_str().unwrap(), x["day"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [("unallocated", "2026-10-22"), ("component:default/storefront", "2026-10-20")]);
    let spike = &list["anomalies"][1];
    let window: Amount = d(10, 6).iter_days().take(14).map(storefront).sum();
    let expected = Amount(window.0 / 14);
    assert_eq!(spike["amount"], "400.00");
    assert_eq!(spike["expected"], expected.to_cents_text());
    assert_eq!(spike["excess"], (a("400") - expected).to_cents_text());
    assert_eq!(spike["status"], "open");
    assert!(spike["z"].as_str().unwrap().parse::<f64>().unwrap() > 3.5, "{spike}");
    assert_eq!(list["anomalies"][0]["z"], Value::Null, "a flat window: any rise is infinitely unusual");

    // Filters: one component, one team's components.
    let one = app.get_with_token("/api/v1/cost/anomalies?component=storefront", API_TOKEN).await.json();
    assert_eq!(one["anomalies"].as_array().unwrap().len(), 1);
    let team = app.get_with_token("/api/v1/cost/anomalies?team=platform", API_TOKEN).await.json();
    assert_eq!(team["anomalies"], json!([]));
    let res = app.get_with_token("/api/v1/cost/anomalies?status=angry", API_TOKEN).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Someone outside payments may not dismiss storefront's anomaly; a member of payments may, with a reason.
    let triage = |body: Value| {
        Request::post("/api/v1/cost/anomalies/triage")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let dismiss = json!({"scope": "storefront", "currency": "USD", "day": "2026-10-20", "action": "dismiss",
        "reason": "Black-Friday load test"});
    let mut other = app.replica().await;
    other.cookies.clear();
    other.login_as("hubot").await;
    let res = other.send(triage(dismiss.clone())).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert!(res.body.contains("cost.anomaly.triage"), "{}", res.body);
    let mut member = app.replica().await;
    member.cookies.clear();
    member.login_as("monalisa").await;
    let mut no_reason = dismiss.clone();
    no_reason["reason"] = json!(" ");
    let res = member.send(triage(no_reason)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("reason"), "{}", res.body);
    // The unallocated spend is nobody's component: only administrators decide about it.
    let res = member
        .send(triage(json!({"scope": "unallocated", "currency": "USD", "day": "2026-10-22", "action": "dismiss",
            "reason": "mine"})))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    let res = member.send(triage(dismiss)).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");

    let list = app.get_with_token("/api/v1/cost/anomalies", API_TOKEN).await.json();
    let spike = &list["anomalies"][1];
    assert_eq!(spike["status"], "dismissed");
    assert_eq!(spike["reason"], "Black-Friday load test");
    assert_eq!(spike["decided_by"], "monalisa");
    // The component's page lists it, and its owner may decide about it there too.
    let res = member
        .post_form("/fn/entity_cost", "entity_ref=component%3Adefault%2Fstorefront", &[("accept", "application/json")])
        .await;
    let page = res.json();
    assert_eq!(page["anomalies"][0]["anomaly"]["day"], "2026-10-20", "{page}");
    assert_eq!(page["anomalies"][0]["anomaly"]["status"], "dismissed");
    assert_eq!(page["anomalies"][0]["can_triage"], true);
    let res = other
        .post_form("/fn/entity_cost", "entity_ref=component%3Adefault%2Fstorefront", &[("accept", "application/json")])
        .await;
    assert_eq!(res.json()["anomalies"][0]["can_triage"], false);
    let open = app.get_with_token("/api/v1/cost/anomalies?status=open", API_TOKEN).await.json();
    assert_eq!(open["anomalies"].as_array().unwrap().len(), 1);
    assert_eq!(open["anomalies"][0]["scope"], "unallocated");

    // A snooze mutes the scope's later anomalies up to its last day; the audit log has every decision.
    let res = triage_as_admin(
        &mut app,
        json!({"scope": "unallocated", "currency": "USD", "day": "2026-10-22", "action": "snooze",
                "reason": "tagging sprint next week", "until": "2026-11-30"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let list = app.get_with_token("/api/v1/cost/anomalies", API_TOKEN).await.json();
    assert_eq!(list["anomalies"][0]["status"], "snoozed");
    assert_eq!(list["anomalies"][0]["until"], "2026-11-30");
    let res = triage_as_admin(
        &mut app,
        json!({"scope": "unallocated", "currency": "USD", "day": "2026-10-22", "action": "snooze",
                "reason": "x", "until": "2026-10-01"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "a snooze ending before its anomaly");

    // Reopening brings it back; a restated month that removes the spike removes the anomaly.
    let res = triage_as_admin(
        &mut app,
        json!({"scope": "storefront", "currency": "USD", "day": "2026-10-20", "action": "reopen"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let list = app.get_with_token("/api/v1/cost/anomalies?status=open", API_TOKEN).await.json();
    assert_eq!(list["anomalies"][0]["scope"], "component:default/storefront");
    let october: Vec<_> = lines
        .iter()
        .filter(|l| l.0.format("%m").to_string() == "10")
        .map(|(day, s, amount)| {
            let fixed = *day == d(10, 20) && *s == Some("storefront");
            (*day, *s, if fixed { storefront(*day) } else { *amount })
        })
        .collect();
    assert_eq!(upload(&mut app, "oct-restated.csv", focus_days(&october)).await.status, StatusCode::CREATED);
    let list = app.get_with_token("/api/v1/cost/anomalies", API_TOKEN).await.json();
    let scopes: Vec<&str> =
        list["anomalies"].as_array().unwrap().iter().map(|x| x["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["unallocated"]);
    let audit = portolan_core::audit::recent(&app.state.app.db, 20).await.unwrap();
    let decisions: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.action == "cost.anomaly.triage")
        .map(|e| (e.actor.as_str(), e.target.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(decisions.len(), 3, "{audit:?}");
    assert!(decisions.contains(&("monalisa", "component:default/storefront")), "{decisions:?}");
}

async fn a_service_carries_its_part_of_shared_costs_and_shows_it_in_engineers(b: Backend) {
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.cost.engineer_yearly = Some((Amount::from_units(4964), "USD".into()));
    })
    .await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let rules = json!({"shared": [
        {"name": "network", "tag": "shared=network", "split": "proportional"},
        {"name": "support", "tag": "shared=support"},
    ]});
    let res = put_rules(&mut app, &rules).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // November: storefront 30 a day, payments-api 10, a network bill of 4 split by direct cost, support of 2 split
    // evenly between the two.
    let a = |s: &str| Amount::parse(s).unwrap();
    let mut lines = Vec::new();
    for day in NaiveDate::from_ymd_opt(2026, 11, 1).unwrap().iter_days().take(30) {
        lines.push((day, Some("storefront"), a("30")));
        lines.push((day, Some("payments-api"), a("10")));
        lines.push((day, Some("shared=network"), a("4")));
        lines.push((day, Some("shared=support"), a("2")));
    }
    assert_eq!(upload(&mut app, "nov.csv", focus_days(&lines)).await.status, StatusCode::CREATED);
    let all = report(&mut app, "group_by=component&from=2026-11-01&to=2026-12-01").await;
    assert_eq!(all["shared"], "180.00");

    app.login_as("monalisa").await;
    let cost_of = |name: &str| format!("entity_ref=component%3Adefault%2F{name}");
    let res = app.post_form("/fn/entity_cost", &cost_of("storefront"), &[("accept", "application/json")]).await;
    // A server function answers its JSON (with a redirect back for browsers posting a plain form).
    assert!(matches!(res.status.as_u16(), 200 | 302), "{res:?}");
    let sf = res.json();
    assert_eq!(sf["total"], "900.00");
    // network: 120 x 900 / 1200 = 90; support: 60 / 2 = 30.
    assert_eq!(sf["shared_part"], "120.00");
    assert_eq!(sf["shared_rules"], json!([["network", "proportional"], ["support", "even"]]));
    // (900 + 120) over 30 days is 12,410 a year: 2.5 engineers at 4,964.
    assert_eq!(sf["engineers"], "2.5");
    let res = app.post_form("/fn/entity_cost", &cost_of("payments-api"), &[("accept", "application/json")]).await;
    let pa = res.json();
    assert_eq!(pa["shared_part"], "60.00", "30 of the network and 30 of support");
    assert_eq!(
        a(sf["shared_part"].as_str().unwrap()) + a(pa["shared_part"].as_str().unwrap()),
        a("180"),
        "the parts add up to the shared total"
    );
}

async fn opencost_is_pulled_a_day_per_step_with_its_idle_and_unallocated_buckets(b: Backend) {
    use portolan_core::cost::opencost;
    use portolan_testkit::opencost::{Allocation, FakeOpenCost};
    let today = chrono::Utc::now().date_naive();
    let (from, to) = opencost::window(today);
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d < to).collect();
    let n = days.len() as i128;
    let allocations = |cpu: &str, total: &str| -> Vec<Allocation> {
        let num = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        days.iter()
            .flat_map(|d| {
                let day = d.to_string();
                [
                    Allocation {
                        day: day.clone(),
                        name: "app=storefront".into(),
                        costs: vec![("cpuCost", num(cpu)), ("ramCost", num("0.5")), ("ramCostAdjustment", num("-0.1"))],
                        total: num(total),
                    },
                    Allocation {
                        day: day.clone(),
                        name: "app=ghost".into(),
                        costs: vec![("cpuCost", num("0.3"))],
                        total: num("0.3"),
                    },
                    Allocation {
                        day: day.clone(),
                        name: "__unallocated__".into(),
                        costs: vec![("pvCost", num("0.25"))],
                        total: num("0.25"),
                    },
                    // OpenCost's NaN arrives as null: it counts as zero, and a null total means the parts'.
                    Allocation {
                        day,
                        name: "__idle__".into(),
                        costs: vec![("cpuCost", Value::Null), ("ramCost", num("0.75"))],
                        total: Value::Null,
                    },
                ]
            })
            .collect()
    };
    let fake = FakeOpenCost::start(allocations("1.5", "1.9")).await;
    let url = fake.url();
    let mut app = TestApp::with(b, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.cost.opencost_url = Some(url::Url::parse(&format!("{url}/")).unwrap());
        c.cost.opencost_aggregate = "label:app".into();
        c.cost.opencost_cluster = "prod-eu".into();
    })
    .await;
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog");
    let res = app.post_json_with_token("/api/v1/locations", &json!({"target": catalog}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED);

    let res = app.post_json_with_token("/api/v1/cost/opencost/pull", &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let summary = res.json();
    assert!(summary["periods"][0].as_str().unwrap().starts_with("OpenCost prod-eu "), "{summary}");
    let asked = &fake.requests()[0];
    let param = |k: &str| asked.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(param("window"), Some(format!("{from}T00:00:00Z,{to}T00:00:00Z").as_str()));
    assert_eq!(param("aggregate"), Some("label:app"));
    assert_eq!(param("step"), Some("1d"));
    assert_eq!(param("includeIdle"), Some("true"));

    let range = format!("group_by=component&from={from}&to={to}");
    let r = report(&mut app, &range).await;
    let a = |s: &str| Amount::parse(s).unwrap();
    assert_eq!(groups(&r)["component:default/storefront"], Amount(a("1.9").0 * n), "{r}");
    // The unknown app, the unallocated bucket and idle capacity: 0.3 + 0.25 + 0.75 a day.
    assert_eq!(amount(&r["unallocated"]), Amount(a("1.3").0 * n));
    assert_eq!(amount(&r["total"]), Amount(a("3.2").0 * n));
    let services = groups(&report(&mut app, &format!("group_by=service&from={from}&to={to}")).await);
    assert_eq!(services["Kubernetes CPU"], Amount(a("1.8").0 * n));
    assert_eq!(services["Kubernetes RAM"], Amount(a("1.15").0 * n));
    assert_eq!(services["Kubernetes storage"], Amount(a("0.25").0 * n));

    // A shared rule claims idle capacity; OpenCost's settled numbers replace the first pull's, not add to them.
    let res = put_rules(&mut app, &json!({"shared": [{"name": "idle", "tag": "opencost=idle"}]})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    fake.set(allocations("2.5", "2.9"));
    for _ in 0..2 {
        let res = app.post_json_with_token("/api/v1/cost/opencost/pull", &json!({}), API_TOKEN).await;
        assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    }
    let r = report(&mut app, &range).await;
    assert_eq!(groups(&r)["component:default/storefront"], Amount(a("2.9").0 * n));
    assert_eq!(amount(&r["shared"]), Amount(a("0.75").0 * n));
    assert_eq!(amount(&r["unallocated"]), Amount(a("0.55").0 * n));

    // OpenCost's answer to a bad window (400, text then a JSON envelope) is reported with its first line.
    let settings = app.state.app.config.cost.clone();
    let err = opencost::fetch(&reqwest::Client::new(), &settings, to, from).await.unwrap_err().to_string();
    assert!(err.contains("400 Bad Request: Invalid 'window' parameter"), "{err}");

    // OpenCost out of reach: 502, nothing changed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut other = TestApp::with(Backend::Sqlite, portolan_testkit::FakeGithubConfig::default(), |c| {
        c.cost.opencost_url = Some(url::Url::parse(&format!("http://{closed}/")).unwrap());
    })
    .await;
    let res = other.post_json_with_token("/api/v1/cost/opencost/pull", &json!({}), API_TOKEN).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY, "{res:?}");
    assert!(res.body.contains("cannot reach OpenCost"), "{}", res.body);
    let periods = other.get_with_token("/api/v1/cost/imports", API_TOKEN).await.json();
    assert_eq!(periods, json!([]));
    let res = app.post_json_with_token("/api/v1/cost/opencost/pull", &json!({}), "wrong-token").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

/// Property test over seeded random cases: billing files of random formats, months, sizes and compression, under
/// random allocation rules. In every grouping, metric and range (whole months, read from the monthly roll-up, and
/// ranges cut anywhere, read from the daily sums), allocated + shared + unallocated = total and every grouping
/// has the same total; importing the same files again, in another order, changes no report.
async fn random_imports_add_up_and_importing_again_changes_nothing(b: Backend) {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    for seed in 0..3u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut app = TestApp::with_example_catalog(b).await;
        if rng.gen_bool(0.7) {
            let mut rules = app.get_with_token("/api/v1/cost/rules", API_TOKEN).await.json();
            let split = if rng.gen_bool(0.5) { "even" } else { "proportional" };
            rules["shared"] = json!([{"name": "ghost", "tag": "service=ghost-service", "split": split}]);
            assert_eq!(put_rules(&mut app, &rules).await.status, StatusCode::OK);
        }
        let mut months: Vec<u32> = (6..=9).filter(|_| rng.gen_bool(0.6)).collect();
        if months.is_empty() {
            months.push(rng.gen_range(6..=9));
        }
        let mut files = Vec::new();
        for &month in &months {
            let format = [Format::Cur, Format::Cur2, Format::Focus][rng.gen_range(0..3)];
            let (bytes, _) = file(format, &spec(rng.r#gen(), month, rng.gen_range(50..600)), rng.gen_bool(0.5));
            files.push((format!("{}-{month}.csv", format.as_str()), bytes));
        }
        for (name, bytes) in &files {
            let res = upload(&mut app, name, bytes.clone()).await;
            assert_eq!(res.status, StatusCode::CREATED, "seed {seed}: {res:?}");
        }

        let day = |d: i64| NaiveDate::from_ymd_opt(2026, 6, 1).unwrap() + chrono::Duration::days(d);
        let mut ranges: Vec<(NaiveDate, NaiveDate)> = months
            .iter()
            .map(|&m| (NaiveDate::from_ymd_opt(2026, m, 1).unwrap(), NaiveDate::from_ymd_opt(2026, m + 1, 1).unwrap()))
            .collect();
        ranges.push((day(0), day(122)));
        for _ in 0..4 {
            let from = rng.gen_range(0..120);
            ranges.push((day(from), day(from + rng.gen_range(1..70))));
        }
        let mut snapshot = Vec::new();
        for (from, to) in &ranges {
            for metric in ["effective", "billed"] {
                let mut totals = Vec::new();
                for group_by in ["component", "team", "environment", "service", "day", "month"] {
                    let query = format!("group_by={group_by}&metric={metric}&from={from}&to={to}");
                    let r = report(&mut app, &query).await;
                    let grouped: Amount = groups(&r).values().copied().sum();
                    let total = amount(&r["total"]);
                    let label = format!("seed {seed}, {query}");
                    if matches!(group_by, "component" | "team") {
                        assert_eq!(
                            grouped + amount(&r["shared"]) + amount(&r["unallocated"]),
                            total,
                            "{label}: allocated + shared + unallocated = total"
                        );
                    } else {
                        assert_eq!(grouped, total, "{label}: the groups add up to the total");
                    }
                    totals.push((total, r["shared"].clone(), r["unallocated"].clone()));
                    snapshot.push(r);
                }
                assert!(
                    totals.windows(2).all(|w| w[0] == w[1]),
                    "seed {seed}: every grouping has one total: {totals:?}"
                );
            }
        }
        assert!(snapshot.iter().any(|r| amount(&r["total"]) != Amount::ZERO), "seed {seed}: nothing was read");

        files.shuffle(&mut rng);
        for (name, bytes) in &files {
            assert_eq!(upload(&mut app, name, bytes.clone()).await.status, StatusCode::CREATED);
        }
        let mut again = Vec::new();
        for (from, to) in &ranges {
            for metric in ["effective", "billed"] {
                for group_by in ["component", "team", "environment", "service", "day", "month"] {
                    let query = format!("group_by={group_by}&metric={metric}&from={from}&to={to}");
                    again.push(report(&mut app, &query).await);
                }
            }
        }
        assert_eq!(again, snapshot, "seed {seed}: importing the same files again changed a report");
    }
}

/// The cost page's rules editor as a browser without JavaScript uses it: an administrator's save re-allocates past
/// costs; a mistake names its line and comes back with the text as typed; a save from a version someone else has
/// replaced since is refused with the text kept; a non-administrator may not save. Refusals change nothing.
async fn the_rules_editor_saves_refuses_mistakes_and_stale_edits_and_keeps_the_text(b: Backend) {
    let mut app = TestApp::with_example_catalog(b).await;
    let (bytes, want) = file(Format::Cur2, &spec(9, 7, 1000), false);
    assert_eq!(upload(&mut app, "july.csv", bytes).await.status, StatusCode::CREATED);
    let range = "group_by=component&from=2026-07-01&to=2026-08-01";
    let before = report(&mut app, range).await;
    assert_eq!(amount(&before["shared"]), Amount::ZERO);

    let form = |rules: &str, base: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("rules", rules)
            .append_pair("base", base)
            .finish()
    };
    let location = |res: &TestResponse| {
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
        let l = res.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
        url::Url::parse("http://portal").unwrap().join(&l).unwrap()
    };
    let param = |u: &url::Url, key: &str| u.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());

    let mut admin = app.replica().await;
    admin.cookies.clear();
    admin.login_as("octocat").await;
    let editor = admin.post_json("/fn/cost_rules_editor", &json!({"draft": null, "base": null})).await;
    assert_eq!(editor.status, StatusCode::OK, "{editor:?}");
    let editor = editor.json();
    let text = editor["text"].as_str().unwrap().to_owned();
    assert!(text.contains("component_tags:") && text.contains("shared: []"), "{text}");
    assert_eq!(editor["base"], "", "the defaults are in force");
    let edited = text.replace("shared: []", "shared:\n- name: ghost\n  tag: service=ghost-service\n  split: even");

    // A YAML mistake: refused with its line, the text sent back, nothing saved.
    let broken = format!("{edited}\naccounts: [unclosed\n");
    let res = admin.post_form("/cost/rules", &form(&broken, ""), &[]).await;
    let back = location(&res);
    assert!(param(&back, "error").unwrap().contains("line"), "{back}");
    assert_eq!(param(&back, "rules_draft").as_deref(), Some(broken.as_str()), "the text comes back as typed");
    assert_eq!(report(&mut app, range).await, before);
    // The editor shows the draft, not the rules in force.
    let draft = admin.post_json("/fn/cost_rules_editor", &json!({"draft": broken, "base": ""})).await.json();
    assert_eq!(draft["text"], broken);
    assert_eq!(draft["draft"], true);

    // A rule that breaks a rule of the rules: named.
    let res = admin
        .post_form("/cost/rules", &form(&text.replace("shared: []", "shared:\n- name: x\n  tag: nothing"), ""), &[])
        .await;
    assert!(param(&location(&res), "error").unwrap().contains("shared[0].tag"));

    // Someone without cost.import may not save.
    let mut other = app.replica().await;
    other.cookies.clear();
    other.login_as("hubot").await;
    let res = other.post_form("/cost/rules", &form(&edited, ""), &[]).await;
    let refused = location(&res);
    assert!(param(&refused, "error").unwrap().contains("cost.import"), "{refused}");
    assert_eq!(report(&mut app, range).await, before);

    // The administrator's save: applied to July, which was imported before.
    let res = admin.post_form("/cost/rules", &form(&edited, ""), &[]).await;
    let saved = location(&res);
    assert!(param(&saved, "notice").unwrap().starts_with("Allocation rules saved"), "{saved}");
    let after = report(&mut app, range).await;
    assert!(amount(&after["shared"]) > Amount::ZERO);
    assert_eq!(amount(&after["shared"]) + amount(&after["unallocated"]), want.effective.unallocated);
    let rules = app.get_with_token("/api/v1/cost/rules", API_TOKEN).await.json();
    assert_eq!(rules["shared"][0]["name"], "ghost");

    // A second editor opened before that save: refused, its text kept, the saved rules stay.
    let stale = text.replace("shared: []", "shared:\n- name: other\n  tag: service=storefront");
    let res = admin.post_form("/cost/rules", &form(&stale, ""), &[]).await;
    let conflict = location(&res);
    assert!(param(&conflict, "error").unwrap().contains("after you opened them"), "{conflict}");
    assert_eq!(param(&conflict, "rules_draft").as_deref(), Some(stale.as_str()));
    let rules = app.get_with_token("/api/v1/cost/rules", API_TOKEN).await.json();
    assert_eq!(rules["shared"][0]["name"], "ghost", "the stale save changed nothing");
    assert_eq!(report(&mut app, range).await, after);

    // Reopened, the editor carries the new version, and a save from it goes through.
    let editor = admin.post_json("/fn/cost_rules_editor", &json!({"draft": null, "base": null})).await.json();
    let base = editor["base"].as_str().unwrap().to_owned();
    assert!(base.ends_with("by octocat"), "{base}");
    assert!(editor["text"].as_str().unwrap().contains("ghost-service"));
    let res = admin.post_form("/cost/rules", &form(&text, &base), &[]).await;
    assert!(param(&location(&res), "notice").is_some());
    assert_eq!(report(&mut app, range).await, before, "back to the defaults");
}
