//! The billing file formats, told apart by their header, and one line of each read into a [`Line`]: FOCUS 1.0–1.3
//! (`BilledCost`, `EffectiveCost`, a JSON `Tags` column), AWS CUR legacy (`lineItem/...` with one
//! `resourceTags/user:<key>` column per tag) and CUR 2.0 (snake_case, a JSON `resource_tags` map).
//!
//! Effective cost for CUR follows AWS's amortised-cost definition per line item type (see [`cur_effective`]);
//! billed cost is `UnblendedCost` for every line item type, which is what the invoice sums.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::money::Amount;

/// A billing file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// FinOps FOCUS 1.0–1.3.
    Focus,
    /// AWS Cost and Usage Report, legacy CSV.
    Cur,
    /// AWS CUR 2.0 (Data Exports).
    Cur2,
}

impl Format {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Focus => "focus",
            Format::Cur => "cur",
            Format::Cur2 => "cur2",
        }
    }
}

/// What a charge is, across formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Using a resource (including usage covered by a reservation or savings plan, and its negation).
    Usage,
    /// Buying a commitment: reservation and savings plan fees, upfront or recurring.
    Purchase,
    /// Tax.
    Tax,
    /// Credits and discounts.
    Credit,
    /// Refunds.
    Refund,
    /// Anything else the provider adjusts.
    Adjustment,
}

impl Category {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Usage => "usage",
            Category::Purchase => "purchase",
            Category::Tax => "tax",
            Category::Credit => "credit",
            Category::Refund => "refund",
            Category::Adjustment => "adjustment",
        }
    }

    fn of_focus(text: &str) -> Category {
        match text.trim().to_ascii_lowercase().as_str() {
            "usage" => Category::Usage,
            "purchase" => Category::Purchase,
            "tax" => Category::Tax,
            "credit" => Category::Credit,
            _ => Category::Adjustment,
        }
    }

    fn of_cur(line_item_type: &str) -> Category {
        match line_item_type {
            "Usage" | "DiscountedUsage" | "SavingsPlanCoveredUsage" | "SavingsPlanNegation" => Category::Usage,
            "RIFee" | "Fee" | "SavingsPlanRecurringFee" | "SavingsPlanUpfrontFee" => Category::Purchase,
            "Tax" => Category::Tax,
            "Credit"
            | "BundledDiscount"
            | "Discount"
            | "EdpDiscount"
            | "PrivateRateDiscount"
            | "SppDiscount"
            | "DistributorDiscount" => Category::Credit,
            "Refund" => Category::Refund,
            _ => Category::Adjustment,
        }
    }
}

/// One billing line, as every format reads into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Provider (`AWS`, `Microsoft`, ...).
    pub provider: String,
    /// Billing (payer) account.
    pub account: String,
    /// Usage (sub-)account; the billing account when the file has none.
    pub sub_account: String,
    /// First day of the billing period.
    pub period_start: NaiveDate,
    /// The charge's day, in UTC.
    pub day: NaiveDate,
    /// ISO currency code, upper case.
    pub currency: String,
    /// Cloud service.
    pub service: String,
    /// Kind of charge.
    pub category: Category,
    /// What the invoice charges for the line.
    pub billed: Amount,
    /// Amortised cost.
    pub effective: Amount,
    /// Normalised tags: lower-case trimmed keys, trimmed values, sorted, no empty values.
    pub tags: Vec<(String, String)>,
}

/// Why a line could not be read: the column and what is wrong with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Column name.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

/// Why a header is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No known format's columns.
    #[error(
        "the header is not FOCUS 1.0-1.3, AWS CUR or CUR 2.0 (no BilledCost/EffectiveCost, lineItem/LineItemType or line_item_line_item_type column; it starts with {0})"
    )]
    Unknown(String),
    /// A known format missing a column it needs.
    #[error("this {format} file has no `{column}` column")]
    Missing {
        /// The format recognised.
        format: &'static str,
        /// The column it lacks.
        column: &'static str,
    },
}

/// Column positions of one file, found from its header.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The format.
    pub format: Format,
    cols: HashMap<&'static str, usize>,
    /// `(position, tag key)` for formats with one column per tag.
    tag_columns: Vec<(usize, String)>,
    /// The JSON tags column.
    tags_json: Option<usize>,
    names: Vec<String>,
}

