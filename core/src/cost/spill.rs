//! Bounded memory for an import. The reader sums lines into a hash map of daily sums; when the map holds
//! [`SPILL_AT`] sums they are sorted and written to an unnamed scratch file (a *run*) and the map starts again
//! empty. Storing merges the runs and what is left in memory in key order, adding up the sums that share a key
//! (a key can be in several runs when its lines are spread over the file). Memory then follows the limit, not the
//! file: a run costs [`RECORD`] bytes of disk per sum and a small read buffer while merging.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use chrono::NaiveDate;

use super::formats::Category;
use super::money::Amount;

/// Sums kept in memory before they are written out, unless configured (`PORTOLAN_COST_IMPORT_SUMS`, whose default
/// is this). A sum takes about 80 bytes in the map: some 20 MiB. 229,000 stays below 7/8 of 2¹⁸ buckets, so the
/// table never grows past them.
pub(super) const SPILL_AT: usize = 229_000;

/// The key of a daily sum: numbers from the aggregate's interners, and the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct DayKey {
    pub period: u32,
    pub day: NaiveDate,
    pub tagset: u32,
    pub currency: u32,
    pub service: u32,
    pub category: Category,
}

/// The order sums are stored in: (period, tag set, day), so the (tag set, day) index grows leaf by leaf.
type Order = (u32, u32, NaiveDate, u32, u32, Category);

impl DayKey {
    pub(super) fn order(&self) -> Order {
        (self.period, self.tagset, self.day, self.currency, self.service, self.category)
    }
}

/// What a key sums up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sums {
    pub billed: Amount,
    pub effective: Amount,
    pub lines: i64,
}

impl Sums {
    /// Adds `other`; `None` when an amount outgrows its integer.
    pub(super) fn checked_add(self, other: Sums) -> Option<Sums> {
        Some(Sums {
            billed: self.billed.checked_add(other.billed)?,
            effective: self.effective.checked_add(other.effective)?,
            lines: self.lines.checked_add(other.lines)?,
        })
    }
}

/// Bytes of one sum in a run: five 32-bit numbers, the category, two 128-bit amounts and the line count.
pub(super) const RECORD: usize = 4 * 5 + 1 + 16 * 2 + 8;

const CATEGORIES: [Category; 6] =
    [Category::Usage, Category::Purchase, Category::Tax, Category::Credit, Category::Refund, Category::Adjustment];

fn encode(key: &DayKey, sums: &Sums) -> [u8; RECORD] {
    let mut out = [0u8; RECORD];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&key.period.to_le_bytes());
    put(&chrono::Datelike::num_days_from_ce(&key.day).to_le_bytes());
    put(&key.tagset.to_le_bytes());
    put(&key.currency.to_le_bytes());
    put(&key.service.to_le_bytes());
    put(&[CATEGORIES.iter().position(|c| *c == key.category).unwrap_or(0) as u8]);
    put(&sums.billed.0.to_le_bytes());
    put(&sums.effective.0.to_le_bytes());
    put(&sums.lines.to_le_bytes());
    out
}

fn decode(record: &[u8; RECORD]) -> Option<(DayKey, Sums)> {
    let u32_at = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().unwrap_or_default());
    let i128_at = |at: usize| i128::from_le_bytes(record[at..at + 16].try_into().unwrap_or_default());
    let key = DayKey {
        period: u32_at(0),
        day: NaiveDate::from_num_days_from_ce_opt(u32_at(4) as i32)?,
        tagset: u32_at(8),
        currency: u32_at(12),
        service: u32_at(16),
        category: *CATEGORIES.get(usize::from(record[20]))?,
    };
    let sums = Sums {
        billed: Amount(i128_at(21)),
        effective: Amount(i128_at(37)),
        lines: i64::from_le_bytes(record[53..61].try_into().unwrap_or_default()),
    };
    Some((key, sums))
}

