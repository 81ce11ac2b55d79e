//! A seeded generator of billing files (FOCUS, AWS CUR legacy, CUR 2.0) with what real exports contain:
//! reservations, savings plans, credits, refunds, tax, untagged lines, the literal `NULL`, timestamps without a
//! zone, extra columns and tag keys with stray spaces and capitals. It returns, beside the file, the totals each
//! view must show per component, team, environment and day, computed from the amounts it chose (not by reading
//! the file back), so tests and the benchmark can check an import to the last nano-unit.
//!
//! [`write`] writes CSV; [`write_parquet`] writes the same rows as Parquet, typed as the providers' Parquet
//! exports type them: strings, amounts as DECIMAL (FOCUS) or DOUBLE (CUR), timestamps in milli-, micro- and
//! nanoseconds, tags as a MAP, missing values as NULL.

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

/// Writes a CSV file of `format` and returns what it must import as.
pub fn write(format: Format, spec: &Spec, out: &mut impl Write) -> std::io::Result<Expected> {
    let columns = columns(format);
    writeln!(out, "{}", columns.iter().map(|(name, _)| csv_field(name)).collect::<Vec<_>>().join(","))?;
    let mut csv = CsvRows(out);
    generate(format, spec, &mut csv)
}

/// Writes the same rows as [`write`] as a Parquet file of `format`, compressed with `compression`, in row groups
/// of 256 rows, and returns what it must import as.
pub fn write_parquet<W: Write + Send>(
    format: Format,
    spec: &Spec,
    compression: parquet::basic::Compression,
    out: &mut W,
) -> std::io::Result<Expected> {
    let mut pq = ParquetRows::start(format, compression, out)?;
    let expected = generate(format, spec, &mut pq)?;
    pq.finish()?;
    Ok(expected)
}

/// Makes every line and hands it to `rows`.
fn generate(format: Format, spec: &Spec, rows: &mut dyn Rows) -> std::io::Result<Expected> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut sink = Sink::start(format, spec, rows);
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
struct Sink<'a> {
    format: Format,
    spec: &'a Spec,
    out: &'a mut dyn Rows,
    noise: StdRng,
    expected: Expected,
}

