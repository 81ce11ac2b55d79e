//! A seeded generator of billing files (FOCUS, AWS CUR legacy, CUR 2.0) with what real exports contain:
//! reservations, savings plans, credits, refunds, tax, untagged lines, the literal `NULL`, timestamps without a
//! zone, extra columns and tag keys with stray spaces and capitals. It returns, beside the file, the totals each
//! view must show per component, team, environment and day, computed from the amounts it chose (not by reading
//! the file back), so tests and the benchmark can check an import to the last nano-unit.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::formats::Format;
use super::money::Amount;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Seed: the same seed gives the same file.
    pub seed: u64,
    /// Usage lines (fees, tax and credits come on top).
    pub lines: usize,
    /// First day of the billing period (a month).
    pub period_start: NaiveDate,
    /// Days of the period with charges.
    pub days: u32,
    /// Payer account.
    pub account: String,
    /// Currency.
    pub currency: String,
    /// Catalog components and their owners: (`payments-api`, `payments`).
    pub components: Vec<(String, String)>,
}

/// The totals one view must show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Everything.
    pub total: Amount,
    /// Per component ref (allocated amounts).
    pub by_component: BTreeMap<String, Amount>,
    /// Per team ref (allocated amounts: the team tag, else the owner).
    pub by_team: BTreeMap<String, Amount>,
    /// Per environment (`unknown` without one).
    pub by_environment: BTreeMap<String, Amount>,
    /// Per day.
    pub by_day: BTreeMap<NaiveDate, Amount>,
    /// Not tied to a component.
    pub unallocated: Amount,
}

/// What a generated file must import as.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Billed view.
    pub billed: Totals,
    /// Effective view.
    pub effective: Totals,
    /// Lines written (without the header).
    pub lines: u64,
}

#[derive(Clone)]
struct Charge {
    day: NaiveDate,
    /// (key as written, value) tags.
    tags: Vec<(String, String)>,
    service: &'static str,
    /// CUR line item type.
    kind: &'static str,
    billed: Amount,
    effective: Amount,
    /// For CUR: the reservation and savings plan columns that make `effective`.
    ri_effective: Amount,
    ri_unused_upfront: Amount,
    ri_unused_recurring: Amount,
    ri_arn: bool,
    sp_effective: Amount,
    sp_commitment: Amount,
    sp_used: Amount,
    /// Where it must land: (component ref, team ref) or unallocated.
    owner: Option<(String, String)>,
    environment: String,
}

impl Charge {
    /// A line of `kind` on `day` with every amount zero and no tags.
    fn new(day: NaiveDate, kind: &'static str, service: &'static str) -> Charge {
        Charge {
            day,
            tags: Vec::new(),
            service,
            kind,
            billed: Amount::ZERO,
            effective: Amount::ZERO,
            ri_effective: Amount::ZERO,
            ri_unused_upfront: Amount::ZERO,
            ri_unused_recurring: Amount::ZERO,
            ri_arn: false,
            sp_effective: Amount::ZERO,
            sp_commitment: Amount::ZERO,
            sp_used: Amount::ZERO,
            owner: None,
            environment: "unknown".to_owned(),
        }
    }
}

const SERVICES: [&str; 5] = [
    "Amazon Elastic Compute Cloud",
    "Amazon Simple Storage Service",
    "Amazon Relational Database Service",
    "AWS Lambda",
    "Amazon CloudFront",
];

fn nanos(rng: &mut StdRng, max_cents: i64) -> Amount {
    // Nine decimals, as fine as the importer keeps.
    Amount(i128::from(rng.gen_range(1..=max_cents * 10_000_000)))
}

