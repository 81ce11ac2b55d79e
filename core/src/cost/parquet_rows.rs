//! Parquet billing exports (FOCUS, AWS CUR 2.0 and the legacy CUR's Parquet option), read row by row as the text
//! the CSV reader would have seen, so [`Layout::from_header`](super::formats::Layout::from_header) and
//! [`Layout::line`](super::formats::Layout::line) serve both unchanged.
//!
//! The header is the schema's top-level column names. Each value reads as:
//!
//! | Parquet | text |
//! |---|---|
//! | NULL | empty |
//! | string, enum, JSON | as is (binary without a string annotation: as UTF-8 when it is, else hex) |
//! | integers | decimal digits |
//! | DECIMAL | the unscaled integer with the scale's decimal point put in, exactly (never through a float) |
//! | FLOAT, DOUBLE | Rust's `Display`: the shortest text that reads back as the same float |
//! | TIMESTAMP (milli-, micro-, nanoseconds, INT96; adjusted to UTC or not) | RFC 3339 in UTC, `…Z` |
//! | DATE | `YYYY-MM-DD` |
//! | MAP | a JSON object (`{"user_team":"payments"}`), as CUR 2.0 and FOCUS write tags in CSV |
//! | LIST, struct | JSON text |
//!
//! Only the columns the layout reads are decoded (a CUR 2.0 export has a hundred-odd, several of them maps); the
//! rest read as empty. Rows are decoded a row group at a time, a page at a time, so memory follows the widest
//! page and never the file.
//!
//! Rows are numbered from 1, the first data row (the schema is not a row); errors say `row N`, where the same
//! data exported as CSV would say `line N+1` since CSV counts its header as line 1.

use std::fs::File;

use ::parquet::basic::{LogicalType, TimeUnit};
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::{Field, Row};
use ::parquet::schema::types::Type;
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};

use super::CostError;

/// The magic number Parquet files start (and end) with.
pub(super) const MAGIC: &[u8; 4] = b"PAR1";

/// What the record reader leaves as a plain integer that the schema says is a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hint {
    Plain,
    TimestampNanos,
    TimeNanos,
}

/// An open Parquet file: its footer read, its columns named.
pub(super) struct ParquetFile {
    reader: SerializedFileReader<File>,
    names: Vec<String>,
}

/// The error of a value: the row (1-based) and the column.
pub(super) fn row_error(file: &str, row: u64, column: &str, message: &str) -> CostError {
    // `CostError::File` counts CSV lines; a Parquet file has rows, named in the message (see the module's doc).
    CostError::File {
        file: file.to_owned(),
        line: 0,
        column: None,
        message: format!("row {row}, column {column}: {message}"),
    }
}

impl ParquetFile {
    /// Reads the footer. Fails on a file that is not Parquet, truncated or corrupt.
    pub(super) fn open(file: File) -> Result<ParquetFile, String> {
        let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
        let names =
            reader.metadata().file_metadata().schema().get_fields().iter().map(|f| f.name().to_owned()).collect();
        Ok(ParquetFile { reader, names })
    }

    /// The top-level column names, in order.
    pub(super) fn header(&self) -> &[String] {
        &self.names
    }

    /// Reads every row: the columns at positions `read` (ascending) decoded, the others empty, each row handed to
    /// `each` with its 1-based number; `group_done` is told the compressed bytes of each row group read. Errors
    /// name `name`.
    pub(super) fn rows(
        &self,
        name: &str,
        read: &[usize],
        mut each: impl FnMut(u64, &csv::StringRecord) -> Result<(), CostError>,
        mut group_done: impl FnMut(u64),
    ) -> Result<(), CostError> {
        let fields = self.reader.metadata().file_metadata().schema().get_fields();
        let read: Vec<usize> = read.iter().copied().filter(|&i| i < fields.len()).collect();
        let hints: Vec<Hint> = read.iter().map(|&i| hint(&fields[i])).collect();
        let projection = Type::group_type_builder("schema")
            .with_fields(read.iter().map(|&i| fields[i].clone()).collect())
            .build()
            .map_err(|e| whole(name, format!("cannot select the columns to read: {e}")))?;
        let width = self.names.len();
        let mut record = csv::StringRecord::with_capacity(1024, width);
        let mut row_no: u64 = 0;
        for g in 0..self.reader.num_row_groups() {
            let group = self.reader.get_row_group(g).map_err(|e| group_error(name, g, &e))?;
            let rows = group.get_row_iter(Some(projection.clone())).map_err(|e| group_error(name, g, &e))?;
            for row in rows {
                row_no += 1;
                let row = row.map_err(|e| {
                    whole(name, format!("row group {} (from row {row_no}) cannot be decoded: {e}", g + 1))
                })?;
                fill(&mut record, &row, &read, &hints, width)
                    .map_err(|(column, message)| row_error(name, row_no, &self.names[column], &message))?;
                each(row_no, &record)?;
            }
            group_done(u64::try_from(group.metadata().compressed_size()).unwrap_or(0));
        }
        Ok(())
    }
}