impl<'a> Sink<'a> {
    fn start(format: Format, spec: &'a Spec, out: &'a mut dyn Rows) -> Self {
        let noise = StdRng::seed_from_u64(spec.seed.wrapping_add(0x5eed));
        Sink { format, spec, out, noise, expected: Expected::default() }
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
        let cells = match self.format {
            Format::Focus => focus_line(self.spec, &c, &mut self.noise),
            Format::Cur => cur_line(self.spec, i, &c, &mut self.noise, false),
            Format::Cur2 => cur_line(self.spec, i, &c, &mut self.noise, true),
        };
        self.out.row(cells)
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

/// One value of a line: CSV writes it as text, Parquet as a typed value.
#[derive(Clone, Debug)]
enum Cell {
    Text(String),
    /// No value: CSV writes the spelling (`""`, `NULL`), Parquet a NULL.
    Missing(&'static str),
    Money(Amount),
    /// Zero, as CUR writes some zero amounts: `0` in CSV.
    Zero,
    /// Midnight UTC of the day; CSV spells it one of three ways.
    Time(NaiveDate, u8),
    /// Tags, each key behind the prefix: a JSON object in CSV, a MAP in Parquet.
    Tags(&'static str, Vec<(String, String)>),
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => csv_field(s),
            Cell::Missing(spelling) => (*spelling).to_owned(),
            Cell::Money(a) => a.to_string(),
            Cell::Zero => "0".to_owned(),
            Cell::Time(day, 0) => format!("{day}T00:00:00Z"),
            Cell::Time(day, 1) => format!("{day}T00:00:00.000Z"),
            Cell::Time(day, _) => format!("{day} 00:00:00"),
            Cell::Tags(prefix, tags) => csv_field(&tags_object(tags, prefix)),
        }
    }
}

/// What a column holds, and so its Parquet type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Money,
    /// A timestamp: its unit, and whether it is adjusted to UTC.
    Time(parquet::basic::TimeUnit, bool),
    Tags,
}

fn timestamp(day: NaiveDate, rng: &mut StdRng) -> Cell {
    // Drawn as an `i32`, as the generator always has: the same seed keeps writing the same file.
    let spelling: i32 = rng.gen_range(0..3);
    Cell::Time(day, u8::try_from(spelling).unwrap_or(0))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn tags_object(tags: &[(String, String)], prefix: &str) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        tags.iter().map(|(k, v)| (format!("{prefix}{k}"), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}

/// The columns of each format, as its exports name and type them.
fn columns(format: Format) -> Vec<(String, Kind)> {
    use parquet::basic::TimeUnit::{MICROS, MILLIS, NANOS};
    let named = |list: &[(&str, Kind)]| list.iter().map(|(n, k)| ((*n).to_owned(), *k)).collect::<Vec<_>>();
    match format {
        Format::Focus => named(&[
            ("BillingAccountId", Kind::Text),
            ("SubAccountId", Kind::Text),
            ("ProviderName", Kind::Text),
            ("BillingPeriodStart", Kind::Time(MILLIS, true)),
            ("BillingPeriodEnd", Kind::Time(MILLIS, true)),
            ("ChargePeriodStart", Kind::Time(MICROS, true)),
            ("ChargePeriodEnd", Kind::Time(NANOS, true)),
            ("ChargeCategory", Kind::Text),
            ("ServiceName", Kind::Text),
            ("BilledCost", Kind::Money),
            ("EffectiveCost", Kind::Money),
            ("ListCost", Kind::Money),
            ("BillingCurrency", Kind::Text),
            ("Tags", Kind::Tags),
            ("x_Custom", Kind::Text),
        ]),
        Format::Cur2 => named(&[
            ("identity_line_item_id", Kind::Text),
            ("bill_payer_account_id", Kind::Text),
            // CUR 2.0 writes the billing period without a time zone.
            ("bill_billing_period_start_date", Kind::Time(MILLIS, false)),
            ("line_item_usage_account_id", Kind::Text),
            ("line_item_line_item_type", Kind::Text),
            ("line_item_usage_start_date", Kind::Time(NANOS, true)),
            ("line_item_product_code", Kind::Text),
            ("line_item_unblended_cost", Kind::Money),
            ("line_item_currency_code", Kind::Text),
            ("reservation_reservation_a_r_n", Kind::Text),
            ("reservation_effective_cost", Kind::Money),
            ("reservation_unused_amortized_upfront_fee_for_billing_period", Kind::Money),
            ("reservation_unused_recurring_fee", Kind::Money),
            ("savings_plan_savings_plan_effective_cost", Kind::Money),
            ("savings_plan_total_commitment_to_date", Kind::Money),
            ("savings_plan_used_commitment", Kind::Money),
            ("resource_tags", Kind::Tags),
        ]),
        Format::Cur => {
            let mut c = named(&[
                ("identity/LineItemId", Kind::Text),
                ("bill/PayerAccountId", Kind::Text),
                ("bill/BillingPeriodStartDate", Kind::Time(MILLIS, true)),
                ("lineItem/UsageAccountId", Kind::Text),
                ("lineItem/LineItemType", Kind::Text),
                ("lineItem/UsageStartDate", Kind::Time(MILLIS, true)),
                ("lineItem/ProductCode", Kind::Text),
                ("product/ProductName", Kind::Text),
                ("lineItem/UnblendedCost", Kind::Money),
                ("lineItem/CurrencyCode", Kind::Text),
                ("reservation/ReservationARN", Kind::Text),
                ("reservation/EffectiveCost", Kind::Money),
                ("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", Kind::Money),
                ("reservation/UnusedRecurringFee", Kind::Money),
                ("savingsPlan/SavingsPlanEffectiveCost", Kind::Money),
                ("savingsPlan/TotalCommitmentToDate", Kind::Money),
                ("savingsPlan/UsedCommitment", Kind::Money),
            ]);
            c.extend(TAG_KEYS.iter().map(|k| (format!("resourceTags/user:{k}"), Kind::Text)));
            c
        }
    }
}

fn focus_line(spec: &Spec, c: &Charge, rng: &mut StdRng) -> Vec<Cell> {
    let end = spec.period_start + Duration::days(31);
    // FOCUS: covered usage is billed on the commitment's purchase, so the usage line bills 0.
    let category = match c.kind {
        "Usage" | "DiscountedUsage" | "SavingsPlanCoveredUsage" | "SavingsPlanNegation" => "Usage",
        "Credit" => "Credit",
        "Refund" => "Adjustment",
        "Tax" => "Tax",
        _ => "Purchase",
    };
    let sub = if c.tags.is_empty() { Cell::Missing("NULL") } else { Cell::Text(format!("{}-dev", spec.account)) };
    let tags =
        if c.tags.is_empty() && rng.gen_bool(0.5) { Cell::Missing("NULL") } else { Cell::Tags("", c.tags.clone()) };
    vec![
        Cell::Text(spec.account.clone()),
        sub,
        Cell::Text("AWS".to_owned()),
        timestamp(spec.period_start, rng),
        timestamp(end, rng),
        timestamp(c.day, rng),
        timestamp(c.day + Duration::days(1), rng),
        Cell::Text(category.to_owned()),
        Cell::Text(c.service.to_owned()),
        Cell::Money(c.billed),
        Cell::Money(c.effective),
        Cell::Money(c.billed),
        Cell::Text(spec.currency.clone()),
        tags,
        Cell::Text("x".to_owned()),
    ]
}

fn cur_line(spec: &Spec, i: u64, c: &Charge, rng: &mut StdRng, v2: bool) -> Vec<Cell> {
    let blank = |a: Amount, rng: &mut StdRng| -> Cell {
        if a.is_zero() {
            [Cell::Missing(""), Cell::Missing("NULL"), Cell::Zero][rng.gen_range(0..3)].clone()
        } else {
            Cell::Money(a)
        }
    };
    let mut cells = vec![
        Cell::Text(format!("li-{i}")),
        Cell::Text(spec.account.clone()),
        timestamp(spec.period_start, rng),
        if c.tags.is_empty() { Cell::Missing("") } else { Cell::Text(format!("{}-dev", spec.account)) },
        Cell::Text(c.kind.to_owned()),
        timestamp(c.day, rng),
        Cell::Text(c.service.to_owned()),
    ];
    if !v2 {
        cells.push(Cell::Text(c.service.to_owned()));
    }
    cells.extend([
        Cell::Money(c.billed),
        Cell::Text(spec.currency.clone()),
        if c.ri_arn {
            Cell::Text("arn:aws:ec2:eu-west-1:123:reserved-instances/ri-1".to_owned())
        } else {
            Cell::Missing("")
        },
        blank(c.ri_effective, rng),
        blank(c.ri_unused_upfront, rng),
        blank(c.ri_unused_recurring, rng),
        blank(c.sp_effective, rng),
        blank(c.sp_commitment, rng),
        blank(c.sp_used, rng),
    ]);
    if v2 {
        cells.push(Cell::Tags("user_", c.tags.clone()));
    } else {
        for k in TAG_KEYS {
            cells.push(c.tags.iter().find(|(tk, _)| tk == k).map_or(Cell::Missing(""), |(_, v)| Cell::Text(v.clone())));
        }
    }
    cells
}

/// Where the lines go.
trait Rows {
    fn row(&mut self, cells: Vec<Cell>) -> std::io::Result<()>;
}

struct CsvRows<'a, W: Write>(&'a mut W);

impl<W: Write> Rows for CsvRows<'_, W> {
    fn row(&mut self, cells: Vec<Cell>) -> std::io::Result<()> {
        writeln!(self.0, "{}", cells.iter().map(Cell::csv).collect::<Vec<_>>().join(","))
    }
}

/// Rows buffered a row group at a time and written column by column.
struct ParquetRows<'a, W: Write + Send> {
    writer: parquet::file::writer::SerializedFileWriter<&'a mut W>,
    columns: Vec<(String, Kind)>,
    /// FOCUS amounts are DECIMAL(18, 9) (exact); CUR's are DOUBLE, as AWS writes them.
    decimal: bool,
    buffered: Vec<Vec<Cell>>,
}

