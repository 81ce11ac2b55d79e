//! Importing billing files: each file is streamed (plain or gzip, told apart by its first bytes) through a CSV
//! reader, every line summed into (billing period, day, tag set, service, category, currency) in memory that
//! grows with those distinct keys and never with the file, and only when every file read cleanly are the billing
//! periods they cover replaced, in one transaction. A bad file changes nothing.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use super::CostError;
use super::entity::{cost_daily, cost_periods, cost_tagsets};
use super::formats::{Category, Layout};
use super::money::Amount;
use super::rules::{self, Rules};

/// A progress callback: `(bytes read, bytes in all)`.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A file to import: where it is and the name reported in errors and stored with the period.
#[derive(Clone, Debug)]
pub struct Source {
    /// Path on disk.
    pub path: PathBuf,
    /// Name shown (the file name as given, or an upload's name).
    pub name: String,
}

impl Source {
    /// A file on disk, named as given.
    pub fn file(path: impl AsRef<Path>) -> Source {
        let path = path.as_ref().to_path_buf();
        Source { name: path.display().to_string(), path }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PeriodKey {
    provider: String,
    account: String,
    start: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TagsetKey {
    provider: String,
    sub_account: String,
    tags: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DayKey {
    period: u32,
    day: NaiveDate,
    tagset: u32,
    currency: u32,
    service: u32,
    category: Category,
}

#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    billed: Amount,
    effective: Amount,
    lines: i64,
}

#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.to_owned());
        self.ids.insert(s.to_owned(), id);
        id
    }
}

/// Everything read from a set of files, summed.
#[derive(Debug, Default)]
pub struct Aggregate {
    /// Billing periods in order of appearance: key, format name, files, lines.
    periods: Vec<(PeriodKey, &'static str, Vec<String>, i64)>,
    period_ids: HashMap<PeriodKey, u32>,
    /// Each distinct tag set once, numbered in order of appearance.
    tagset_ids: HashMap<TagsetKey, u32>,
    strings: Interner,
    sums: HashMap<DayKey, Sums>,
    /// Lines read.
    pub lines: u64,
}

/// The outcome of an import.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Files read.
    pub files: Vec<String>,
    /// Lines read.
    pub rows: u64,
    /// Billing periods replaced: `provider account YYYY-MM`.
    pub periods: Vec<String>,
    /// Per currency: billed and effective totals, and the share of effective cost allocated to components.
    pub totals: Vec<CurrencyTotals>,
}

/// Totals of one currency.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CurrencyTotals {
    /// ISO code.
    pub currency: String,
    /// Billed total.
    pub billed: Amount,
    /// Effective total.
    pub effective: Amount,
    /// Effective cost allocated to a component.
    pub allocated: Amount,
    /// Effective cost shared by rule.
    pub shared: Amount,
    /// Effective cost nothing placed.
    pub unallocated: Amount,
    /// `allocated / effective` in percent, one decimal (`None` when the total is zero).
    pub allocated_percent: Option<String>,
}

/// Counts bytes as they are read, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file, decompressing gzip (told by its magic bytes, not its name).
fn open(path: &Path, counter: Arc<std::sync::atomic::AtomicU64>) -> std::io::Result<Box<dyn Read>> {
    let mut file = std::fs::File::open(path)?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        let n = file.read(&mut magic[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(0))?;
    let counted = BufReader::with_capacity(256 * 1024, Counting { inner: file, read: counter });
    if got >= 2 && magic[..2] == [0x1f, 0x8b] {
        return Ok(Box::new(BufReader::with_capacity(256 * 1024, flate2::bufread::MultiGzDecoder::new(counted))));
    }
    if got == 4 && magic == *b"PK\x03\x04" {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "zip archives are not read yet; unzip it and import the CSV inside",
        ));
    }
    Ok(Box::new(counted))
}

impl Aggregate {
    /// Reads every file in turn; stops at the first error, which names the file, the line and the column.
    pub fn read(sources: &[Source], progress: Option<Progress>) -> Result<Aggregate, CostError> {
        let total: u64 = sources.iter().filter_map(|s| std::fs::metadata(&s.path).ok()).map(|m| m.len()).sum();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut agg = Aggregate::default();
        for source in sources {
            agg.read_one(source, &counter, total, progress.as_ref())?;
        }
        if let Some(p) = &progress {
            p(total, total);
        }
        Ok(agg)
    }