/// Writes a file of `format` and returns what it must import as.
pub fn write(format: Format, spec: &Spec, out: &mut impl Write) -> std::io::Result<Expected> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut sink = Sink::start(format, spec, out)?;
    // What each environment is written as; real exports spell the same environment several ways.
    let env_spellings: [(&[&str], &str); 4] = [
        (&["prod", "Production", "prd"], "production"),
        (&[" staging ", "stg", "stage"], "staging"),
        (&["dev", "development", "develop"], "development"),
        (&["qa", "qa", "qa"], "unknown"),
    ];
    let day = |rng: &mut StdRng| spec.period_start + Duration::days(rng.gen_range(0..i64::from(spec.days.max(1))));
    for _ in 0..spec.lines {
        let d = day(&mut rng);
        // Like real resources, a component's tags are consistent, and their spelling changes now and then (CUR's
        // columns change from month to month): here it follows the component and the week.
        let roll: u32 = rng.gen_range(0..100);
        let ci = if spec.components.is_empty() { 0 } else { rng.gen_range(0..spec.components.len()) };
        let variant = ci + usize::try_from((d - spec.period_start).num_days() / 7).unwrap_or(0);
        let mut tags = Vec::new();
        let mut owner = None;
        let mut environment = "unknown".to_owned();
        if roll < 85 && !spec.components.is_empty() {
            let (name, team) = &spec.components[ci];
            let key = ["service", "Service", " service", "app", "component"][variant % 5];
            tags.push((key.to_owned(), name.clone()));
            let mut team_ref = format!("group:default/{team}");
            if ci % 5 < 2 {
                // A team tag overrides the owner (for some components another team's).
                let t = if ci % 2 == 0 { team.clone() } else { "finops".to_owned() };
                tags.push(([" Team", "team", "owner"][variant % 3].to_owned(), t.clone()));
                team_ref = format!("group:default/{t}");
            }
            owner = Some((format!("component:default/{name}"), team_ref));
        } else if roll < 92 {
            tags.push(("service".to_owned(), "ghost-service".to_owned()));
        }
        if !tags.is_empty() && rng.gen_bool(0.8) {
            let (spellings, env) = env_spellings[rng.gen_range(0..env_spellings.len())];
            tags.push((["env", "Environment", "stage"][variant % 3].to_owned(), spellings[variant % 3].to_owned()));
            environment = env.to_owned();
        }
        let service = SERVICES[rng.gen_range(0..SERVICES.len())];
        let kind_roll: u32 = rng.gen_range(0..100);
        let mut c = Charge { tags, owner, environment, ..Charge::new(d, "Usage", service) };
        if kind_roll < 70 {
            c.billed = nanos(&mut rng, 500);
            c.effective = c.billed;
        } else if kind_roll < 82 {
            // Reserved-instance usage: nothing billed on the line, the reservation's effective cost amortised.
            c.kind = "DiscountedUsage";
            c.ri_arn = true;
            c.ri_effective = nanos(&mut rng, 300);
            c.effective = c.ri_effective;
        } else if kind_roll < 94 {
            // Savings-plan usage at on-demand price, negated by a matching line; effective at the plan's rate.
            c.kind = "SavingsPlanCoveredUsage";
            c.billed = nanos(&mut rng, 500);
            c.sp_effective = nanos(&mut rng, 300);
            c.effective = c.sp_effective;
            let mut negation = c.clone();
            negation.kind = "SavingsPlanNegation";
            negation.billed = -c.billed;
            negation.effective = Amount::ZERO;
            negation.sp_effective = Amount::ZERO;
            sink.emit(negation)?;
        } else if kind_roll < 97 {
            c.kind = "Credit";
            c.billed = -nanos(&mut rng, 100);
            c.effective = c.billed;
        } else {
            c.kind = "Refund";
            c.billed = -nanos(&mut rng, 100);
            c.effective = c.billed;
        }
        sink.emit(c)?;
    }
    // Monthly lines: untagged commitments, fees and tax.
    let first = spec.period_start;
    let base = |kind: &'static str, service: &'static str| Charge::new(first, kind, service);
    let mut ri_fee = base("RIFee", SERVICES[0]);
    ri_fee.ri_arn = true;
    ri_fee.billed = nanos(&mut rng, 90_000);
    ri_fee.ri_unused_upfront = nanos(&mut rng, 5_000);
    ri_fee.ri_unused_recurring = nanos(&mut rng, 5_000);
    ri_fee.effective = ri_fee.ri_unused_upfront + ri_fee.ri_unused_recurring;
    sink.emit(ri_fee)?;
    let mut upfront = base("Fee", SERVICES[0]);
    upfront.ri_arn = true;
    upfront.billed = nanos(&mut rng, 500_000);
    sink.emit(upfront)?;
    let mut sp_fee = base("SavingsPlanRecurringFee", "Savings Plans for AWS Compute usage");
    sp_fee.sp_commitment = nanos(&mut rng, 80_000);
    sp_fee.billed = sp_fee.sp_commitment;
    sp_fee.sp_used = Amount(sp_fee.sp_commitment.0 * 9 / 10);
    sp_fee.effective = sp_fee.sp_commitment - sp_fee.sp_used;
    sink.emit(sp_fee)?;
    let mut sp_upfront = base("SavingsPlanUpfrontFee", "Savings Plans for AWS Compute usage");
    sp_upfront.billed = nanos(&mut rng, 300_000);
    sink.emit(sp_upfront)?;
    let mut tax = base("Tax", "Tax");
    tax.billed = nanos(&mut rng, 40_000);
    tax.effective = tax.billed;
    sink.emit(tax)?;

    Ok(sink.expected)
}