fn whole(name: &str, message: String) -> CostError {
    CostError::File { file: name.to_owned(), line: 0, column: None, message }
}

fn group_error(name: &str, g: usize, e: &::parquet::errors::ParquetError) -> CostError {
    whole(name, format!("row group {} cannot be read: {e}", g + 1))
}

fn hint(field: &Type) -> Hint {
    if !field.is_primitive() {
        return Hint::Plain;
    }
    match field.get_basic_info().logical_type_ref() {
        Some(LogicalType::Timestamp(t)) if matches!(t.unit, TimeUnit::NANOS) => Hint::TimestampNanos,
        Some(LogicalType::Time(t)) if matches!(t.unit, TimeUnit::NANOS) => Hint::TimeNanos,
        _ => Hint::Plain,
    }
}

/// Puts `row` (the projected columns, in `read`'s order) into `record`, `width` fields wide. Fails with the
/// position of the column and what is wrong.
fn fill(
    record: &mut csv::StringRecord,
    row: &Row,
    read: &[usize],
    hints: &[Hint],
    width: usize,
) -> Result<(), (usize, String)> {
    record.clear();
    let mut values = row.get_column_iter().zip(read.iter().zip(hints)).peekable();
    for i in 0..width {
        match values.peek() {
            Some((_, (at, _))) if **at == i => {
                let ((_, field), (_, &hint)) = values.next().unwrap_or_else(|| unreachable!("peeked"));
                record.push_field(&text(field, hint).map_err(|m| (i, m))?);
            }
            _ => record.push_field(""),
        }
    }
    Ok(())
}