/// A scratch file no other process can find: created under the temporary directory (`TMPDIR`) and unlinked at
/// once, so it goes away with the import however the import ends.
fn scratch_file() -> std::io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(".portolan-cost-{}-{n}-{nanos}", std::process::id()));
        match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
            Ok(file) => {
                // Where unlinking an open file is not allowed, the file is left behind; it holds only sums.
                let _ = std::fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The runs written so far.
#[derive(Debug, Default)]
pub(super) struct Runs {
    files: Vec<File>,
}

impl Runs {
    /// How many runs were written.
    pub(super) fn len(&self) -> usize {
        self.files.len()
    }

    /// Writes `sorted` (in [`DayKey::order`]) as a new run.
    pub(super) fn write<'a>(&mut self, sorted: impl Iterator<Item = (&'a DayKey, &'a Sums)>) -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(256 * 1024, scratch_file()?);
        for (key, sums) in sorted {
            out.write_all(&encode(key, sums))?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        self.files.push(file);
        Ok(())
    }

    /// Every sum in key order, the runs' and `memory`'s (sorted already) merged, equal keys added up.
    pub(super) fn merge(&self, memory: Vec<(DayKey, Sums)>) -> std::io::Result<Merged> {
        let mut sources = Vec::with_capacity(self.files.len() + 1);
        sources.push(Source::Memory(memory.into_iter()));
        for file in &self.files {
            let mut file = file.try_clone()?;
            file.seek(SeekFrom::Start(0))?;
            sources.push(Source::Run(BufReader::with_capacity(64 * 1024, file)));
        }
        let mut merged = Merged { heads: vec![None; sources.len()], sources, heap: BinaryHeap::new() };
        for i in 0..merged.sources.len() {
            merged.advance(i)?;
        }
        Ok(merged)
    }
}

enum Source {
    Memory(std::vec::IntoIter<(DayKey, Sums)>),
    Run(BufReader<File>),
}

impl Source {
    fn next(&mut self) -> std::io::Result<Option<(DayKey, Sums)>> {
        match self {
            Source::Memory(items) => Ok(items.next()),
            Source::Run(reader) => {
                let mut record = [0u8; RECORD];
                match reader.read_exact(&mut record) {
                    Ok(()) => decode(&record).map(Some).ok_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "a scratch record does not decode")
                    }),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// Why merging stopped.
#[derive(Debug)]
pub(super) enum MergeError {
    /// A run could not be read back.
    Io(std::io::Error),
    /// The sums of a key outgrow their integers.
    TooBig,
}

/// The merge of the runs and memory: an iterator of sums in key order, each key once.
pub(super) struct Merged {
    sources: Vec<Source>,
    heads: Vec<Option<(DayKey, Sums)>>,
    heap: BinaryHeap<Reverse<(Order, usize)>>,
}

impl Merged {
    fn advance(&mut self, i: usize) -> std::io::Result<()> {
        self.heads[i] = self.sources[i].next()?;
        if let Some((key, _)) = &self.heads[i] {
            self.heap.push(Reverse((key.order(), i)));
        }
        Ok(())
    }

    fn take(&mut self, i: usize) -> Result<(DayKey, Sums), MergeError> {
        let head = self.heads[i].take().ok_or_else(|| {
            MergeError::Io(std::io::Error::other("the merge lost its place (a source popped without a head)"))
        })?;
        self.advance(i).map_err(MergeError::Io)?;
        Ok(head)
    }
}

impl Iterator for Merged {
    type Item = Result<(DayKey, Sums), MergeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((order, i)) = self.heap.pop()?;
        let (key, mut sums) = match self.take(i) {
            Ok(head) => head,
            Err(e) => return Some(Err(e)),
        };
        while let Some(Reverse((next, _))) = self.heap.peek()
            && *next == order
        {
            let Some(Reverse((_, j))) = self.heap.pop() else { break };
            match self.take(j) {
                Ok((_, more)) => match sums.checked_add(more) {
                    Some(total) => sums = total,
                    None => return Some(Err(MergeError::TooBig)),
                },
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok((key, sums)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tagset: u32, day: u32, category: Category) -> DayKey {
        DayKey {
            period: 0,
            day: NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
            tagset,
            currency: 1,
            service: 2,
            category,
        }
    }

    fn sums(nanos: i128, lines: i64) -> Sums {
        Sums { billed: Amount(nanos), effective: Amount(-nanos), lines }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let k = DayKey {
            period: 7,
            day: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
            tagset: u32::MAX,
            currency: 3,
            service: 4,
            category: Category::Adjustment,
        };
        let s = Sums { billed: Amount(i128::MAX), effective: Amount(i128::MIN), lines: 42 };
        assert_eq!(decode(&encode(&k, &s)), Some((k, s)));
        for c in CATEGORIES {
            let k = key(1, 1, c);
            assert_eq!(decode(&encode(&k, &s)).map(|(k, _)| k.category), Some(c));
        }
    }

    #[test]
    fn runs_and_memory_merge_in_order_with_equal_keys_added() {
        let mut runs = Runs::default();
        let a = [
            (key(1, 1, Category::Usage), sums(5, 1)),
            (key(1, 2, Category::Tax), sums(7, 2)),
            (key(3, 1, Category::Usage), sums(1, 1)),
        ];
        let b = [(key(1, 2, Category::Tax), sums(10, 3)), (key(2, 5, Category::Credit), sums(-4, 1))];
        runs.write(a.iter().map(|(k, s)| (k, s))).unwrap();
        runs.write(b.iter().map(|(k, s)| (k, s))).unwrap();
        let memory = vec![(key(1, 1, Category::Usage), sums(100, 1)), (key(4, 1, Category::Usage), sums(2, 1))];
        let merged: Vec<(DayKey, Sums)> = runs.merge(memory).unwrap().map(Result::unwrap).collect();
        assert_eq!(
            merged,
            vec![
                (key(1, 1, Category::Usage), sums(105, 2)),
                (key(1, 2, Category::Tax), sums(17, 5)),
                (key(2, 5, Category::Credit), sums(-4, 1)),
                (key(3, 1, Category::Usage), sums(1, 1)),
                (key(4, 1, Category::Usage), sums(2, 1)),
            ]
        );
        // A merge can be read again (the runs are read from their start each time).
        assert_eq!(runs.merge(Vec::new()).unwrap().count(), 4);
    }

    #[test]
    fn a_sum_that_overflows_across_runs_is_refused() {
        let mut runs = Runs::default();
        let big = [(key(1, 1, Category::Usage), Sums { billed: Amount(i128::MAX), effective: Amount(0), lines: 1 })];
        runs.write(big.iter().map(|(k, s)| (k, s))).unwrap();
        runs.write(big.iter().map(|(k, s)| (k, s))).unwrap();
        let first = runs.merge(Vec::new()).unwrap().next();
        assert!(matches!(first, Some(Err(MergeError::TooBig))), "{first:?}");
    }
}
