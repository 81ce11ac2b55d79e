//! Importing billing files: each file is streamed (plain CSV, gzip, zip or Parquet, told apart by its first bytes)
//! through a CSV reader, or row by row through the Parquet reader ([`super::parquet_rows`]), every line summed
//! into (billing period, day, tag set, service, category, currency). Those sums stay in memory up to a limit and
//! then go, sorted, to scratch files that storing merges back ([`super::spill`]), so memory follows neither the
//! file nor its distinct keys. Only when every file read cleanly are the billing periods they cover replaced, in
//! one transaction, with their roll-ups. A bad file changes nothing.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use super::CostError;
use super::entity::{cost_daily, cost_periods, cost_tagsets};
use super::formats::Layout;
use super::money::Amount;
use super::parquet_rows::{self, ParquetFile};
use super::rules::{self, Rules};
use super::spill::{DayKey, MergeError, Merged, Runs, SPILL_AT, Sums};

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
#[derive(Debug)]
pub struct Aggregate {
    /// Billing periods in order of appearance: key, format name, files, lines.
    periods: Vec<(PeriodKey, &'static str, Vec<String>, i64)>,
    period_ids: HashMap<PeriodKey, u32>,
    /// Each distinct tag set once, numbered in order of appearance.
    tagset_ids: HashMap<TagsetKey, u32>,
    strings: Interner,
    /// Daily sums not yet spilled.
    sums: HashMap<DayKey, Sums>,
    /// Daily sums spilled to scratch files, each run sorted.
    runs: Runs,
    /// How many daily sums `sums` may hold before they are spilled.
    spill_at: usize,
    /// Per period (by number) and currency (by number): billed and effective totals.
    period_totals: Vec<HashMap<u32, (Amount, Amount)>>,
    /// Lines read.
    pub lines: u64,
}

impl Default for Aggregate {
    fn default() -> Aggregate {
        Aggregate::spilling_at(SPILL_AT)
    }
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

impl<R: std::io::Seek> std::io::Seek for Counting<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// What a file holds, told by its first bytes (never its name).
enum Opened {
    /// CSV, plain or gzip (decompressed here).
    Csv(Box<dyn Read>),
    /// A zip archive: its CSV entries are read in turn.
    Zip(zip::ZipArchive<Counting<BufReader<std::fs::File>>>),
    /// A Parquet file (`PAR1` first): read through its footer, so from the file itself.
    Parquet(std::fs::File),
}

fn is_gzip(magic: &[u8]) -> bool {
    magic.len() >= 2 && magic[..2] == [0x1f, 0x8b]
}

/// Opens a file: plain CSV, gzip, zip or Parquet.
fn open(path: &Path, counter: Arc<std::sync::atomic::AtomicU64>) -> std::io::Result<Opened> {
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
    if got == 4 && magic == *b"PK\x03\x04" {
        let counted = Counting { inner: BufReader::with_capacity(256 * 1024, file), read: counter };
        let archive = zip::ZipArchive::new(counted).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a readable zip archive: {e}"))
        })?;
        return Ok(Opened::Zip(archive));
    }
    if got == 4 && magic == *parquet_rows::MAGIC {
        return Ok(Opened::Parquet(file));
    }
    if magic[..got].first() == Some(&b'{') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "this is JSON, not a billing file; a CUR manifest is imported with `portolan cost import <manifest>.json`, \
             which reads the report files it lists",
        ));
    }
    let counted = BufReader::with_capacity(256 * 1024, Counting { inner: file, read: counter });
    if is_gzip(&magic[..got]) {
        return Ok(Opened::Csv(Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(counted),
        ))));
    }
    Ok(Opened::Csv(Box::new(counted)))
}

/// Expands AWS CUR manifests (`<report>-Manifest.json`) among `paths` into the report files they list, and keeps
/// other paths as they are. A manifest names the current assembly's files by S3 key (`reportKeys`); with the
/// bucket synced to disk, each key is found under the manifest's folder by the longest tail of the key that exists
/// there (the manifest sits in the key's `<prefix>/<report>/<period>/` folder). Keys with `..` are refused.
pub fn expand_manifests(paths: &[String]) -> Result<Vec<Source>, CostError> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        let looks_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if !looks_json {
            out.push(Source::file(path));
            continue;
        }
        let bad = |message: String| CostError::File { file: p.clone(), line: 0, column: None, message };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let manifest: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a CUR manifest (JSON): {e}")))?;
        let keys = manifest
            .get("reportKeys")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| bad("not a CUR manifest: no `reportKeys` list".to_owned()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for key in keys {
            let key = key.as_str().ok_or_else(|| bad("`reportKeys` holds a non-string".to_owned()))?;
            let parts: Vec<&str> = key.split('/').filter(|c| !c.is_empty()).collect();
            if parts.iter().any(|c| *c == ".." || *c == "." || c.contains('\\')) {
                return Err(bad(format!("report key `{key}` leaves the manifest's folder")));
            }
            let found = (0..parts.len())
                .map(|skip| parts[skip..].iter().fold(dir.to_path_buf(), |acc, c| acc.join(c)))
                .find(|candidate| candidate.is_file())
                .ok_or_else(|| bad(format!("report file `{key}` is not under {}", dir.display())))?;
            out.push(Source::file(found));
        }
    }
    Ok(out)
}