const FOCUS_REQUIRED: [&str; 6] =
    ["BilledCost", "EffectiveCost", "ChargePeriodStart", "BillingPeriodStart", "BillingCurrency", "BillingAccountId"];
const FOCUS_OPTIONAL: [&str; 6] =
    ["SubAccountId", "ServiceName", "ChargeCategory", "ProviderName", "ServiceProviderName", "Tags"];

const CUR_REQUIRED: [&str; 6] = [
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UnblendedCost",
    "lineItem/CurrencyCode",
    "bill/BillingPeriodStartDate",
    "bill/PayerAccountId",
];
const CUR_OPTIONAL: [&str; 10] = [
    "lineItem/UsageAccountId",
    "lineItem/ProductCode",
    "product/ProductName",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "reservation/ReservationARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
];

/// CUR 2.0's names of the legacy columns, in the legacy lists' order: the reader pairs them.
const CUR2_REQUIRED: [&str; 6] = [
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_unblended_cost",
    "line_item_currency_code",
    "bill_billing_period_start_date",
    "bill_payer_account_id",
];
const CUR2_OPTIONAL: [&str; 10] = [
    "line_item_usage_account_id",
    "line_item_product_code",
    "product_product_name",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "reservation_reservation_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
];

impl Layout {
    /// Recognises the format from the header's column names (trimmed, a byte-order mark ignored; extra columns
    /// are fine).
    pub fn from_header<'a>(header: impl IntoIterator<Item = &'a str>) -> Result<Layout, HeaderError> {
        let names: Vec<String> =
            header.into_iter().map(|h| h.trim_start_matches('\u{feff}').trim().to_owned()).collect();
        let position = |name: &str| names.iter().position(|n| n == name);
        // (the name the reader asks for, the name in this header): CUR 2.0 columns are read by their legacy
        // names, so one reader serves both CUR formats.
        let same = |list: &[&'static str]| list.iter().map(|n| (*n, *n)).collect::<Vec<_>>();
        let (format, required, optional) = if position("BilledCost").is_some() || position("EffectiveCost").is_some() {
            (Format::Focus, same(&FOCUS_REQUIRED), same(&FOCUS_OPTIONAL))
        } else if position("lineItem/LineItemType").is_some() {
            (Format::Cur, same(&CUR_REQUIRED), same(&CUR_OPTIONAL))
        } else if position("line_item_line_item_type").is_some() {
            let required: Vec<_> = CUR_REQUIRED.into_iter().zip(CUR2_REQUIRED).collect();
            // `resource_tags`, the last CUR 2.0 column, has no legacy twin and keeps its own name.
            let mut optional: Vec<_> = CUR_OPTIONAL.into_iter().zip(CUR2_OPTIONAL).collect();
            optional.push(("resource_tags", "resource_tags"));
            (Format::Cur2, required, optional)
        } else {
            let start: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            return Err(HeaderError::Unknown(if start.is_empty() { "nothing".to_owned() } else { start.join(", ") }));
        };
        let mut cols = HashMap::new();
        for (key, name) in required {
            let at = position(name).ok_or(HeaderError::Missing { format: format_label(format), column: name })?;
            cols.insert(key, at);
        }
        for (key, name) in optional {
            if let Some(at) = position(name) {
                cols.insert(key, at);
            }
        }
        let mut tag_columns = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let key = match format {
                Format::Cur => n.strip_prefix("resourceTags/user:"),
                Format::Cur2 => n.strip_prefix("resource_tags_user_"),
                Format::Focus => None,
            };
            if let Some(key) = key {
                tag_columns.push((i, normalise_key(key)));
            }
        }
        let tags_json = match format {
            Format::Focus => cols.get("Tags").copied(),
            Format::Cur2 => cols.get("resource_tags").copied(),
            Format::Cur => None,
        };
        Ok(Layout { format, cols, tag_columns, tags_json, names })
    }

    /// Number of columns in the header.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// The name of column `i`.
    pub fn column_name(&self, i: usize) -> &str {
        self.names.get(i).map_or("?", String::as_str)
    }

    /// The positions of the columns [`Layout::line`] reads, in order and each once: a columnar reader (Parquet)
    /// decodes only these and leaves the others empty.
    pub fn columns_read(&self) -> Vec<usize> {
        let mut read: Vec<usize> =
            self.cols.values().copied().chain(self.tag_columns.iter().map(|(i, _)| *i)).chain(self.tags_json).collect();
        read.sort_unstable();
        read.dedup();
        read
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, name: &'static str) -> &'r str {
        self.cols.get(name).and_then(|&i| record.get(i)).unwrap_or("")
    }

    /// Reads one record.
    pub fn line(&self, record: &csv::StringRecord) -> Result<Line, FieldError> {
        match self.format {
            Format::Focus => self.focus_line(record),
            Format::Cur | Format::Cur2 => self.cur_line(record),
        }
    }

    /// An error in the column read as `name`, named as this file's header names it.
    fn err(&self, name: &'static str, message: String) -> FieldError {
        let column = self.cols.get(name).map_or(name, |&i| self.column_name(i));
        FieldError { column: column.to_owned(), message }
    }

    fn amount(&self, record: &csv::StringRecord, name: &'static str) -> Result<Amount, FieldError> {
        Amount::parse_lenient(self.get(record, name)).map_err(|e| self.err(name, e.to_string()))
    }

    fn date(&self, record: &csv::StringRecord, name: &'static str) -> Result<NaiveDate, FieldError> {
        let text = self.get(record, name);
        utc_day(text).ok_or_else(|| self.err(name, format!("`{text}` is not a timestamp")))
    }

    fn required_text(&self, record: &csv::StringRecord, name: &'static str) -> Result<String, FieldError> {
        let t = self.get(record, name).trim();
        if t.is_empty() || t.eq_ignore_ascii_case("null") {
            return Err(self.err(name, "is empty".to_owned()));
        }
        Ok(t.to_owned())
    }

    fn currency(&self, record: &csv::StringRecord, name: &'static str) -> Result<String, FieldError> {
        let c = self.required_text(record, name)?.to_ascii_uppercase();
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(self.err(name, format!("`{c}` is not a three-letter currency code")));
        }
        Ok(c)
    }

    fn tags(&self, record: &csv::StringRecord) -> Result<Vec<(String, String)>, FieldError> {
        let mut tags: Vec<(String, String)> = Vec::new();
        for (i, key) in &self.tag_columns {
            let v = record.get(*i).unwrap_or("").trim();
            if !v.is_empty() && !v.eq_ignore_ascii_case("null") {
                tags.push((key.clone(), v.to_owned()));
            }
        }
        if let Some(i) = self.tags_json {
            let text = record.get(i).unwrap_or("").trim();
            if !text.is_empty() && !text.eq_ignore_ascii_case("null") {
                let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).map_err(|e| {
                    FieldError { column: self.names[i].clone(), message: format!("is not a JSON object of tags: {e}") }
                })?;
                for (k, v) in map {
                    let key = match self.format {
                        Format::Cur2 => match k.trim().strip_prefix("user_") {
                            Some(key) => key.to_owned(),
                            None => continue,
                        },
                        _ => {
                            let k = k.trim();
                            k.strip_prefix("user:").unwrap_or(k).to_owned()
                        }
                    };
                    let value = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => continue,
                        other => other.to_string(),
                    };
                    let value = value.trim();
                    if !value.is_empty() {
                        tags.push((normalise_key(&key), value.to_owned()));
                    }
                }
            }
        }
        tags.sort();
        // Two spellings of one key (`Team`, ` team`): the first value wins, deterministically.
        tags.dedup_by(|b, a| a.0 == b.0);
        Ok(tags)
    }

    fn focus_line(&self, r: &csv::StringRecord) -> Result<Line, FieldError> {
        let account = self.required_text(r, "BillingAccountId")?;
        let sub = self.get(r, "SubAccountId").trim();
        let provider = [self.get(r, "ProviderName"), self.get(r, "ServiceProviderName")]
            .into_iter()
            .map(str::trim)
            .find(|p| !p.is_empty() && !p.eq_ignore_ascii_case("null"))
            .unwrap_or("unknown")
            .to_owned();
        let service = self.get(r, "ServiceName").trim();
        Ok(Line {
            provider,
            sub_account: if sub.is_empty() || sub.eq_ignore_ascii_case("null") {
                account.clone()
            } else {
                sub.to_owned()
            },
            account,
            period_start: self.date(r, "BillingPeriodStart")?,
            day: self.date(r, "ChargePeriodStart")?,
            currency: self.currency(r, "BillingCurrency")?,
            service: if service.is_empty() || service.eq_ignore_ascii_case("null") {
                "(none)".to_owned()
            } else {
                service.to_owned()
            },
            category: Category::of_focus(self.get(r, "ChargeCategory")),
            billed: self.amount(r, "BilledCost")?,
            effective: self.amount(r, "EffectiveCost")?,
            tags: self.tags(r)?,
        })
    }

    fn cur_line(&self, r: &csv::StringRecord) -> Result<Line, FieldError> {
        let account = self.required_text(r, "bill/PayerAccountId")?;
        let sub = self.get(r, "lineItem/UsageAccountId").trim();
        let kind = self.get(r, "lineItem/LineItemType").trim();
        let billed = self.amount(r, "lineItem/UnblendedCost")?;
        let effective = cur_effective(
            kind,
            billed,
            |name| self.amount(r, name),
            !self.get(r, "reservation/ReservationARN").trim().is_empty(),
        )?;
        let service = [self.get(r, "product/ProductName"), self.get(r, "lineItem/ProductCode")]
            .into_iter()
            .map(str::trim)
            .find(|p| !p.is_empty() && !p.eq_ignore_ascii_case("null"))
            .unwrap_or("(none)")
            .to_owned();
        Ok(Line {
            provider: "AWS".to_owned(),
            sub_account: if sub.is_empty() || sub.eq_ignore_ascii_case("null") {
                account.clone()
            } else {
                sub.to_owned()
            },
            account,
            period_start: self.date(r, "bill/BillingPeriodStartDate")?,
            day: self.date(r, "lineItem/UsageStartDate")?,
            currency: self.currency(r, "lineItem/CurrencyCode")?,
            service,
            category: Category::of_cur(kind),
            billed,
            effective,
            tags: self.tags(r)?,
        })
    }
}