/// Every tag key the generator writes, as written (CUR legacy has a column for each key the month saw).
const TAG_KEYS: [&str; 11] =
    [" Team", " service", "Environment", "Service", "app", "component", "env", "owner", "service", "stage", "team"];

/// Writes lines as they are made and keeps the totals they must import as: memory stays flat however many
/// lines are asked for. The noise (timestamp spellings, `NULL`s) comes from its own random stream.
struct Sink<'a, W: Write> {
    format: Format,
    spec: &'a Spec,
    out: &'a mut W,
    noise: StdRng,
    expected: Expected,
}

impl<'a, W: Write> Sink<'a, W> {
    fn start(format: Format, spec: &'a Spec, out: &'a mut W) -> std::io::Result<Self> {
        match format {
            Format::Focus => focus_header(out)?,
            Format::Cur => cur_header(out, false)?,
            Format::Cur2 => cur_header(out, true)?,
        }
        let noise = StdRng::seed_from_u64(spec.seed.wrapping_add(0x5eed));
        Ok(Sink { format, spec, out, noise, expected: Expected::default() })
    }

    fn emit(&mut self, c: Charge) -> std::io::Result<()> {
        let e = &mut self.expected;
        for (totals, amount) in [(&mut e.billed, c.billed), (&mut e.effective, c.effective)] {
            totals.total += amount;
            *totals.by_day.entry(c.day).or_default() += amount;
            *totals.by_environment.entry(c.environment.clone()).or_default() += amount;
            match &c.owner {
                Some((component, team)) => {
                    *totals.by_component.entry(component.clone()).or_default() += amount;
                    *totals.by_team.entry(team.clone()).or_default() += amount;
                }
                None => totals.unallocated += amount,
            }
        }
        let i = e.lines;
        e.lines += 1;
        match self.format {
            Format::Focus => focus_line(self.spec, &c, &mut self.noise, self.out),
            Format::Cur => cur_line(self.spec, i, &c, &mut self.noise, self.out, false),
            Format::Cur2 => cur_line(self.spec, i, &c, &mut self.noise, self.out, true),
        }
    }
}

/// The expected totals as JSON (amounts as decimal text), as `portolan cost generate` prints them.
pub fn expected_json(e: &Expected) -> serde_json::Value {
    let view = |t: &Totals| {
        serde_json::json!({
            "total": t.total,
            "unallocated": t.unallocated,
            "by_component": t.by_component,
            "by_team": t.by_team,
            "by_environment": t.by_environment,
            "by_day": t.by_day.iter().map(|(d, a)| (d.to_string(), *a)).collect::<BTreeMap<String, Amount>>(),
        })
    };
    serde_json::json!({"lines": e.lines, "billed": view(&e.billed), "effective": view(&e.effective)})
}