/// The CSV entries of an archive, in order: files named `.csv` or `.csv.gz`, not folders or macOS metadata.
fn csv_entries<R: Read + std::io::Seek>(archive: &zip::ZipArchive<R>) -> Vec<(usize, String)> {
    (0..archive.len())
        .filter_map(|i| archive.name_for_index(i).and_then(|n| n.ok()).map(|n| (i, n.into_owned())))
        .filter(|(_, n)| {
            let lower = n.to_ascii_lowercase();
            !lower.ends_with('/')
                && !lower.starts_with("__macosx/")
                && (lower.ends_with(".csv") || lower.ends_with(".csv.gz"))
        })
        .collect()
}

impl Aggregate {
    /// Reads every file in turn; stops at the first error, which names the file, the line and the column.
    pub fn read(sources: &[Source], progress: Option<Progress>) -> Result<Aggregate, CostError> {
        Aggregate::default().read_all(sources, progress)
    }

    /// [`Aggregate::read`] into this (empty) aggregate, which says when to spill.
    pub fn read_all(self, sources: &[Source], progress: Option<Progress>) -> Result<Aggregate, CostError> {
        let total: u64 = sources.iter().filter_map(|s| std::fs::metadata(&s.path).ok()).map(|m| m.len()).sum();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut agg = self;
        for source in sources {
            agg.read_one(source, &counter, total, progress.as_ref())?;
        }
        agg.finish().map_err(CostError::Scratch)?;
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
        match open(&source.path, counter.clone()).map_err(|e| file_err(0, None, e.to_string()))? {
            Opened::Csv(reader) => self.read_csv(reader, &source.name, &source.name, counter, total, progress),
            Opened::Zip(mut archive) => {
                let entries = csv_entries(&archive);
                if entries.is_empty() {
                    return Err(file_err(0, None, "the zip archive holds no .csv or .csv.gz file".to_owned()));
                }
                for (i, entry) in entries {
                    let name = format!("{}:{entry}", source.name);
                    let file = archive.by_index(i).map_err(|e| file_err(0, None, format!("{entry}: {e}")))?;
                    let reader: Box<dyn Read + '_> = if entry.to_ascii_lowercase().ends_with(".gz") {
                        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
                    } else {
                        Box::new(BufReader::with_capacity(256 * 1024, file))
                    };
                    self.read_csv(reader, &name, &source.name, counter, total, progress)?;
                }
                Ok(())
            }
            Opened::Parquet(file) => {
                // The parquet crate refuses bad input with errors, but a few of its conversions still panic on
                // types a corrupt schema can declare: such a file is refused like any other unreadable one.
                let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.read_parquet(file, &source.name, counter, total, progress)
                }));
                read.unwrap_or_else(|panic| {
                    let why = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("no reason given");
                    Err(file_err(0, None, format!("the Parquet reader failed on this file: {why}")))
                })
            }
        }
    }

    /// Reads one Parquet file row by row; errors name `name` and say `row N` (the 1-based data row) and the
    /// column.
    fn read_parquet(
        &mut self,
        file: std::fs::File,
        name: &str,
        counter: &Arc<std::sync::atomic::AtomicU64>,
        total: u64,
        progress: Option<&Progress>,
    ) -> Result<(), CostError> {
        let file_err = |message: String| CostError::File { file: name.to_owned(), line: 0, column: None, message };
        let parquet = ParquetFile::open(file)
            .map_err(|e| file_err(format!("not a readable Parquet file (truncated or corrupt?): {e}")))?;
        let layout = Layout::from_header(parquet.header().iter().map(String::as_str))
            .map_err(|e| file_err(format!("its Parquet schema: {e}")))?;
        let format = layout.format.as_str();
        parquet.rows(
            name,
            &layout.columns_read(),
            |row, record| {
                let line =
                    layout.line(record).map_err(|e| parquet_rows::row_error(name, row, &e.column, &e.message))?;
                self.add(line, format, name)
                    .map_err(|column| parquet_rows::row_error(name, row, column, "the sum grows too large"))?;
                self.spill_if_full().map_err(CostError::Scratch)?;
                if let Some(p) = progress
                    && self.lines.is_multiple_of(8192)
                {
                    p(counter.load(std::sync::atomic::Ordering::Relaxed), total);
                }
                Ok(())
            },
            |bytes| {
                counter.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
            },
        )
    }

    /// Reads one CSV stream; errors name `name` (the file, or `archive.zip:entry.csv`); periods record `file`.
    fn read_csv(
        &mut self,
        reader: impl Read,
        name: &str,
        file: &str,
        counter: &Arc<std::sync::atomic::AtomicU64>,
        total: u64,
        progress: Option<&Progress>,
    ) -> Result<(), CostError> {
        let file_err = |line: u64, column: Option<String>, message: String| CostError::File {
            file: name.to_owned(),
            line,
            column,
            message,
        };
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
            self.add(line, layout.format.as_str(), file)
                .map_err(|column| file_err(line_no, Some(column.into()), "the sum grows too large".into()))?;
            self.spill_if_full().map_err(CostError::Scratch)?;
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
    /// Reads one CSV stream, already decompressed, named `name` in errors (the fuzz target's way in).
    pub fn read_stream(reader: impl Read, name: &str) -> Result<Aggregate, CostError> {
        let mut agg = Aggregate::default();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        agg.read_csv(reader, name, name, &counter, 0, None)?;
        agg.finish().map_err(CostError::Scratch)?;
        Ok(agg)
    }

    /// An aggregate that spills its daily sums to scratch files whenever it holds `limit` of them.
    pub fn spilling_at(limit: usize) -> Aggregate {
        Aggregate {
            periods: Vec::new(),
            period_ids: HashMap::new(),
            tagset_ids: HashMap::new(),
            strings: Interner::default(),
            sums: HashMap::new(),
            runs: Runs::default(),
            spill_at: limit.max(1),
            period_totals: Vec::new(),
            lines: 0,
        }
    }

    /// How many times the daily sums were spilled to scratch files.
    pub fn spills(&self) -> usize {
        self.runs.len()
    }

    /// Writes the daily sums in memory to a new run when there are `spill_at` of them.
    fn spill_if_full(&mut self) -> std::io::Result<()> {
        if self.sums.len() < self.spill_at {
            return Ok(());
        }
        self.spill()
    }

    fn spill(&mut self) -> std::io::Result<()> {
        let mut sorted: Vec<(&DayKey, &Sums)> = self.sums.iter().collect();
        sorted.sort_unstable_by_key(|(k, _)| k.order());
        self.runs.write(sorted.into_iter())?;
        // The table keeps its capacity: it fills to the same size again.
        self.sums.clear();
        Ok(())
    }

    /// After the last line: once anything was spilled, the rest goes too and the table's memory is given back, so
    /// storing merges runs only.
    fn finish(&mut self) -> std::io::Result<()> {
        if self.runs.len() > 0 && !self.sums.is_empty() {
            self.spill()?;
        }
        if self.runs.len() > 0 {
            self.sums = HashMap::new();
        }
        Ok(())
    }

    /// Every daily sum, in (period, tag set, day, …) order, each key once.
    fn sorted_sums(&self) -> Result<Merged, CostError> {
        let mut memory: Vec<(DayKey, Sums)> = self.sums.iter().map(|(k, s)| (*k, *s)).collect();
        memory.sort_unstable_by_key(|(k, _)| k.order());
        self.runs.merge(memory).map_err(CostError::Scratch)
    }

    /// Adds up every daily sum: (lines, billed, effective); `None` when a scratch file cannot be read back.
    fn sum_of_sums(&self) -> Option<(i64, Amount, Amount)> {
        let mut total = (0i64, Amount::ZERO, Amount::ZERO);
        for item in self.sorted_sums().ok()? {
            let (_, s) = item.ok()?;
            total.0 += s.lines;
            total.1 += s.billed;
            total.2 += s.effective;
        }
        Some(total)
    }

    /// Checks the sums against the line counts: every line read is in exactly one period and one daily sum, and
    /// the periods' totals are the daily sums' totals.
    pub fn consistent(&self) -> bool {
        let in_periods: i64 = self.periods.iter().map(|p| p.3).sum();
        let Some((in_sums, billed, effective)) = self.sum_of_sums() else { return false };
        let (period_billed, period_effective) = self
            .period_totals
            .iter()
            .flat_map(|p| p.values())
            .fold((Amount::ZERO, Amount::ZERO), |(b, e), (pb, pe)| (b + *pb, e + *pe));
        u64::try_from(in_periods).ok() == Some(self.lines)
            && in_periods == in_sums
            && (billed, effective) == (period_billed, period_effective)
    }

    /// Billed and effective totals over everything read, every currency together (for checks, not reports).
    pub fn grand_totals(&self) -> (Amount, Amount) {
        self.sum_of_sums().map(|(_, b, e)| (b, e)).unwrap_or_default()
    }

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
                self.period_totals.push(HashMap::new());
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
        let total = self.period_totals[period as usize].entry(key.currency).or_default();
        total.0 = total.0.checked_add(line.billed).ok_or("billed cost")?;
        total.1 = total.1.checked_add(line.effective).ok_or("effective cost")?;
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
    let started = std::time::Instant::now();
    let phase = |what: &str| tracing::debug!(ms = started.elapsed().as_millis() as u64, "cost import: {what}");

    // Tag sets: insert the new ones, then read back every id.
    let mut tagsets: Vec<(&TagsetKey, u32)> = agg.tagset_ids.iter().map(|(k, id)| (k, *id)).collect();
    tagsets.sort_by_key(|(_, id)| *id);
    let tagsets: Vec<&TagsetKey> = tagsets.into_iter().map(|(k, _)| k).collect();
    let hashes: Vec<String> = tagsets.iter().map(|k| tagset_hash(k)).collect();
    // Chunks of 2,000 (nine parameters a row stays under both databases' limits): fewer statements, fewer
    // delayed ACKs on PostgreSQL.
    for chunk in tagsets.iter().zip(&hashes).collect::<Vec<_>>().chunks(2000) {
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
    for chunk in hashes.chunks(2000) {
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

    phase("tag sets stored");

    // Billing periods: each replaced whole.
    let mut period_db_ids = Vec::with_capacity(agg.periods.len());
    let period_totals = &agg.period_totals;
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
            drop_roll_ups(&txn, &old).await?;
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

    phase("old periods removed");

    // Daily sums, in (period, tag set, day) order: the (tag set, day) index then grows leaf by leaf instead of at
    // random places all over a table that may already hold years.
    let sums = agg.sorted_sums()?.map(|item| item.map_err(merge_error));
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        insert_daily_postgres(&txn, agg, sums, &period_db_ids, &tagset_id).await?;
    } else {
        // A large import touches more index pages than SQLite's default 2 MB page cache holds; this connection
        // keeps up to 16 MiB of them (a cache fills only as pages are read; 64 MiB cost 120 MB of peak memory).
        txn.execute_unprepared("PRAGMA cache_size = -16384").await?;
        let mut batch = Vec::with_capacity(500);
        for item in sums {
            let (key, sums) = item?;
            batch.push(cost_daily::ActiveModel {
                period_id: Set(period_db_ids[key.period as usize]),
                day: Set(key.day),
                tagset_id: Set(tagset_id(key.tagset)?),
                currency: Set(agg.strings.names[key.currency as usize].clone()),
                service: Set(agg.strings.names[key.service as usize].clone()),
                category: Set(key.category.as_str().to_owned()),
                billed: Set(sums.billed.to_db().ok_or_else(sum_too_big)?),
                effective: Set(sums.effective.to_db().ok_or_else(sum_too_big)?),
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
    }
    phase("daily sums inserted");
    roll_up(&txn, &period_db_ids).await?;
    phase("monthly and day roll-ups written");
    roll_up_allocations(&txn, Some(&period_db_ids)).await?;
    phase("allocation roll-ups written");
    txn.commit().await?;
    phase("committed");

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

/// Why the merge of the daily sums stopped, as an import error.
fn merge_error(e: MergeError) -> CostError {
    match e {
        MergeError::Io(e) => CostError::Scratch(e),
        MergeError::TooBig => sum_too_big(),
    }
}

/// A daily sum that does not fit the database's 64-bit nano-units.
fn sum_too_big() -> CostError {
    CostError::Invalid { field: "amount".into(), reason: "a daily sum exceeds ±9.2 billion".into() }
}

/// PostgreSQL: the daily sums go in as JSON documents of 10,000 rows each, one statement per document. Row
/// values in a multi-row `INSERT` would need 500-row statements (a bind parameter each), and every statement
/// larger than one socket write waits for the server's delayed ACK (the driver does not set `TCP_NODELAY`):
/// about 40 ms per statement, most of a million-line import's time.
async fn insert_daily_postgres(
    txn: &sea_orm::DatabaseTransaction,
    agg: &Aggregate,
    sums: impl Iterator<Item = Result<(DayKey, Sums), CostError>>,
    period_db_ids: &[i64],
    tagset_id: &impl Fn(u32) -> Result<i64, CostError>,
) -> Result<(), CostError> {
    use sea_orm::Statement;
    const SQL: &str = "INSERT INTO cost_daily (period_id, day, tagset_id, currency, service, category, billed, \
                       effective, lines) SELECT p, d, t, c, s, k, b, e, l FROM json_to_recordset($1::json) AS \
                       r(p bigint, d date, t bigint, c text, s text, k text, b bigint, e bigint, l bigint)";
    let mut rows = Vec::with_capacity(10_000);
    let mut sums = sums.peekable();
    while let Some(item) = sums.next() {
        let (key, sum) = item?;
        rows.push(serde_json::json!({
            "p": period_db_ids[key.period as usize],
            "d": key.day.to_string(),
            "t": tagset_id(key.tagset)?,
            "c": agg.strings.names[key.currency as usize],
            "s": agg.strings.names[key.service as usize],
            "k": key.category.as_str(),
            "b": sum.billed.to_db().ok_or_else(sum_too_big)?,
            "e": sum.effective.to_db().ok_or_else(sum_too_big)?,
            "l": sum.lines,
        }));
        if rows.len() == 10_000 || sums.peek().is_none() {
            let document = serde_json::Value::Array(std::mem::take(&mut rows)).to_string();
            txn.execute_raw(Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, SQL, [document.into()]))
                .await?;
        }
    }
    Ok(())
}

/// The month a day is in, as SQL for the connection's database.
fn month_of_day(backend: sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm::DbBackend::Postgres => "CAST(date_trunc('month', day) AS DATE)",
        _ => "date(day, 'start of month')",
    }
}

/// Rolls the periods' daily sums up into `cost_monthly` and `cost_days` (migration 23 says why), inside the
/// import's transaction, so the roll-ups change exactly when the sums do.
async fn roll_up(txn: &sea_orm::DatabaseTransaction, period_ids: &[i64]) -> Result<(), CostError> {
    if period_ids.is_empty() {
        return Ok(());
    }
    let ids = period_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let month = month_of_day(txn.get_database_backend());
    txn.execute_unprepared(&format!(
        "INSERT INTO cost_monthly (period_id, month, currency, tagset_id, service, billed, effective) \
         SELECT period_id, {month}, currency, tagset_id, service, SUM(billed), SUM(effective) FROM cost_daily \
         WHERE period_id IN ({ids}) GROUP BY period_id, {month}, currency, tagset_id, service"
    ))
    .await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO cost_days (period_id, day, currency, billed, effective) \
         SELECT period_id, day, currency, SUM(billed), SUM(effective) FROM cost_daily \
         WHERE period_id IN ({ids}) GROUP BY period_id, day, currency"
    ))
    .await?;
    Ok(())
}

/// Removes the roll-ups of periods about to be replaced.
async fn drop_roll_ups(txn: &sea_orm::DatabaseTransaction, period_ids: &[i64]) -> Result<(), CostError> {
    let ids = period_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    for table in ["cost_monthly", "cost_days", "cost_month_groups", "cost_day_components"] {
        txn.execute_unprepared(&format!("DELETE FROM {table} WHERE period_id IN ({ids})")).await?;
    }
    Ok(())
}

/// (Re)writes the roll-ups that depend on where tag sets are allocated (`cost_month_groups`,
/// `cost_day_components`; migration 23 says why) for the given periods, or for all when `None` (after the rules
/// changed). Reads `cost_monthly` and `cost_daily`, so runs after [`roll_up`].
async fn roll_up_allocations(txn: &sea_orm::DatabaseTransaction, period_ids: Option<&[i64]>) -> Result<(), CostError> {
    let only = |alias: &str| match period_ids {
        Some(ids) => {
            let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            format!("WHERE {alias}.period_id IN ({})", if ids.is_empty() { "NULL".to_owned() } else { ids })
        }
        None => String::new(),
    };
    for table in ["cost_month_groups", "cost_day_components"] {
        txn.execute_unprepared(&format!("DELETE FROM {table} {}", only(table))).await?;
    }
    for (dim, k1, k2) in [
        ("component", "t.component_ref", Some("t.team_ref")),
        ("environment", "t.environment", None),
        ("service", "m.service", None),
    ] {
        let group_k2 = k2.map(|k| format!(", {k}")).unwrap_or_default();
        let k2 = k2.unwrap_or("NULL");
        txn.execute_unprepared(&format!(
            "INSERT INTO cost_month_groups (period_id, month, currency, dim, allocation, k1, k2, billed, effective) \
             SELECT m.period_id, m.month, m.currency, '{dim}', t.allocation, {k1}, {k2}, SUM(m.billed), \
             SUM(m.effective) FROM cost_monthly m JOIN cost_tagsets t ON t.id = m.tagset_id {} \
             GROUP BY m.period_id, m.month, m.currency, t.allocation, {k1}{group_k2}",
            only("m")
        ))
        .await?;
    }
    txn.execute_unprepared(&format!(
        "INSERT INTO cost_day_components (period_id, day, currency, allocation, component_ref, billed, effective) \
         SELECT d.period_id, d.day, d.currency, t.allocation, t.component_ref, SUM(d.billed), SUM(d.effective) \
         FROM cost_daily d JOIN cost_tagsets t ON t.id = d.tagset_id {} \
         GROUP BY d.period_id, d.day, d.currency, t.allocation, t.component_ref",
        only("d")
    ))
    .await?;
    Ok(())
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
    let spill_at = usize::try_from(config.cost.import_sums).unwrap_or(SPILL_AT);
    let agg = tokio::task::spawn_blocking(move || Aggregate::spilling_at(spill_at).read_all(&for_read, progress))
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
    if moved > 0 {
        roll_up_allocations(&txn, None).await?;
    }
    txn.commit().await?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::formats::Format;
    use crate::cost::generate;
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("portolan-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn cur_file() -> (Vec<u8>, generate::Expected) {
        let spec = generate::Spec {
            seed: 3,
            lines: 300,
            period_start: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            days: 30,
            account: "111122223333".into(),
            currency: "USD".into(),
            components: vec![("storefront".into(), "payments".into())],
        };
        let mut out = Vec::new();
        let expected = generate::write(Format::Cur, &spec, &mut out).unwrap();
        (out, expected)
    }

    fn totals(agg: &Aggregate) -> (u64, Amount, Amount) {
        let (billed, effective) = agg.grand_totals();
        (agg.lines, billed, effective)
    }

    fn all_sums(agg: &Aggregate) -> Vec<(DayKey, Sums)> {
        agg.sorted_sums().unwrap().map(|item| item.map_err(merge_error).unwrap()).collect()
    }

    #[test]
    fn a_zip_of_report_parts_reads_like_the_whole_file() {
        let dir = scratch("zip");
        let (plain, expected) = cur_file();
        let text = String::from_utf8(plain.clone()).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        let lines: Vec<&str> = body.lines().collect();
        let (first, second) = lines.split_at(lines.len() / 2);
        let part = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n"));
        let zipped = dir.join("report.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zipped).unwrap());
        let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.add_directory("report/", stored).unwrap();
        zip.start_file("report/part-1.csv", deflated).unwrap();
        zip.write_all(part(first).as_bytes()).unwrap();
        zip.start_file("report/part-2.csv.gz", stored).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(part(second).as_bytes()).unwrap();
        zip.write_all(&gz.finish().unwrap()).unwrap();
        zip.start_file("__MACOSX/report/._part-1.csv", stored).unwrap();
        zip.write_all(b"\x00\x05\x16\x07 not a csv").unwrap();
        zip.finish().unwrap();
        let whole = dir.join("report.csv");
        std::fs::write(&whole, &plain).unwrap();

        let from_zip = Aggregate::read(&[Source::file(&zipped)], None).unwrap();
        let from_csv = Aggregate::read(&[Source::file(&whole)], None).unwrap();
        assert_eq!(totals(&from_zip), totals(&from_csv));
        assert_eq!(totals(&from_zip).1, expected.billed.total);
        assert_eq!(from_zip.periods[0].2, [zipped.display().to_string()], "the period records the archive");

        // A bad line inside the archive is named by archive, entry, line and column.
        let broken = dir.join("broken.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&broken).unwrap());
        zip.start_file("part-1.csv", deflated).unwrap();
        let mut rows: Vec<String> = first.iter().map(|r| (*r).to_owned()).collect();
        rows[2] = rows[2].replacen("USD", "US$", 1);
        zip.write_all(format!("{header}\n{}\n", rows.join("\n")).as_bytes()).unwrap();
        zip.finish().unwrap();
        let err = Aggregate::read(&[Source::file(&broken)], None).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:part-1.csv: line 4", broken.display())), "{err}");

        let empty = dir.join("empty.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&empty).unwrap());
        zip.start_file("readme.txt", stored).unwrap();
        zip.finish().unwrap();
        let err = Aggregate::read(&[Source::file(&empty)], None).unwrap_err().to_string();
        assert!(err.contains("holds no .csv"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sums_spilled_to_scratch_runs_merge_to_what_memory_alone_sums() {
        let dir = scratch("spill");
        let (plain, expected) = cur_file();
        let path = dir.join("cur.csv");
        std::fs::write(&path, &plain).unwrap();
        let in_memory = Aggregate::read(&[Source::file(&path)], None).unwrap();
        assert_eq!(in_memory.spills(), 0);
        for limit in [1, 7, 64] {
            let spilled = Aggregate::spilling_at(limit).read_all(&[Source::file(&path)], None).unwrap();
            assert!(spilled.spills() > 1, "limit {limit}: {} runs", spilled.spills());
            assert!(spilled.sums.is_empty(), "limit {limit}: what is left after the last line goes to a run");
            assert!(spilled.consistent(), "limit {limit}");
            assert_eq!(sums(&spilled), sums(&in_memory), "limit {limit}");
            assert_eq!(totals(&spilled), (expected.lines, expected.billed.total, expected.effective.total));
            // Every key once, in storing order.
            let keys: Vec<_> = all_sums(&spilled).iter().map(|(k, _)| k.order()).collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "limit {limit}: keys out of order or repeated");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Everything an import sums, keyed by names rather than the aggregate's numbering: two imports of the same
    /// lines give the same list.
    fn sums(agg: &Aggregate) -> Vec<String> {
        let periods: HashMap<u32, &PeriodKey> = agg.period_ids.iter().map(|(k, id)| (*id, k)).collect();
        let tagsets: HashMap<u32, &TagsetKey> = agg.tagset_ids.iter().map(|(k, id)| (*id, k)).collect();
        let mut out: Vec<String> = all_sums(agg)
            .iter()
            .map(|(k, s)| {
                format!(
                    "{:?} {} {:?} {} {} {:?}: {} {} {}",
                    periods[&k.period],
                    k.day,
                    tagsets[&k.tagset],
                    agg.strings.names[k.currency as usize],
                    agg.strings.names[k.service as usize],
                    k.category,
                    s.billed,
                    s.effective,
                    s.lines
                )
            })
            .collect();
        out.sort();
        out
    }

    fn by_day(agg: &Aggregate) -> std::collections::BTreeMap<NaiveDate, (Amount, Amount)> {
        let mut days = std::collections::BTreeMap::new();
        for (k, s) in all_sums(agg) {
            let d: &mut (Amount, Amount) = days.entry(k.day).or_default();
            d.0 += s.billed;
            d.1 += s.effective;
        }
        days
    }

    #[test]
    fn parquet_from_the_generator_imports_like_its_csv_to_the_nano_unit() {
        use ::parquet::basic::{Compression, GzipLevel, ZstdLevel};
        let dir = scratch("parquet-generated");
        let spec = generate::Spec {
            seed: 11,
            // Over 256 rows: several row groups.
            lines: 700,
            period_start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            days: 31,
            account: "111122223333".into(),
            currency: "EUR".into(),
            components: vec![("payments-api".into(), "payments".into()), ("storefront".into(), "web".into())],
        };
        for (format, compression) in [
            (Format::Focus, Compression::SNAPPY),
            (Format::Cur2, Compression::SNAPPY),
            (Format::Cur2, Compression::GZIP(GzipLevel::default())),
            (Format::Cur2, Compression::ZSTD(ZstdLevel::default())),
            (Format::Cur, Compression::UNCOMPRESSED),
        ] {
            let what = format!("{} {compression}", format.as_str());
            let csv = dir.join(format!("{}.csv", format.as_str()));
            let pq = dir.join(format!("{}-{compression}.parquet", format.as_str()));
            let mut text = Vec::new();
            let from_csv_expected = generate::write(format, &spec, &mut text).unwrap();
            std::fs::write(&csv, &text).unwrap();
            let mut bytes = Vec::new();
            let expected = generate::write_parquet(format, &spec, compression, &mut bytes).unwrap();
            std::fs::write(&pq, &bytes).unwrap();
            assert_eq!(expected, from_csv_expected, "{what}: the same rows");
            assert_eq!(&bytes[..4], b"PAR1");

            let from_pq = Aggregate::read(&[Source::file(&pq)], None).unwrap();
            let from_csv = Aggregate::read(&[Source::file(&csv)], None).unwrap();
            assert!(from_pq.consistent(), "{what}");
            assert_eq!(from_pq.lines, expected.lines, "{what}");
            assert_eq!(from_pq.grand_totals(), (expected.billed.total, expected.effective.total), "{what}");
            let days = by_day(&from_pq);
            for (day, billed) in &expected.billed.by_day {
                assert_eq!(days[day].0, *billed, "{what}: billed on {day}");
                assert_eq!(days[day].1, expected.effective.by_day[day], "{what}: effective on {day}");
            }
            // Every sum (period, day, tag set, currency, service, category) as the CSV gives it.
            assert_eq!(sums(&from_pq), sums(&from_csv), "{what}");
            assert_eq!(from_pq.periods[0].1, format.as_str());
            assert_eq!(from_pq.periods[0].2, [pq.display().to_string()]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cost/testdata").join(name)
    }

    #[test]
    fn pyarrow_fixtures_import_to_hand_computed_totals() {
        // Written by pyarrow (testdata/make_parquet.py): snappy, dictionaries, row groups of 3, MAP tags,
        // timestamps in ms/us/ns with UTC and without, decimal128 and double amounts, NULLs.
        let a = |s: &str| Amount::parse(s).unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();

        let focus = Aggregate::read(&[Source::file(fixture("focus-small.parquet"))], None).unwrap();
        assert_eq!(focus.lines, 6);
        assert_eq!(focus.periods[0].1, "focus");
        // Billed: 12.5 + 0.0000000417 (nine decimals, half to even: 0.000000042) − 3.1 + 7.77 + 100 + NULL.
        // Effective: 10.25 + 0.000000042 − 3.1 + 7.77 + 0 + 1.0000000001 (1.000000000).
        assert_eq!(focus.grand_totals(), (a("117.170000042"), a("15.920000042")));
        let days = by_day(&focus);
        assert_eq!(days[&day(1)], (a("100"), a("0")));
        // 23:59:59.999999 UTC is still the 3rd.
        assert_eq!(days[&day(3)], (a("12.500000042"), a("10.250000042")));
        // 20:00 in New York on the 3rd is the 4th in UTC.
        assert_eq!(days[&day(4)], (a("4.67"), a("4.67")));
        assert_eq!(days[&day(5)], (a("0"), a("1")));
        let tags: std::collections::BTreeSet<(String, Vec<(String, String)>)> =
            focus.tagset_ids.keys().map(|k| (k.sub_account.clone(), k.tags.clone())).collect();
        let t = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let expected: std::collections::BTreeSet<(String, Vec<(String, String)>)> = [
            ("111122223333-dev", t(&[("service", "payments-api"), ("team", "payments")])),
            ("111122223333", t(&[])),
            ("111122223333-dev", t(&[])),
            ("111122223333-dev", t(&[("team", "payments")])),
            // `user:Team` loses its prefix; a NULL value is no tag.
            ("111122223333", t(&[("team", "platform")])),
            ("111122223333-dev", t(&[("service", "storefront")])),
        ]
        .into_iter()
        .map(|(s, t)| (s.to_owned(), t))
        .collect();
        assert_eq!(tags, expected);

        let cur2 = Aggregate::read(&[Source::file(fixture("cur2-small.parquet"))], None).unwrap();
        assert_eq!(cur2.lines, 7);
        assert_eq!(cur2.periods[0].1, "cur2");
        assert_eq!(cur2.periods[0].0.start, day(1), "a timestamp without a time zone is read as UTC");
        // Billed (unblended, DOUBLE): 1.2345 + 2 − 2 + 0 + 0.1 + 0.2 + 10, exactly (0.1 + 0.2 is 0.3 here).
        // Effective: 1.2345 + 1.5 (plan rate) + 0 (negation) + 0.7 (reservation) + 0.1 + 0.2 + (10 − 7.5).
        assert_eq!(cur2.grand_totals(), (a("11.5345"), a("6.2345")));
        let days = by_day(&cur2);
        assert_eq!(days[&day(1)], (a("10.1"), a("2.6")));
        assert_eq!(days[&day(2)], (a("1.2345"), a("2.7345")));
        assert_eq!(days[&day(3)], (a("0.2"), a("0.9")));
        let tags: std::collections::BTreeSet<Vec<(String, String)>> =
            cur2.tagset_ids.keys().map(|k| k.tags.clone()).collect();
        assert!(tags.contains(&t(&[("env", "prod"), ("team", "payments")])), "{tags:?}");
        assert!(tags.contains(&t(&[("service", "storefront")])), "{tags:?}");
        assert!(cur2.tagset_ids.keys().any(|k| k.sub_account == "111122223333"), "a NULL usage account: the payer");
    }

    /// A Parquet file of text columns (`None` is NULL), written with the crate's own writer.
    fn text_parquet(path: &Path, header: &[&str], rows: &[Vec<Option<&str>>]) {
        use ::parquet::data_type::{ByteArray, ByteArrayType};
        let message = format!(
            "message schema {{ {} }}",
            header.iter().map(|h| format!("optional binary {h} (STRING);")).collect::<String>()
        );
        let schema = Arc::new(::parquet::schema::parser::parse_message_type(&message).unwrap());
        let props = Arc::new(::parquet::file::properties::WriterProperties::builder().build());
        let mut writer =
            ::parquet::file::writer::SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props)
                .unwrap();
        let mut group = writer.next_row_group().unwrap();
        for c in 0..header.len() {
            let values: Vec<ByteArray> = rows.iter().filter_map(|r| r[c]).map(ByteArray::from).collect();
            let defs: Vec<i16> = rows.iter().map(|r| i16::from(r[c].is_some())).collect();
            let mut col = group.next_column().unwrap().unwrap();
            col.typed::<ByteArrayType>().write_batch(&values, Some(&defs), None).unwrap();
            col.close().unwrap();
        }
        group.close().unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn bad_parquet_files_are_refused_naming_the_file_row_and_column() {
        let dir = scratch("parquet-bad");
        let read = |path: &Path| Aggregate::read(&[Source::file(path)], None).map(|a| a.lines);

        // A bad value: named by row (the first data row is row 1) and column, as `line N+1` would be in CSV.
        let header = [
            "BillingAccountId",
            "BillingPeriodStart",
            "ChargePeriodStart",
            "BilledCost",
            "EffectiveCost",
            "BillingCurrency",
        ];
        let good = vec![Some("1"), Some("2026-11-01"), Some("2026-11-02T00:00:00Z"), Some("1.5"), None, Some("USD")];
        let mut bad = good.clone();
        bad[3] = Some("12,5");
        let path = dir.join("bad-value.parquet");
        text_parquet(&path, &header, &[good.clone(), good.clone(), bad]);
        let err = read(&path).unwrap_err().to_string();
        assert_eq!(err, format!("{}: row 3, column BilledCost: `12,5` is not a decimal number", path.display()));
        let path = dir.join("good.parquet");
        text_parquet(&path, &header, &[good.clone(), good]);
        assert_eq!(read(&path).unwrap(), 2);

        // No known format's columns.
        let path = dir.join("unknown.parquet");
        text_parquet(&path, &["date", "amount"], &[vec![Some("2026-11-01"), Some("3.5")]]);
        let err = read(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: its Parquet schema: the header is not FOCUS", path.display())), "{err}");
        assert!(err.contains("it starts with date, amount"), "{err}");

        // Truncated: the footer is gone.
        let spec = generate::Spec {
            seed: 5,
            lines: 600,
            period_start: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            days: 30,
            account: "111122223333".into(),
            currency: "USD".into(),
            components: vec![("storefront".into(), "web".into())],
        };
        let mut bytes = Vec::new();
        generate::write_parquet(Format::Cur2, &spec, ::parquet::basic::Compression::SNAPPY, &mut bytes).unwrap();
        let path = dir.join("truncated.parquet");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: not a readable Parquet file (truncated or corrupt?)", path.display())),
            "{err}"
        );
        std::fs::write(&path, b"PAR1").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: not a readable Parquet file", path.display())), "{err}");

        // Pages overwritten with garbage, the footer intact: refused, no panic.
        for (i, fill) in [0x00u8, 0xff, 0x5a].into_iter().enumerate() {
            let mut corrupt = bytes.clone();
            let (from, to) = (corrupt.len() / 5, corrupt.len() / 2);
            corrupt[from..to].iter_mut().enumerate().for_each(|(j, b)| *b = fill ^ (j as u8));
            let path = dir.join(format!("corrupt-{i}.parquet"));
            std::fs::write(&path, &corrupt).unwrap();
            let err = read(&path).unwrap_err().to_string();
            assert!(err.starts_with(&path.display().to_string()), "{err}");
        }
        // One byte of a page header zeroed: parquet 60 panics on it (`assertion failed: size <= src.len()`), and
        // the reader turns that into a refusal.
        let mut zeroed = std::fs::read(fixture("focus-small.parquet")).unwrap();
        zeroed[7] = 0;
        let path = dir.join("zeroed.parquet");
        std::fs::write(&path, &zeroed).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
        // More files with bytes changed here and there: read or refused, never a panic that escapes.
        let fixture_bytes = std::fs::read(fixture("cur2-small.parquet")).unwrap();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let path = dir.join("changed.parquet");
        for i in 0..120 {
            let mut changed = if i % 4 == 0 { bytes.clone() } else { fixture_bytes.clone() };
            for _ in 0..1 + next() % 4 {
                let at = usize::try_from(next() % changed.len() as u64).unwrap();
                changed[at] = next() as u8;
            }
            std::fs::write(&path, &changed).unwrap();
            if let Err(e) = read(&path) {
                assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_manifest_lists_the_report_files_to_read() {
        let dir = scratch("manifest");
        let period = dir.join("cur/acme-daily/20261001-20261101");
        std::fs::create_dir_all(period.join("0f1e2d3c")).unwrap();
        std::fs::write(period.join("0f1e2d3c/acme-daily-00001.csv.gz"), b"x").unwrap();
        std::fs::write(period.join("0f1e2d3c/acme-daily-00002.csv.gz"), b"x").unwrap();
        // An older assembly of the same month, still in the bucket: not in the manifest, not read.
        std::fs::create_dir_all(period.join("aaaa1111")).unwrap();
        std::fs::write(period.join("aaaa1111/acme-daily-00001.csv.gz"), b"old").unwrap();
        let manifest = period.join("acme-daily-Manifest.json");
        let body = serde_json::json!({
            "assemblyId": "0f1e2d3c", "account": "111122223333", "compression": "GZIP", "contentType": "text/csv",
            "reportName": "acme-daily", "bucket": "acme-billing",
            "billingPeriod": {"start": "20261001T000000.000Z", "end": "20261101T000000.000Z"},
            "reportKeys": [
                "cur/acme-daily/20261001-20261101/0f1e2d3c/acme-daily-00001.csv.gz",
                "cur/acme-daily/20261001-20261101/0f1e2d3c/acme-daily-00002.csv.gz"
            ]
        });
        std::fs::write(&manifest, body.to_string()).unwrap();
        let m = manifest.display().to_string();
        let sources = expand_manifests(std::slice::from_ref(&m)).unwrap();
        let found: Vec<PathBuf> = sources.iter().map(|s| s.path.clone()).collect();
        assert_eq!(
            found,
            [period.join("0f1e2d3c/acme-daily-00001.csv.gz"), period.join("0f1e2d3c/acme-daily-00002.csv.gz")]
        );
        // Other paths pass through.
        assert_eq!(expand_manifests(&["a.csv".to_owned()]).unwrap()[0].path, PathBuf::from("a.csv"));

        let mut escape = body.clone();
        escape["reportKeys"] = serde_json::json!(["cur/../../../etc/passwd"]);
        std::fs::write(&manifest, escape.to_string()).unwrap();
        let err = expand_manifests(std::slice::from_ref(&m)).unwrap_err().to_string();
        assert!(err.contains("leaves the manifest's folder"), "{err}");
        let mut missing = body.clone();
        missing["reportKeys"] =
            serde_json::json!(["cur/acme-daily/20261001-20261101/0f1e2d3c/acme-daily-00003.csv.gz"]);
        std::fs::write(&manifest, missing.to_string()).unwrap();
        let err = expand_manifests(std::slice::from_ref(&m)).unwrap_err().to_string();
        assert!(err.contains("acme-daily-00003.csv.gz` is not under"), "{err}");
        // A manifest given as a billing file says what to do.
        let err = Aggregate::read(&[Source::file(&manifest)], None).unwrap_err().to_string();
        assert!(err.contains("CUR manifest is imported with `portolan cost import"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