const ROW_GROUP: usize = 256;

static MISSING: Cell = Cell::Missing("");

fn next_column<'b, W: Write + Send>(
    group: &'b mut parquet::file::writer::SerializedRowGroupWriter<'_, W>,
) -> std::io::Result<parquet::file::writer::SerializedColumnWriter<'b>> {
    group.next_column().map_err(io_error)?.ok_or_else(|| io_error("the schema has a column too few"))
}

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl<'a, W: Write + Send> ParquetRows<'a, W> {
    fn start(format: Format, compression: parquet::basic::Compression, out: &'a mut W) -> std::io::Result<Self> {
        use parquet::basic::{LogicalType, Repetition, Type as Physical};
        use parquet::schema::types::Type;
        let columns = columns(format);
        let decimal = format == Format::Focus;
        let text = |name: &str, repetition| {
            Type::primitive_type_builder(name, Physical::BYTE_ARRAY)
                .with_repetition(repetition)
                .with_logical_type(Some(LogicalType::String))
                .build()
        };
        let mut fields = Vec::new();
        for (name, kind) in &columns {
            let field = match kind {
                Kind::Text => text(name, Repetition::OPTIONAL),
                Kind::Money if decimal => Type::primitive_type_builder(name, Physical::INT64)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(Some(LogicalType::decimal(9, 18)))
                    .with_precision(18)
                    .with_scale(9)
                    .build(),
                Kind::Money => {
                    Type::primitive_type_builder(name, Physical::DOUBLE).with_repetition(Repetition::OPTIONAL).build()
                }
                Kind::Time(unit, utc) => Type::primitive_type_builder(name, Physical::INT64)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(Some(LogicalType::timestamp(*utc, *unit)))
                    .build(),
                Kind::Tags => {
                    let entry = Type::group_type_builder("key_value")
                        .with_repetition(Repetition::REPEATED)
                        .with_fields(vec![
                            text("key", Repetition::REQUIRED).map_err(io_error)?.into(),
                            text("value", Repetition::OPTIONAL).map_err(io_error)?.into(),
                        ])
                        .build()
                        .map_err(io_error)?;
                    Type::group_type_builder(name)
                        .with_repetition(Repetition::OPTIONAL)
                        .with_logical_type(Some(LogicalType::Map))
                        .with_fields(vec![entry.into()])
                        .build()
                }
            };
            fields.push(std::sync::Arc::new(field.map_err(io_error)?));
        }
        let schema = Type::group_type_builder("schema").with_fields(fields).build().map_err(io_error)?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(true)
            .set_created_by("portolan cost generate".to_owned())
            .build();
        let writer =
            parquet::file::writer::SerializedFileWriter::new(out, schema.into(), props.into()).map_err(io_error)?;
        Ok(ParquetRows { writer, columns, decimal, buffered: Vec::with_capacity(ROW_GROUP) })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
        if self.buffered.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.buffered);
        let mut group = self.writer.next_row_group().map_err(io_error)?;
        for (c, (_, kind)) in self.columns.iter().enumerate() {
            let cells = rows.iter().map(|r| r.get(c).unwrap_or(&MISSING));
            let present = |cells: &mut dyn Iterator<Item = &Cell>| -> Vec<i16> {
                cells.map(|cell| i16::from(!matches!(cell, Cell::Missing(_)))).collect()
            };
            let defs = present(&mut cells.clone());
            match kind {
                Kind::Text => {
                    let values: Vec<ByteArray> = cells
                        .filter(|cell| !matches!(cell, Cell::Missing(_)))
                        .map(|cell| match cell {
                            Cell::Text(s) => ByteArray::from(s.as_str()),
                            other => ByteArray::from(other.csv().as_str()),
                        })
                        .collect();
                    let mut col = next_column(&mut group)?;
                    col.typed::<ByteArrayType>().write_batch(&values, Some(&defs), None).map_err(io_error)?;
                    col.close().map_err(io_error)?;
                }
                Kind::Money => {
                    let amounts: Vec<Amount> = cells
                        .filter_map(|cell| match cell {
                            Cell::Money(a) => Some(*a),
                            Cell::Zero => Some(Amount::ZERO),
                            _ => None,
                        })
                        .collect();
                    let mut col = next_column(&mut group)?;
                    if self.decimal {
                        let values = amounts
                            .iter()
                            .map(|a| i64::try_from(a.0).map_err(|_| io_error(format!("{a} exceeds DECIMAL(18, 9)"))))
                            .collect::<Result<Vec<i64>, _>>()?;
                        col.typed::<Int64Type>().write_batch(&values, Some(&defs), None).map_err(io_error)?;
                    } else {
                        // The double nearest the decimal; its shortest text is that decimal again (amounts here
                        // have at most 15 significant digits).
                        let values: Vec<f64> =
                            amounts.iter().map(|a| a.to_string().parse::<f64>().unwrap_or(f64::NAN)).collect();
                        col.typed::<DoubleType>().write_batch(&values, Some(&defs), None).map_err(io_error)?;
                    }
                    col.close().map_err(io_error)?;
                }
                Kind::Time(unit, _) => {
                    use parquet::basic::TimeUnit;
                    let per_second = match unit {
                        TimeUnit::MILLIS => 1_000,
                        TimeUnit::MICROS => 1_000_000,
                        TimeUnit::NANOS => 1_000_000_000,
                    };
                    let values: Vec<i64> = cells
                        .filter_map(|cell| match cell {
                            Cell::Time(day, _) => Some(day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()),
                            _ => None,
                        })
                        .map(|seconds| seconds * per_second)
                        .collect();
                    let mut col = next_column(&mut group)?;
                    col.typed::<Int64Type>().write_batch(&values, Some(&defs), None).map_err(io_error)?;
                    col.close().map_err(io_error)?;
                }
                Kind::Tags => {
                    // Levels of `optional group (MAP) { repeated group key_value { required key; optional value } }`:
                    // definition 0 a NULL map, 1 an empty one, 2 an entry (3 for its value when present);
                    // repetition 0 starts a row, 1 continues its map.
                    let (mut keys, mut values) = (Vec::new(), Vec::new());
                    let (mut key_defs, mut value_defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
                    for cell in cells {
                        match cell {
                            Cell::Tags(prefix, tags) if !tags.is_empty() => {
                                for (i, (k, v)) in tags.iter().enumerate() {
                                    keys.push(ByteArray::from(format!("{prefix}{k}").as_str()));
                                    values.push(ByteArray::from(v.as_str()));
                                    key_defs.push(2);
                                    value_defs.push(3);
                                    reps.push(i16::from(i > 0));
                                }
                            }
                            Cell::Tags(..) => {
                                key_defs.push(1);
                                value_defs.push(1);
                                reps.push(0);
                            }
                            _ => {
                                key_defs.push(0);
                                value_defs.push(0);
                                reps.push(0);
                            }
                        }
                    }
                    for (data, defs) in [(&keys, &key_defs), (&values, &value_defs)] {
                        let mut col = next_column(&mut group)?;
                        col.typed::<ByteArrayType>().write_batch(data, Some(defs), Some(&reps)).map_err(io_error)?;
                        col.close().map_err(io_error)?;
                    }
                }
            }
        }
        group.close().map_err(io_error)?;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.flush()?;
        self.writer.close().map_err(io_error)?;
        Ok(())
    }
}

impl<W: Write + Send> Rows for ParquetRows<'_, W> {
    fn row(&mut self, cells: Vec<Cell>) -> std::io::Result<()> {
        self.buffered.push(cells);
        if self.buffered.len() == ROW_GROUP { self.flush() } else { Ok(()) }
    }
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