fn format_label(f: Format) -> &'static str {
    match f {
        Format::Focus => "FOCUS",
        Format::Cur => "AWS CUR",
        Format::Cur2 => "CUR 2.0",
    }
}

/// AWS's amortised cost of one CUR line (the definition of AWS's own "amortized cost" view, as the
/// Well-Architected Labs queries spell it out):
///
/// | line item type | effective (amortised) |
/// |---|---|
/// | `SavingsPlanCoveredUsage` | `SavingsPlanEffectiveCost` |
/// | `SavingsPlanRecurringFee` | `TotalCommitmentToDate − UsedCommitment` (the unused commitment) |
/// | `SavingsPlanNegation`, `SavingsPlanUpfrontFee` | 0 |
/// | `DiscountedUsage` | reservation `EffectiveCost` |
/// | `RIFee` | `UnusedAmortizedUpfrontFeeForBillingPeriod + UnusedRecurringFee` |
/// | `Fee` with a reservation ARN (the upfront payment) | 0 |
/// | everything else | `UnblendedCost` |
pub fn cur_effective(
    line_item_type: &str,
    unblended: Amount,
    amount: impl Fn(&'static str) -> Result<Amount, FieldError>,
    has_reservation: bool,
) -> Result<Amount, FieldError> {
    Ok(match line_item_type {
        "SavingsPlanCoveredUsage" => amount("savingsPlan/SavingsPlanEffectiveCost")?,
        "SavingsPlanRecurringFee" => {
            amount("savingsPlan/TotalCommitmentToDate")? - amount("savingsPlan/UsedCommitment")?
        }
        "SavingsPlanNegation" | "SavingsPlanUpfrontFee" => Amount::ZERO,
        "DiscountedUsage" => amount("reservation/EffectiveCost")?,
        "RIFee" => {
            amount("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod")? + amount("reservation/UnusedRecurringFee")?
        }
        "Fee" if has_reservation => Amount::ZERO,
        _ => unblended,
    })
}

/// A tag key as matched by the allocation rules: trimmed and lower case.
pub fn normalise_key(key: &str) -> String {
    key.trim().to_lowercase()
}

/// The UTC day of a timestamp as billing exports write them: RFC 3339 (`2026-11-01T00:00:00Z`,
/// `...000Z`, `+01:00`), without a zone (`2026-11-01 00:00:00`, taken as UTC), a bare date, or CUR's compact
/// `20261101T000000.000Z`.
pub fn utc_day(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let has_offset = t.get(19..).is_some_and(|tail| tail.contains('+') || tail.contains('-'));
    if !has_offset
        && let (Some(date), Some(rest)) = (t.get(..10), t.get(10..))
        && (rest.is_empty() || rest.starts_with('T') || rest.starts_with(' '))
        && date.as_bytes()[4] == b'-'
    {
        return NaiveDate::parse_from_str(date, "%Y-%m-%d").ok();
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&chrono::Utc).date_naive());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(d) = chrono::DateTime::parse_from_str(t, f) {
            return Some(d.with_timezone(&chrono::Utc).date_naive());
        }
    }
    if let Some(compact) = t.get(..8)
        && compact.bytes().all(|b| b.is_ascii_digit())
    {
        return NaiveDate::parse_from_str(compact, "%Y%m%d").ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(fields.to_vec())
    }

    #[test]
    fn formats_are_told_apart_by_their_header() {
        let focus = Layout::from_header([
            "\u{feff}BillingAccountId",
            "BillingPeriodStart",
            "ChargePeriodStart",
            "BilledCost",
            "EffectiveCost",
            "BillingCurrency",
            "Extra",
        ])
        .unwrap();
        assert_eq!(focus.format, Format::Focus);
        let cur = Layout::from_header(CUR_REQUIRED).unwrap();
        assert_eq!(cur.format, Format::Cur);
        let cur2 = Layout::from_header(CUR2_REQUIRED).unwrap();
        assert_eq!(cur2.format, Format::Cur2);
        let err = Layout::from_header(["date", "amount"]).unwrap_err();
        assert!(err.to_string().contains("starts with date, amount"), "{err}");
        let err = Layout::from_header(["BilledCost", "EffectiveCost"]).unwrap_err();
        assert_eq!(err, HeaderError::Missing { format: "FOCUS", column: "ChargePeriodStart" });
    }

    #[test]
    fn a_focus_line_keeps_its_tags_and_both_costs() {
        let layout = Layout::from_header([
            "BillingAccountId",
            "SubAccountId",
            "ProviderName",
            "BillingPeriodStart",
            "ChargePeriodStart",
            "BilledCost",
            "EffectiveCost",
            "BillingCurrency",
            "ServiceName",
            "ChargeCategory",
            "Tags",
        ])
        .unwrap();
        let line = layout
            .line(&record(&[
                "acct-1",
                "NULL",
                "AWS",
                "2026-11-01T00:00:00.000Z",
                "2026-11-03 05:00:00",
                "12.5",
                "10.25",
                "usd",
                "Amazon EC2",
                "Usage",
                r#"{" Team ":"payments","user:Service":"payments-api","empty":"","n":3}"#,
            ]))
            .unwrap();
        assert_eq!(line.sub_account, "acct-1");
        assert_eq!(line.currency, "USD");
        assert_eq!(line.day, NaiveDate::from_ymd_opt(2026, 11, 3).unwrap());
        assert_eq!(line.period_start, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(line.billed, Amount::parse("12.5").unwrap());
        assert_eq!(line.effective, Amount::parse("10.25").unwrap());
        assert_eq!(
            line.tags,
            [("n".into(), "3".into()), ("service".into(), "payments-api".into()), ("team".into(), "payments".into())]
        );
        let bad = layout
            .line(&record(&["acct-1", "", "AWS", "2026-11-01", "2026-11-03", "12,5", "1", "USD", "EC2", "Usage", ""]))
            .unwrap_err();
        assert_eq!(bad.column, "BilledCost");
        let bad = layout
            .line(&record(&["acct-1", "", "AWS", "2026-11-01", "soon", "1", "1", "USD", "EC2", "Usage", ""]))
            .unwrap_err();
        assert_eq!(bad.column, "ChargePeriodStart");
        let bad = layout
            .line(&record(&["acct-1", "", "AWS", "2026-11-01", "2026-11-02", "1", "1", "USD", "EC2", "Usage", "{"]))
            .unwrap_err();
        assert_eq!(bad.column, "Tags");
        let bad = layout
            .line(&record(&["acct-1", "", "AWS", "2026-11-01", "2026-11-02", "1", "1", "US D", "EC2", "Usage", ""]))
            .unwrap_err();
        assert_eq!(bad.column, "BillingCurrency");
    }

    #[test]
    fn cur_amortised_cost_follows_the_line_item_type() {
        let mut header: Vec<&str> = CUR_REQUIRED.to_vec();
        header.extend(CUR_OPTIONAL);
        header.push("resourceTags/user:Team");
        header.push("resourceTags/user: team ");
        let layout = Layout::from_header(header.iter().copied()).unwrap();
        // type, start, unblended, currency, period, payer, usage acct, code, name, ri eff, ri unused upfront,
        // ri unused recurring, ri arn, sp eff, sp commit, sp used, tag, tag
        let row = |kind: &str, unblended: &str, arn: &str| {
            record(&[
                kind,
                "2026-11-02T00:00:00Z",
                unblended,
                "USD",
                "2026-11-01T00:00:00Z",
                "payer",
                "",
                "AmazonEC2",
                "",
                "0.7",
                "1.5",
                "2.25",
                arn,
                "0.6",
                "10",
                "7.5",
                "Payments",
                "ignored",
            ])
        };
        let eff = |kind: &str, unblended: &str, arn: &str| layout.line(&row(kind, unblended, arn)).unwrap().effective;
        let a = |s: &str| Amount::parse(s).unwrap();
        assert_eq!(eff("Usage", "1.2", ""), a("1.2"));
        assert_eq!(eff("DiscountedUsage", "0", "arn:ri"), a("0.7"));
        assert_eq!(eff("SavingsPlanCoveredUsage", "1", ""), a("0.6"));
        assert_eq!(eff("SavingsPlanNegation", "-1", ""), a("0"));
        assert_eq!(eff("SavingsPlanUpfrontFee", "100", ""), a("0"));
        assert_eq!(eff("SavingsPlanRecurringFee", "10", ""), a("2.5"));
        assert_eq!(eff("RIFee", "30", "arn:ri"), a("3.75"));
        assert_eq!(eff("Fee", "500", "arn:ri"), a("0"));
        assert_eq!(eff("Fee", "29", ""), a("29"));
        assert_eq!(eff("Tax", "3", ""), a("3"));
        let line = layout.line(&row("SavingsPlanNegation", "-1", "")).unwrap();
        assert_eq!(line.billed, a("-1"));
        assert_eq!(line.category, Category::Usage);
        assert_eq!(line.service, "AmazonEC2");
        assert_eq!(line.sub_account, "payer");
        assert_eq!(line.tags, [("team".into(), "Payments".into())], "two spellings of one key: one tag");
    }

    #[test]
    fn cur2_reads_its_tag_map() {
        let mut header: Vec<&str> = CUR2_REQUIRED.to_vec();
        header.push("resource_tags");
        let layout = Layout::from_header(header.iter().copied()).unwrap();
        let line = layout
            .line(&record(&[
                "Usage",
                "2026-11-02T10:00:00.000Z",
                "0.0000000417",
                "USD",
                "2026-11-01T00:00:00.000Z",
                "payer",
                r#"{"user_service":"storefront","aws_createdBy":"x","user_env":"prod"}"#,
            ]))
            .unwrap();
        assert_eq!(line.tags, [("env".into(), "prod".into()), ("service".into(), "storefront".into())]);
        assert_eq!(line.billed, Amount(42));
    }

    #[test]
    fn timestamps_of_real_exports_give_their_utc_day() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(utc_day("2026-11-01T00:00:00Z"), d(2026, 11, 1));
        assert_eq!(utc_day("2026-11-01T00:00:00.000Z"), d(2026, 11, 1));
        assert_eq!(utc_day("2026-11-01 23:00:00"), d(2026, 11, 1));
        assert_eq!(utc_day("2026-11-01"), d(2026, 11, 1));
        assert_eq!(utc_day("2026-11-01T23:30:00-02:00"), d(2026, 11, 2));
        assert_eq!(utc_day("2026-11-01T00:30:00+01:00"), d(2026, 10, 31));
        assert_eq!(utc_day("20261101T000000.000Z"), d(2026, 11, 1));
        assert_eq!(utc_day("yesterday"), None);
        assert_eq!(utc_day(""), None);
    }
}