/// A value as the CSV export would write it.
fn text(field: &Field, hint: Hint) -> Result<String, String> {
    Ok(match field {
        Field::Null => String::new(),
        Field::Bool(b) => b.to_string(),
        Field::Byte(v) => v.to_string(),
        Field::Short(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::Long(v) => match hint {
            Hint::TimestampNanos => rfc3339(Some(DateTime::from_timestamp_nanos(*v)), v),
            Hint::TimeNanos => time_of_day(v.div_euclid(1_000_000_000), v.rem_euclid(1_000_000_000), v),
            Hint::Plain => v.to_string(),
        },
        Field::UByte(v) => v.to_string(),
        Field::UShort(v) => v.to_string(),
        Field::UInt(v) => v.to_string(),
        Field::ULong(v) => v.to_string(),
        Field::Float16(v) => v.to_string(),
        Field::Float(v) => v.to_string(),
        Field::Double(v) => v.to_string(),
        Field::Decimal(d) => decimal_text(d.data(), d.scale())?,
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => bytes_text(b.data()),
        Field::Date(days) => NaiveDate::from_epoch_days(*days).map_or_else(|| days.to_string(), |d| d.to_string()),
        Field::TimeMillis(ms) => {
            let ms = i64::from(*ms);
            time_of_day(ms.div_euclid(1000), ms.rem_euclid(1000) * 1_000_000, &ms)
        }
        Field::TimeMicros(us) => time_of_day(us.div_euclid(1_000_000), us.rem_euclid(1_000_000) * 1000, us),
        Field::TimestampMillis(ms) => rfc3339(DateTime::from_timestamp_millis(*ms), ms),
        Field::TimestampMicros(us) => rfc3339(DateTime::from_timestamp_micros(*us), us),
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => json(field)?.to_string(),
    })
}

/// RFC 3339 in UTC (`2026-11-03T23:59:59.999999Z`); a timestamp out of chrono's range reads as its number.
fn rfc3339(t: Option<DateTime<Utc>>, raw: &i64) -> String {
    t.map_or_else(|| raw.to_string(), |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn time_of_day(seconds: i64, nanos: i64, raw: &i64) -> String {
    u32::try_from(seconds)
        .ok()
        .zip(u32::try_from(nanos).ok())
        .and_then(|(s, n)| NaiveTime::from_num_seconds_from_midnight_opt(s, n))
        .map_or_else(|| raw.to_string(), |t| t.format("%H:%M:%S%.f").to_string())
}

fn bytes_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => hex::encode(bytes),
    }
}

/// The decimal text of an unscaled big-endian two's-complement integer and a scale: `(-12345, 3)` is `-12.345`.
fn decimal_text(unscaled: &[u8], scale: i32) -> Result<String, String> {
    // Sign-extension bytes beyond what an i128 holds carry nothing.
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0x00 };
    let mut bytes = unscaled;
    while bytes.len() > 16 && bytes[0] == fill && (bytes[1] & 0x80 != 0) == negative {
        bytes = &bytes[1..];
    }
    if bytes.len() > 16 {
        return Err(format!("a {}-byte decimal is too large", unscaled.len()));
    }
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    let value = i128::from_be_bytes(full);
    if !(-76..=76).contains(&scale) {
        return Err(format!("a decimal of scale {scale} is not a number this reader takes"));
    }
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    Ok(match usize::try_from(scale) {
        Ok(0) => format!("{sign}{digits}"),
        Ok(scale) => {
            let padded = format!("{digits:0>width$}", width = scale + 1);
            let (whole, fraction) = padded.split_at(padded.len() - scale);
            format!("{sign}{whole}.{fraction}")
        }
        // A negative scale multiplies by a power of ten.
        Err(_) if value == 0 => "0".to_owned(),
        Err(_) => format!("{sign}{digits}{}", "0".repeat(scale.unsigned_abs() as usize)),
    })
}

