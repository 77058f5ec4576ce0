//! CSV rows straight into a batch: the header fixes where each field sits once,
//! then every row writes its cells into the batch's columns.

use super::{FieldError, InputDefaults, InputError, field_error};
use crate::Date;
use crate::account::{LifecycleStage, OutcomeKpi};
use crate::batch::{AccountBatch, Reads};

/// Where each known field sits in a CSV header. Columns: `id`, `name`, `segment`,
/// `plan`, `stage`, `arr`, `start_date`, `renewal_date`, `as_of`, then any of
/// `measure.<name>`, `attribute.<key>`, `outcome.<name>`,
/// `outcome.<name>.target`, `outcome.<name>.direction` (`higher` or `lower`),
/// `reached.<milestone-id>`. Empty cells are missing values. Histories cannot be
/// written in CSV.
#[derive(Debug)]
pub struct CsvColumns {
    /// Record splitters, kept for reuse: building one costs more than reading a
    /// thousand rows (and `csv_core::Reader`'s `Clone` does not copy a working one).
    splitters: std::sync::Mutex<Vec<csv_core::Reader>>,
    width: usize,
    cells: Vec<Cell>,
    /// Outcome names, in the order outcome slots are numbered.
    outcomes: Vec<String>,
}

#[derive(Debug, Clone)]
enum Cell {
    Fixed(Fixed),
    Measure(String),
    Attribute(String),
    Reached(String),
    Outcome(usize),
    OutcomeTarget(usize),
    OutcomeDirection(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixed {
    Id,
    Name,
    Segment,
    Plan,
    Stage,
    Arr,
    StartDate,
    RenewalDate,
    AsOf,
}

const FIXED: [(&str, Fixed); 9] = [
    ("id", Fixed::Id),
    ("name", Fixed::Name),
    ("segment", Fixed::Segment),
    ("plan", Fixed::Plan),
    ("stage", Fixed::Stage),
    ("arr", Fixed::Arr),
    ("start_date", Fixed::StartDate),
    ("renewal_date", Fixed::RenewalDate),
    ("as_of", Fixed::AsOf),
];

impl Fixed {
    /// The column's name in a header.
    fn name(self) -> &'static str {
        FIXED
            .iter()
            .find(|(_, x)| *x == self)
            .map_or("", |(n, _)| n)
    }
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

impl Clone for CsvColumns {
    fn clone(&self) -> Self {
        Self {
            splitters: std::sync::Mutex::default(),
            width: self.width,
            cells: self.cells.clone(),
            outcomes: self.outcomes.clone(),
        }
    }
}

impl CsvColumns {
    /// Reads the header row (line 1 of `source_name`).
    pub fn from_header(source_name: &str, header: &str) -> Result<Self, InputError> {
        let at = |e: FieldError| InputError::at(source_name, 1, None, e);
        let record = reader(header)
            .records()
            .next()
            .transpose()
            .map_err(|e| at((None, format!("unreadable header row: {e}"))))?
            .filter(|r| r.iter().any(|c| !c.trim().is_empty()))
            .ok_or_else(|| at((None, "unreadable header row: the file is empty".to_owned())))?;
        let mut columns = Self {
            splitters: std::sync::Mutex::default(),
            width: record.len(),
            cells: Vec::with_capacity(record.len()),
            outcomes: Vec::new(),
        };
        for h in record.iter().map(str::trim) {
            let cell = columns.cell(h).map_err(at)?;
            columns.cells.push(cell);
        }
        let has = |f: Fixed| {
            columns
                .cells
                .iter()
                .any(|c| matches!(c, Cell::Fixed(x) if *x == f))
        };
        for (name, f) in [
            ("id", Fixed::Id),
            ("stage", Fixed::Stage),
            ("arr", Fixed::Arr),
            ("start_date", Fixed::StartDate),
        ] {
            if !has(f) {
                return Err(at(field_error(
                    name,
                    format!("header has no `{name}` column"),
                )));
            }
        }
        Ok(columns)
    }

    fn cell(&mut self, h: &str) -> Result<Cell, FieldError> {
        if let Some((_, f)) = FIXED.iter().find(|(name, _)| *name == h) {
            return Ok(Cell::Fixed(*f));
        }
        let mut slot = |name: &str| match self.outcomes.iter().position(|o| o == name) {
            Some(i) => i,
            None => {
                self.outcomes.push(name.to_owned());
                self.outcomes.len() - 1
            }
        };
        Ok(if let Some(rest) = h.strip_prefix("measure.") {
            Cell::Measure(rest.to_owned())
        } else if let Some(rest) = h.strip_prefix("attribute.") {
            Cell::Attribute(rest.to_owned())
        } else if let Some(rest) = h.strip_prefix("reached.") {
            Cell::Reached(rest.to_owned())
        } else if let Some(rest) = h.strip_prefix("outcome.") {
            if let Some(name) = rest.strip_suffix(".target") {
                Cell::OutcomeTarget(slot(name))
            } else if let Some(name) = rest.strip_suffix(".direction") {
                Cell::OutcomeDirection(slot(name))
            } else {
                Cell::Outcome(slot(rest))
            }
        } else {
            return Err(field_error(
                h,
                "unknown column (see the CSV format in the README)",
            ));
        })
    }

    fn header_of(&self, i: usize) -> String {
        match &self.cells[i] {
            Cell::Fixed(f) => f.name().to_owned(),
            Cell::Measure(n) => format!("measure.{n}"),
            Cell::Attribute(n) => format!("attribute.{n}"),
            Cell::Reached(n) => format!("reached.{n}"),
            Cell::Outcome(s) => format!("outcome.{}", self.outcomes[*s]),
            Cell::OutcomeTarget(s) => format!("outcome.{}.target", self.outcomes[*s]),
            Cell::OutcomeDirection(s) => format!("outcome.{}.direction", self.outcomes[*s]),
        }
    }

    /// Parses data rows (no header) into a batch; `text`'s first line is line
    /// `first_line` of the source.
    pub fn parse(
        &self,
        source_name: &str,
        text: &str,
        first_line: usize,
        defaults: &InputDefaults,
        reads: Reads,
    ) -> (AccountBatch, Vec<InputError>) {
        let mut batch = AccountBatch::default();
        let mut errors = Vec::new();
        let mut scratch = RowScratch::default();
        let splitter = self.splitters.lock().ok().and_then(|mut s| s.pop());
        // Not `unwrap_or_default`: `Reader::default()` has no transition table,
        // and reads every byte as a record.
        #[allow(clippy::unwrap_or_default)]
        let core = splitter.unwrap_or_else(csv_core::Reader::new);
        let mut records = Records {
            core,
            whole: text,
            input: text.as_bytes(),
            unquoted: None,
            line: first_line,
            out: Vec::with_capacity(256),
            ends: Vec::with_capacity(self.width),
        };
        while let Some(line) = records.next() {
            let record = match records.unquoted {
                // The line as it is in `text`, commas and all.
                Some(line) => Record {
                    text: line,
                    ends: &records.ends,
                    gap: 1,
                },
                None => match std::str::from_utf8(&records.out) {
                    Ok(text) => Record {
                        text,
                        ends: &records.ends,
                        gap: 0,
                    },
                    Err(_) => {
                        let msg = (None, "the record is not UTF-8".to_owned());
                        errors.push(InputError::at(source_name, line, None, msg));
                        continue;
                    }
                },
            };
            if record.len() == 1 && record.get(0).trim().is_empty() {
                continue;
            }
            let id = self.id_of(&record);
            if record.len() != self.width {
                let msg = format!(
                    "found a row with {} fields, but the header has {}",
                    record.len(),
                    self.width
                );
                errors.push(InputError::at(source_name, line, id, (None, msg)));
                continue;
            }
            if let Err(e) = self.row(&record, &mut batch, &mut scratch, line, defaults, reads) {
                errors.push(InputError::at(source_name, line, id, e));
            }
        }
        records.core.reset();
        if let Ok(mut splitters) = self.splitters.lock() {
            splitters.push(records.core);
        }
        (batch, errors)
    }

    fn id_of(&self, record: &Record) -> Option<String> {
        let i = self
            .cells
            .iter()
            .position(|c| matches!(c, Cell::Fixed(Fixed::Id)))?;
        (i < record.len()).then(|| record.get(i).trim().to_owned())
    }

    fn row(
        &self,
        record: &Record,
        batch: &mut AccountBatch,
        scratch: &mut RowScratch,
        line: usize,
        defaults: &InputDefaults,
        reads: Reads,
    ) -> Result<(), FieldError> {
        let mark = batch.begin_row();
        let RowScratch {
            outcomes,
            measure_columns,
        } = scratch;
        // One slot per outcome column, named once per chunk and reset per row.
        if outcomes.len() != self.outcomes.len() {
            *outcomes = self
                .outcomes
                .iter()
                .map(|name| OutcomeKpi {
                    name: name.clone(),
                    value: f64::NAN,
                    target: None,
                    higher_is_better: true,
                })
                .collect();
        }
        for o in outcomes.iter_mut() {
            (o.value, o.target, o.higher_is_better) = (f64::NAN, None, true);
        }
        let mut fixed = FixedCells::default();
        let result = (|| {
            for (i, cell) in self.cells.iter().enumerate() {
                let v = record.get(i).trim();
                // The column's name only when there is an error to name it in.
                let at = |message: String| (Some(self.header_of(i)), message);
                match cell {
                    Cell::Fixed(f) => fixed.set(*f, v, batch)?,
                    Cell::Measure(name) => {
                        if let Some(x) = number(v).map_err(at)?.filter(|_| reads.wants(name)) {
                            match measure_columns.get(i).copied().flatten() {
                                Some(column) => batch.set_measure_at(mark, column, x),
                                None => {
                                    let column = batch.set_measure(mark, name, x);
                                    measure_columns.resize(self.cells.len(), None);
                                    measure_columns[i] = Some(column);
                                }
                            }
                        }
                    }
                    Cell::Attribute(key) => {
                        if !v.is_empty() && reads.wants(key) {
                            batch.attribute(mark, key).push_str(v);
                        }
                    }
                    Cell::Reached(id) => {
                        if let Some(d) = date(v).map_err(at)? {
                            batch.set_reached(mark, id, d);
                        }
                    }
                    Cell::Outcome(s) => {
                        if let Some(x) = number(v).map_err(at)? {
                            outcomes[*s].value = x;
                        }
                    }
                    Cell::OutcomeTarget(s) => outcomes[*s].target = number(v).map_err(at)?,
                    Cell::OutcomeDirection(s) => match v {
                        "" | "higher" => {}
                        "lower" => outcomes[*s].higher_is_better = false,
                        other => {
                            return Err(at(format!("expected `higher` or `lower`, got `{other}`")));
                        }
                    },
                }
            }
            fixed.finish(batch, defaults)?;
            // A KPI with a target or direction but no value is not tracked.
            for o in outcomes.iter().filter(|o| !o.value.is_nan()) {
                if reads.wants(&o.name) {
                    batch.set_outcome(mark, &o.name, o.higher_is_better, o.value, o.target);
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => batch.end_row(mark, line),
            Err(_) => batch.abandon_row(mark),
        }
        result
    }
}

/// What the rows of one chunk reuse: a slot per outcome column, and the batch
/// column of each measure cell once it has one (by cell index).
#[derive(Default)]
struct RowScratch {
    outcomes: Vec<OutcomeKpi>,
    measure_columns: Vec<Option<usize>>,
}

/// The fixed fields of one CSV row.
#[derive(Default)]
struct FixedCells {
    texts: [bool; 4],
    stage: Option<LifecycleStage>,
    arr: Option<f64>,
    start_date: Option<Date>,
    renewal_date: Option<Date>,
    as_of: Option<Date>,
}

impl FixedCells {
    fn set(&mut self, f: Fixed, v: &str, batch: &mut AccountBatch) -> Result<(), FieldError> {
        let at = |message: String| field_error(f.name(), message);
        match f {
            Fixed::Id | Fixed::Name | Fixed::Segment | Fixed::Plan => {
                let (i, column) = match f {
                    Fixed::Id => (0, &mut batch.ids),
                    Fixed::Name => (1, &mut batch.names),
                    Fixed::Segment => (2, &mut batch.segments),
                    _ => (3, &mut batch.plans),
                };
                column.push(v);
                self.texts[i] = true;
            }
            Fixed::Stage => {
                self.stage = Some(stage(v).map_err(at)?);
            }
            Fixed::Arr => self.arr = Some(number(v).map_err(at)?.unwrap_or(f64::NAN)),
            Fixed::StartDate => {
                let day = date(v).map_err(at)?;
                self.start_date = Some(day.ok_or_else(|| field_error(f.name(), "missing"))?);
            }
            Fixed::RenewalDate => self.renewal_date = date(v).map_err(at)?,
            Fixed::AsOf => self.as_of = date(v).map_err(at)?,
        }
        Ok(())
    }

    fn finish(&self, batch: &mut AccountBatch, defaults: &InputDefaults) -> Result<(), FieldError> {
        let row = batch.lines.len();
        for (i, column) in [
            &mut batch.ids,
            &mut batch.names,
            &mut batch.segments,
            &mut batch.plans,
        ]
        .into_iter()
        .enumerate()
        {
            if !self.texts[i] {
                column.end_value();
            }
        }
        if batch.ids.get(row).is_empty() {
            return Err(field_error("id", "must not be empty"));
        }
        let arr = self.arr.unwrap_or(f64::NAN);
        if !arr.is_finite() || arr < 0.0 {
            return Err(field_error("arr", format!("must be >= 0, got {arr}")));
        }
        let as_of = self
            .as_of
            .or(defaults.as_of)
            .ok_or_else(|| field_error("as_of", "missing (set it per line, or pass --as-of)"))?;
        batch
            .stages
            .push(self.stage.unwrap_or(LifecycleStage::Active));
        batch.arr.push(arr);
        batch
            .start_dates
            .push(self.start_date.unwrap_or(Date::from_days(0)));
        batch.renewal_dates.push(self.renewal_date);
        batch.as_of.push(as_of);
        Ok(())
    }
}

fn stage(v: &str) -> Result<LifecycleStage, String> {
    LifecycleStage::ALL
        .into_iter()
        .find(|s| s.as_str() == v)
        .ok_or_else(|| {
            let names: Vec<_> = LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown stage `{v}`, expected one of {}", names.join(", "))
        })
}

fn number(v: &str) -> Result<Option<f64>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    if let Some(x) = plain_decimal(v.as_bytes()) {
        return Ok(Some(x));
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(format!("expected a number, got `{v}`")),
    }
}

/// A decimal of at most 15 digits without an exponent (`264600.0`, `-0.324`),
/// or `None` for anything else, which `str::parse` then reads. Exact: the
/// digits as an integer are below 2^53 and the power of ten at most 1e15, so
/// both are exact doubles and one division rounds correctly (Clinger's fast
/// path, what `str::parse` also ends in, without its general scanning).
fn plain_decimal(v: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, digits) = match v.first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let (mut mantissa, mut count, mut decimals, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                count += 1;
                decimals += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if count == 0 || count > 15 {
        return None;
    }
    let x = mantissa as f64 / POW10[decimals];
    Some(if negative { -x } else { x })
}

fn date(v: &str) -> Result<Option<Date>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|e: crate::date::DateError| e.to_string())
}

/// Records of one chunk, split by `csv_core` into one buffer per record.
struct Records<'t> {
    core: csv_core::Reader,
    /// The chunk; `input` is what is left of it.
    whole: &'t str,
    input: &'t [u8],
    /// The last record, when it was a line without quotes: its text as is
    /// (else the record is in `out`).
    unquoted: Option<&'t str>,
    /// The line the next record starts on.
    line: usize,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Records<'_> {
    /// Reads the next record into `out`/`ends`: the line it started on.
    fn next(&mut self) -> Option<usize> {
        use csv_core::ReadRecordResult as R;
        // Blank lines hold no record; skipped here, so `line` is the record's own.
        while let Some(rest) = self
            .input
            .strip_prefix(b"\n")
            .or_else(|| self.input.strip_prefix(b"\r\n"))
        {
            self.input = rest;
            self.line += 1;
        }
        let line = self.line;
        self.out.clear();
        self.ends.clear();
        if self.unquoted_line() {
            return Some(line);
        }
        let (mut written, mut ended) = (0, 0);
        loop {
            if written == self.out.len() {
                self.out.resize((self.out.len() * 2).max(256), 0);
            }
            if ended == self.ends.len() {
                self.ends.resize((self.ends.len() * 2).max(16), 0);
            }
            let (result, read, wrote, end) = self.core.read_record(
                self.input,
                &mut self.out[written..],
                &mut self.ends[ended..],
            );
            self.line += self.input[..read].iter().filter(|b| **b == b'\n').count();
            self.input = &self.input[read..];
            written += wrote;
            ended += end;
            match result {
                R::InputEmpty | R::OutputFull | R::OutputEndsFull => {}
                R::Record => {
                    self.out.truncate(written);
                    self.ends.truncate(ended);
                    return Some(line);
                }
                R::End => return None,
            }
        }
    }

    /// The common case without the state machine: a line with no quote and no
    /// bare carriage return is its fields split at commas, exactly as
    /// `csv_core` would split it. False (nothing read) for any other line.
    fn unquoted_line(&mut self) -> bool {
        self.unquoted = None;
        if self.input.is_empty() {
            return false;
        }
        let end = memchr::memchr(b'\n', self.input).unwrap_or(self.input.len());
        let bytes = &self.input[..end];
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if memchr::memchr2(b'"', b'\r', bytes).is_some() {
            return false;
        }
        // Where each field ends in the line (the next starts one past it).
        self.ends
            .extend(memchr::memchr_iter(b',', bytes).chain([bytes.len()]));
        // Cut at ASCII bytes, so on character boundaries of the chunk's text.
        let start = self.whole.len() - self.input.len();
        let Some(line) = self.whole.get(start..start + bytes.len()) else {
            self.ends.clear();
            return false;
        };
        self.unquoted = Some(line);
        self.input = self.input.get(end + 1..).unwrap_or_default();
        self.line += 1;
        true
    }
}

/// One record's fields: field `i` ends at `ends[i]` of `text`, and the next
/// begins `gap` bytes later (1 past a comma in a line as written, 0 in
/// `csv_core`'s output, which drops delimiters).
struct Record<'r> {
    text: &'r str,
    ends: &'r [usize],
    gap: usize,
}