    fn read_one(
        &mut self,
        source: &Source,
        counter: &Arc<std::sync::atomic::AtomicU64>,
        total: u64,
        progress: Option<&Progress>,
    ) -> Result<(), CostError> {
        let file_err = |line: u64, column: Option<String>, message: String| CostError::File {
            file: source.name.clone(),
            line,
            column,
            message,
        };
        let reader = open(&source.path, counter.clone()).map_err(|e| file_err(0, None, e.to_string()))?;
        let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
        let header = csv.headers().map_err(|e| file_err(1, None, csv_message(&e)))?.clone();
        let layout = Layout::from_header(header.iter()).map_err(|e| file_err(1, None, e.to_string()))?;
        let mut record = csv::StringRecord::new();
        loop {
            match csv.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    return Err(file_err(line, None, csv_message(&e)));
                }
            }
            let line_no = record.position().map_or(0, |p| p.line());
            let line = layout.line(&record).map_err(|e| file_err(line_no, Some(e.column), e.message))?;
            self.add(line, layout.format.as_str(), &source.name)
                .map_err(|column| file_err(line_no, Some(column.into()), "the sum grows too large".into()))?;
            if let Some(p) = progress
                && self.lines.is_multiple_of(8192)
            {
                p(counter.load(std::sync::atomic::Ordering::Relaxed), total);
            }
        }
        Ok(())
    }
}

impl Aggregate {
    /// Adds one line read from `source` (a file of `format`, or `opencost`). Fails, naming the amount, when a sum
    /// would outgrow its integer.
    pub fn add(&mut self, line: super::formats::Line, format: &'static str, source: &str) -> Result<(), &'static str> {
        self.lines += 1;
        let pkey = PeriodKey { provider: line.provider.clone(), account: line.account, start: line.period_start };
        let period = match self.period_ids.get(&pkey) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.periods.len()).unwrap_or(u32::MAX);
                self.period_ids.insert(pkey.clone(), id);
                self.periods.push((pkey, format, Vec::new(), 0));
                id
            }
        };
        let entry = &mut self.periods[period as usize];
        if !entry.2.iter().any(|f| f == source) {
            entry.2.push(source.to_owned());
        }
        entry.3 += 1;
        let tkey = TagsetKey { provider: line.provider, sub_account: line.sub_account, tags: line.tags };
        let next = u32::try_from(self.tagset_ids.len()).unwrap_or(u32::MAX);
        let tagset = *self.tagset_ids.entry(tkey).or_insert(next);
        let key = DayKey {
            period,
            day: line.day,
            tagset,
            currency: self.strings.id(&line.currency),
            service: self.strings.id(&line.service),
            category: line.category,
        };
        let sums = self.sums.entry(key).or_default();
        sums.billed = sums.billed.checked_add(line.billed).ok_or("billed cost")?;
        sums.effective = sums.effective.checked_add(line.effective).ok_or("effective cost")?;
        sums.lines += 1;
        Ok(())
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file ends in the middle of its compressed stream (truncated download?)".to_owned()
        }
        csv::ErrorKind::Io(io) => format!("cannot read the file: {io}"),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("is not UTF-8 text (field {})", err.field() + 1),
        _ => e.to_string(),
    }
}