/// A nested value as JSON: maps as objects (keys as text), lists as arrays, structs as objects; decimals as strings
/// of their exact text, times as strings as [`text`] writes them.
fn json(field: &Field) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let number = |n: serde_json::Number| Value::Number(n);
    let float = |f: f64, shown: String| serde_json::Number::from_f64(f).map_or(Value::String(shown), Value::Number);
    Ok(match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(v) => number((*v).into()),
        Field::Short(v) => number((*v).into()),
        Field::Int(v) => number((*v).into()),
        Field::Long(v) => number((*v).into()),
        Field::UByte(v) => number((*v).into()),
        Field::UShort(v) => number((*v).into()),
        Field::UInt(v) => number((*v).into()),
        Field::ULong(v) => number((*v).into()),
        Field::Float16(v) => float(f64::from(*v), v.to_string()),
        Field::Float(v) => float(f64::from(*v), v.to_string()),
        Field::Double(v) => float(*v, v.to_string()),
        Field::Str(s) => Value::String(s.clone()),
        Field::Group(row) => {
            Value::Object(row.get_column_iter().map(|(k, v)| Ok((k.clone(), json(v)?))).collect::<Result<_, String>>()?)
        }
        Field::ListInternal(list) => Value::Array(list.elements().iter().map(json).collect::<Result<_, _>>()?),
        Field::MapInternal(map) => {
            let mut object = serde_json::Map::new();
            for (k, v) in map.entries() {
                object.insert(text(k, Hint::Plain)?, json(v)?);
            }
            Value::Object(object)
        }
        Field::Decimal(_)
        | Field::Bytes(_)
        | Field::Date(_)
        | Field::TimeMillis(_)
        | Field::TimeMicros(_)
        | Field::TimestampMillis(_)
        | Field::TimestampMicros(_) => Value::String(text(field, Hint::Plain)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::parquet::data_type::{ByteArray, Decimal};
    use ::parquet::record::Row;

    #[test]
    fn decimals_read_exactly_from_their_unscaled_integer() {
        let d = |v: i128, scale: i32| decimal_text(&v.to_be_bytes(), scale).unwrap();
        assert_eq!(d(125, 1), "12.5");
        assert_eq!(d(-12345, 3), "-12.345");
        assert_eq!(d(417, 10), "0.0000000417");
        assert_eq!(d(-417, 10), "-0.0000000417");
        assert_eq!(d(0, 9), "0.000000000");
        assert_eq!(d(42, 0), "42");
        assert_eq!(d(42, -3), "42000");
        assert_eq!(d(i128::MAX, 9), "170141183460469231731687303715.884105727");
        assert_eq!(d(i128::MIN, 38), "-1.70141183460469231731687303715884105728");
        assert_eq!(decimal_text(&[0xff, 0x85], 2).unwrap(), "-1.23", "a two-byte FIXED_LEN_BYTE_ARRAY");
        assert_eq!(decimal_text(&[], 2).unwrap(), "0.00");
        let mut wide = vec![0xff; 4];
        wide.extend((-5i128).to_be_bytes());
        assert_eq!(decimal_text(&wide, 1).unwrap(), "-0.5", "sign extension beyond 16 bytes");
        let mut huge = vec![0x01];
        huge.extend([0; 16]);
        assert!(decimal_text(&huge, 0).unwrap_err().contains("too large"));
        assert!(decimal_text(&[1], 1_000_000).is_err());
        let field = Field::Decimal(Decimal::from_i64(-1_000_000_001, 18, 9));
        assert_eq!(text(&field, Hint::Plain).unwrap(), "-1.000000001");
    }

    #[test]
    fn values_read_as_the_csv_export_writes_them() {
        let t = |f: Field| text(&f, Hint::Plain).unwrap();
        assert_eq!(t(Field::Null), "");
        assert_eq!(t(Field::Double(0.1)), "0.1");
        assert_eq!(t(Field::Double(1e-7)), "0.0000001");
        assert_eq!(t(Field::Double(-2.0)), "-2");
        assert_eq!(t(Field::Float(0.1)), "0.1");
        assert_eq!(t(Field::Long(-7)), "-7");
        assert_eq!(t(Field::TimestampMillis(1_793_750_400_000)), "2026-11-04T00:00:00Z");
        assert_eq!(t(Field::TimestampMicros(1_793_750_399_999_999)), "2026-11-03T23:59:59.999999Z");
        assert_eq!(t(Field::TimestampMillis(i64::MAX)), i64::MAX.to_string(), "out of range: the number");
        let nanos = 1_793_750_400_000_000_001;
        assert_eq!(text(&Field::Long(nanos), Hint::TimestampNanos).unwrap(), "2026-11-04T00:00:00.000000001Z");
        assert_eq!(text(&Field::Long(3_600_000_000_001), Hint::TimeNanos).unwrap(), "01:00:00.000000001");
        assert_eq!(t(Field::TimeMillis(61_500)), "00:01:01.500");
        assert_eq!(t(Field::Date(20_761)), "2026-11-04");
        assert_eq!(t(Field::Bytes(ByteArray::from("text"))), "text");
        assert_eq!(t(Field::Bytes(ByteArray::from(vec![0xff, 0x00]))), "ff00");
    }

    #[test]
    fn structs_read_as_json() {
        // (Maps are read from files in `import.rs`'s tests: the crate builds its map and list values itself.)
        let group = Field::Group(Row::new(vec![
            ("at".into(), Field::TimestampMillis(0)),
            ("inner".into(), Field::Group(Row::new(vec![("ok".into(), Field::Bool(true))]))),
        ]));
        assert_eq!(text(&group, Hint::Plain).unwrap(), r#"{"at":"1970-01-01T00:00:00Z","inner":{"ok":true}}"#);
        let money = Field::Group(Row::new(vec![("amount".into(), Field::Decimal(Decimal::from_i32(15, 4, 1)))]));
        assert_eq!(text(&money, Hint::Plain).unwrap(), r#"{"amount":"1.5"}"#, "decimals stay exact text");
    }
}