impl Record<'_> {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1] + self.gap
        };
        self.text.get(start..self.ends[i]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::plain_decimal;
    use proptest::prelude::*;

    #[test]
    fn plain_decimals_read_as_str_parse_reads_them() {
        for v in [
            "0",
            "-0",
            "+5",
            "5.",
            ".5",
            "264600.0",
            "0.324",
            "00012.50",
            "999999999999999",
            "0.00000000000001",
            "123456789.012345",
            "-98765.4321",
        ] {
            let fast = plain_decimal(v.as_bytes()).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(fast.to_bits(), v.parse::<f64>().unwrap().to_bits(), "{v}");
        }
        // Left to `str::parse`: exponents, 16+ digits, words, lone signs and dots.
        for v in [
            "1e5",
            "1234567890123456",
            ".",
            "-",
            "",
            "1.2.3",
            "nan",
            "inf",
            "1_0",
            " 1",
        ] {
            assert_eq!(plain_decimal(v.as_bytes()), None, "{v}");
        }
    }

    proptest! {
        #[test]
        fn any_short_decimal_reads_bit_for_bit(
            negative in any::<bool>(),
            int in "[0-9]{0,9}",
            frac in proptest::option::of("[0-9]{0,9}"),
        ) {
            let v = format!(
                "{}{int}{}",
                if negative { "-" } else { "" },
                frac.map(|f| format!(".{f}")).unwrap_or_default()
            );
            if let Ok(expected) = v.parse::<f64>() {
                let fast = plain_decimal(v.as_bytes());
                if v.bytes().filter(u8::is_ascii_digit).count() <= 15 {
                    prop_assert_eq!(fast.map(f64::to_bits), Some(expected.to_bits()), "{}", v);
                } else {
                    prop_assert_eq!(fast, None);
                }
            } else {
                prop_assert_eq!(plain_decimal(v.as_bytes()), None, "{}", v);
            }
        }
    }
}