/// The hash identifying a tag set.
fn tagset_hash(key: &TagsetKey) -> String {
    let mut h = Sha256::new();
    for part in [&key.provider, &key.sub_account] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for (k, v) in &key.tags {
        h.update(k.as_bytes());
        h.update([1]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// Reads the allocation catalog: every component's reference.
pub async fn catalog(db: &DatabaseConnection) -> Result<rules::Catalog, sea_orm::DbErr> {
    use crate::catalog::entity::entities;
    use sea_orm::QuerySelect;
    let refs: Vec<String> = entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .filter(entities::Column::Kind.eq("component"))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rules::Catalog { components: refs.into_iter().collect() })
}

/// Writes what was read: new tag sets (allocated by the current rules), and each billing period replaced
/// whole, all in one transaction.
pub async fn store(
    db: &DatabaseConnection,
    config: &crate::Config,
    agg: &Aggregate,
    sources: &[Source],
    by: &str,
) -> Result<ImportSummary, CostError> {
    let rules = super::load_rules(db).await?;
    let catalog = catalog(db).await?;
    let environments = rules::environment_names(config);
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;

    // Tag sets: insert the new ones, then read back every id.
    let mut tagsets: Vec<(&TagsetKey, u32)> = agg.tagset_ids.iter().map(|(k, id)| (k, *id)).collect();
    tagsets.sort_by_key(|(_, id)| *id);
    let tagsets: Vec<&TagsetKey> = tagsets.into_iter().map(|(k, _)| k).collect();
    let hashes: Vec<String> = tagsets.iter().map(|k| tagset_hash(k)).collect();
    for chunk in tagsets.iter().zip(&hashes).collect::<Vec<_>>().chunks(200) {
        let rows = chunk.iter().map(|(key, hash)| {
            let a = rules.allocate(&key.sub_account, &key.tags, &catalog, &environments);
            cost_tagsets::ActiveModel {
                hash: Set((*hash).clone()),
                provider: Set(key.provider.clone()),
                sub_account: Set(key.sub_account.clone()),
                tags: Set(rules::tags_json(&key.tags)),
                allocation: Set(a.allocation.to_owned()),
                component_ref: Set(a.component_ref),
                team_ref: Set(a.team_ref),
                environment: Set(a.environment),
                reason: Set(a.reason),
                ..Default::default()
            }
        });
        cost_tagsets::Entity::insert_many(rows)
            .on_conflict(OnConflict::column(cost_tagsets::Column::Hash).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?;
    }
    let mut tagset_db_ids: HashMap<&str, i64> = HashMap::with_capacity(hashes.len());
    let mut stored: Vec<(i64, String)> = Vec::new();
    for chunk in hashes.chunks(200) {
        use sea_orm::QuerySelect;
        let rows: Vec<(i64, String)> = cost_tagsets::Entity::find()
            .select_only()
            .column(cost_tagsets::Column::Id)
            .column(cost_tagsets::Column::Hash)
            .filter(cost_tagsets::Column::Hash.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(&txn)
            .await?;
        stored.extend(rows);
    }
    for (id, hash) in &stored {
        tagset_db_ids.insert(hash.as_str(), *id);
    }
    let tagset_id = |i: u32| -> Result<i64, CostError> {
        tagset_db_ids
            .get(hashes[i as usize].as_str())
            .copied()
            .ok_or_else(|| CostError::Db(sea_orm::DbErr::Custom("a tag set vanished during the import".into())))
    };

    // Billing periods: each replaced whole.
    let mut period_db_ids = Vec::with_capacity(agg.periods.len());
    let mut period_totals: Vec<HashMap<u32, (Amount, Amount)>> = vec![HashMap::new(); agg.periods.len()];
    for (key, sums) in &agg.sums {
        let t = period_totals[key.period as usize].entry(key.currency).or_default();
        t.0 += sums.billed;
        t.1 += sums.effective;
    }
    for (i, (key, format, files, rows)) in agg.periods.iter().enumerate() {
        let old: Vec<i64> = {
            use sea_orm::QuerySelect;
            cost_periods::Entity::find()
                .select_only()
                .column(cost_periods::Column::Id)
                .filter(cost_periods::Column::Provider.eq(key.provider.as_str()))
                .filter(cost_periods::Column::Account.eq(key.account.as_str()))
                .filter(cost_periods::Column::PeriodStart.eq(key.start))
                .into_tuple()
                .all(&txn)
                .await?
        };
        if !old.is_empty() {
            cost_daily::Entity::delete_many()
                .filter(cost_daily::Column::PeriodId.is_in(old.clone()))
                .exec(&txn)
                .await?;
            cost_periods::Entity::delete_many().filter(cost_periods::Column::Id.is_in(old)).exec(&txn).await?;
        }
        let totals: serde_json::Map<String, serde_json::Value> = period_totals[i]
            .iter()
            .map(|(c, (b, e))| {
                (agg.strings.names[*c as usize].clone(), serde_json::json!({"billed": b, "effective": e}))
            })
            .collect();
        let period = cost_periods::ActiveModel {
            provider: Set(key.provider.clone()),
            account: Set(key.account.clone()),
            period_start: Set(key.start),
            format: Set((*format).to_owned()),
            files: Set(serde_json::to_string(files).unwrap_or_default()),
            rows: Set(*rows),
            totals: Set(serde_json::Value::Object(totals).to_string()),
            imported_by: Set(by.to_owned()),
            imported_at: Set(now),
            ..Default::default()
        };
        let id = cost_periods::Entity::insert(period).exec(&txn).await?.last_insert_id;
        period_db_ids.push(id);
    }

    // Daily sums.
    let mut batch = Vec::with_capacity(500);
    for (key, sums) in &agg.sums {
        let too_big =
            || CostError::Invalid { field: "amount".into(), reason: "a daily sum exceeds ±9.2 billion".into() };
        batch.push(cost_daily::ActiveModel {
            period_id: Set(period_db_ids[key.period as usize]),
            day: Set(key.day),
            tagset_id: Set(tagset_id(key.tagset)?),
            currency: Set(agg.strings.names[key.currency as usize].clone()),
            service: Set(agg.strings.names[key.service as usize].clone()),
            category: Set(key.category.as_str().to_owned()),
            billed: Set(sums.billed.to_db().ok_or_else(too_big)?),
            effective: Set(sums.effective.to_db().ok_or_else(too_big)?),
            lines: Set(sums.lines),
            ..Default::default()
        });
        if batch.len() == 500 {
            cost_daily::Entity::insert_many(std::mem::take(&mut batch)).exec_without_returning(&txn).await?;
        }
    }
    if !batch.is_empty() {
        cost_daily::Entity::insert_many(batch).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;

    // The summary, allocation included, read back from what was stored.
    let mut summary = ImportSummary {
        files: sources.iter().map(|s| s.name.clone()).collect(),
        rows: agg.lines,
        periods: agg
            .periods
            .iter()
            .map(|(k, _, _, _)| format!("{} {} {}", k.provider, k.account, k.start.format("%Y-%m")))
            .collect(),
        totals: Vec::new(),
    };
    summary.totals = super::query::period_totals(db, &period_db_ids).await?;
    Ok(summary)
}

/// Reads and stores, the reading on a blocking thread.
pub async fn import(
    db: &DatabaseConnection,
    config: &crate::Config,
    sources: Vec<Source>,
    by: &str,
    progress: Option<Progress>,
) -> Result<ImportSummary, CostError> {
    let for_read = sources.clone();
    let agg = tokio::task::spawn_blocking(move || Aggregate::read(&for_read, progress))
        .await
        .map_err(|e| CostError::Db(sea_orm::DbErr::Custom(format!("the reader stopped: {e}"))))??;
    store(db, config, &agg, &sources, by).await
}

/// Allocates every stored tag set again with `rules` (after the rules or the catalog changed), in one
/// transaction. Returns how many tag sets moved.
pub async fn reallocate(db: &DatabaseConnection, config: &crate::Config, rules: &Rules) -> Result<u64, CostError> {
    let catalog = catalog(db).await?;
    let environments = rules::environment_names(config);
    let txn = crate::db::begin_write(db).await?;
    let all = cost_tagsets::Entity::find().all(&txn).await?;
    let mut moved = 0;
    for t in all {
        let tags = rules::tags_from_json(&t.tags);
        let a = rules.allocate(&t.sub_account, &tags, &catalog, &environments);
        if a.allocation == t.allocation
            && a.component_ref == t.component_ref
            && a.team_ref == t.team_ref
            && a.environment == t.environment
            && a.reason == t.reason
        {
            continue;
        }
        moved += 1;
        let mut m: cost_tagsets::ActiveModel = t.into();
        m.allocation = Set(a.allocation.to_owned());
        m.component_ref = Set(a.component_ref);
        m.team_ref = Set(a.team_ref);
        m.environment = Set(a.environment);
        m.reason = Set(a.reason);
        cost_tagsets::Entity::update(m).exec(&txn).await?;
    }
    txn.commit().await?;
    Ok(moved)
}