fn timestamp(day: NaiveDate, rng: &mut StdRng) -> String {
    match rng.gen_range(0..3) {
        0 => format!("{day}T00:00:00Z"),
        1 => format!("{day}T00:00:00.000Z"),
        _ => format!("{day} 00:00:00"),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn tags_object(tags: &[(String, String)], prefix: &str) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        tags.iter().map(|(k, v)| (format!("{prefix}{k}"), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}

fn focus_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "BillingAccountId,SubAccountId,ProviderName,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ServiceName,BilledCost,EffectiveCost,ListCost,BillingCurrency,Tags,x_Custom"
    )
}

fn focus_line(spec: &Spec, c: &Charge, rng: &mut StdRng, out: &mut impl Write) -> std::io::Result<()> {
    let end = spec.period_start + Duration::days(31);
    {
        // FOCUS: covered usage is billed on the commitment's purchase, so the usage line bills 0.
        let (category, billed, effective) = match c.kind {
            "Usage" => ("Usage", c.billed, c.effective),
            "DiscountedUsage" => ("Usage", c.billed, c.effective),
            "SavingsPlanCoveredUsage" => ("Usage", c.billed, c.effective),
            "SavingsPlanNegation" => ("Usage", c.billed, c.effective),
            "Credit" => ("Credit", c.billed, c.effective),
            "Refund" => ("Adjustment", c.billed, c.effective),
            "Tax" => ("Tax", c.billed, c.effective),
            _ => ("Purchase", c.billed, c.effective),
        };
        let sub = if c.tags.is_empty() { "NULL".to_owned() } else { format!("{}-dev", spec.account) };
        let tags = if c.tags.is_empty() && rng.gen_bool(0.5) { "NULL".to_owned() } else { tags_object(&c.tags, "") };
        writeln!(
            out,
            "{},{},AWS,{},{},{},{},{},{},{},{},{},{},{},x",
            spec.account,
            sub,
            timestamp(spec.period_start, rng),
            timestamp(end, rng),
            timestamp(c.day, rng),
            timestamp(c.day + Duration::days(1), rng),
            category,
            csv_field(c.service),
            billed,
            effective,
            billed,
            spec.currency,
            csv_field(&tags),
        )?;
    }
    Ok(())
}

fn cur_header(out: &mut impl Write, v2: bool) -> std::io::Result<()> {
    let header: Vec<String> = if v2 {
        [
            "identity_line_item_id",
            "bill_payer_account_id",
            "bill_billing_period_start_date",
            "line_item_usage_account_id",
            "line_item_line_item_type",
            "line_item_usage_start_date",
            "line_item_product_code",
            "line_item_unblended_cost",
            "line_item_currency_code",
            "reservation_reservation_a_r_n",
            "reservation_effective_cost",
            "reservation_unused_amortized_upfront_fee_for_billing_period",
            "reservation_unused_recurring_fee",
            "savings_plan_savings_plan_effective_cost",
            "savings_plan_total_commitment_to_date",
            "savings_plan_used_commitment",
            "resource_tags",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    } else {
        let mut h: Vec<String> = [
            "identity/LineItemId",
            "bill/PayerAccountId",
            "bill/BillingPeriodStartDate",
            "lineItem/UsageAccountId",
            "lineItem/LineItemType",
            "lineItem/UsageStartDate",
            "lineItem/ProductCode",
            "product/ProductName",
            "lineItem/UnblendedCost",
            "lineItem/CurrencyCode",
            "reservation/ReservationARN",
            "reservation/EffectiveCost",
            "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
            "reservation/UnusedRecurringFee",
            "savingsPlan/SavingsPlanEffectiveCost",
            "savingsPlan/TotalCommitmentToDate",
            "savingsPlan/UsedCommitment",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        h.extend(TAG_KEYS.iter().map(|k| format!("resourceTags/user:{k}")));
        h
    };
    writeln!(out, "{}", header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","))
}

fn cur_line(spec: &Spec, i: u64, c: &Charge, rng: &mut StdRng, out: &mut impl Write, v2: bool) -> std::io::Result<()> {
    let blank = |a: Amount, rng: &mut StdRng| -> String {
        if a.is_zero() { ["", "NULL", "0"][rng.gen_range(0..3)].to_owned() } else { a.to_string() }
    };
    {
        let arn = if c.ri_arn { "arn:aws:ec2:eu-west-1:123:reserved-instances/ri-1" } else { "" };
        let mut fields = vec![
            format!("li-{i}"),
            spec.account.clone(),
            timestamp(spec.period_start, rng),
            if c.tags.is_empty() { String::new() } else { format!("{}-dev", spec.account) },
            c.kind.to_owned(),
            timestamp(c.day, rng),
            csv_field(c.service),
        ];
        if !v2 {
            fields.push(csv_field(c.service));
        }
        fields.extend([
            c.billed.to_string(),
            spec.currency.clone(),
            arn.to_owned(),
            blank(c.ri_effective, rng),
            blank(c.ri_unused_upfront, rng),
            blank(c.ri_unused_recurring, rng),
            blank(c.sp_effective, rng),
            blank(c.sp_commitment, rng),
            blank(c.sp_used, rng),
        ]);
        if v2 {
            fields.push(csv_field(&tags_object(&c.tags, "user_")));
        } else {
            for k in TAG_KEYS {
                fields.push(c.tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| csv_field(v)).unwrap_or_default());
            }
        }
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            seed: 7,
            lines: 300,
            period_start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            days: 31,
            account: "111122223333".into(),
            currency: "USD".into(),
            components: vec![("payments-api".into(), "payments".into()), ("storefront".into(), "payments".into())],
        }
    }

    #[test]
    fn the_same_seed_writes_the_same_file_and_the_views_differ() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ea = write(Format::Cur, &spec(), &mut a).unwrap();
        let eb = write(Format::Cur, &spec(), &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(ea, eb);
        assert_ne!(ea.billed.total, ea.effective.total, "amortisation moves money between lines");
        let parts: Amount = ea.effective.by_component.values().copied().sum::<Amount>() + ea.effective.unallocated;
        assert_eq!(parts, ea.effective.total);
        let days: Amount = ea.billed.by_day.values().copied().sum();
        assert_eq!(days, ea.billed.total);
    }
}
