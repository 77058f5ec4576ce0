//! Score records as JSON Lines and CSV bytes, written straight from the columns
//! (no `serde_json::Value`, no record struct per account), on the worker threads.
//!
//! Numbers people read are shown to 12 significant digits, then in the shortest
//! form that reads back the same: `7.0`, not `6.999999999999999`. That removes
//! binary noise (a sum of rounded contributions still equals the rounded score
//! within 1e-9) and nothing a decision depends on.

use std::fmt::Write as _;

use headway_core::assessed::AssessedBatch;
use headway_core::{
    AccountBatch, AccountError, Date, ErrorKind, Fit, InputError, PluginInfo, PluginRef,
    spreadsheet_safe,
};

/// The output formats rendered per chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One JSON object per input line (the README's stable keys).
    JsonLines,
    /// A flat CSV row per input line, after a header.
    Csv,
}

/// `x` to 12 significant digits: what output shows.
pub fn clean(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    let shift = 11 - magnitude;
    if !(-22..=22).contains(&shift) {
        return x;
    }
    // 10^k is exact for |k| <= 22, and one correctly rounded division of an
    // integer below 10^12 gives the double whose shortest form is those digits.
    if shift >= 0 {
        let p = 10f64.powi(shift);
        (x * p).round() / p
    } else {
        let p = 10f64.powi(-shift);
        (x / p).round() * p
    }
}

/// What one line of output is about.
pub(crate) enum Line<'a> {
    Row(usize),
    Rejected(&'a InputError),
}

/// The chunk's records in input-line order: rows and rejected lines interleaved.
pub(crate) fn lines<'a>(
    batch: &AccountBatch,
    dropped: &[bool],
    rejected: &'a [InputError],
) -> Vec<(usize, Line<'a>)> {
    let mut out: Vec<(usize, Line)> = (0..batch.len())
        .filter(|r| !dropped.get(*r).copied().unwrap_or(false))
        .map(|r| (batch.lines[r], Line::Row(r)))
        .chain(rejected.iter().map(|e| (e.line, Line::Rejected(e))))
        .collect();
    out.sort_by_key(|(line, _)| *line);
    out
}

/// Everything a renderer reads from one chunk.
pub(crate) struct View<'a> {
    pub batch: &'a AccountBatch,
    pub dropped: &'a [bool],
    pub rejected: &'a [InputError],
    pub assessed: &'a AssessedBatch,
    pub info: &'a PluginInfo,
    pub plugin: &'a PluginRef,
}

/// Renders a chunk in `format` into `out`.
pub(crate) fn render(format: OutputFormat, view: &View, out: &mut Vec<u8>) {
    match format {
        OutputFormat::JsonLines => {
            let mut w = JsonWriter { out };
            for (_, line) in lines(view.batch, view.dropped, view.rejected) {
                match line {
                    Line::Row(r) => w.row(view, r),
                    Line::Rejected(e) => {
                        w.failed(e.account_id.as_deref(), None, &AccountError::from(e), None)
                    }
                }
                w.out.push(b'\n');
            }
        }
        OutputFormat::Csv => csv_rows(view, out),
    }
}

struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl JsonWriter<'_> {
    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    /// A JSON string, escaped as serde_json escapes.
    fn string(&mut self, s: &str) {
        self.out.push(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => b"",
                _ => continue,
            };
            self.out.extend_from_slice(&bytes[start..i]);
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.out.extend_from_slice(b"\\u00");
                self.out.push(HEX[usize::from(b >> 4)]);
                self.out.push(HEX[usize::from(b & 0xf)]);
            } else {
                self.out.extend_from_slice(escape);
            }
            start = i + 1;
        }
        self.out.extend_from_slice(&bytes[start..]);
        self.out.push(b'"');
    }

    fn opt_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.raw("null"),
        }
    }

    /// A number as output shows it; `null` for NaN and infinities.
    fn number(&mut self, x: f64) {
        if x.is_finite() {
            let mut buf = ryu::Buffer::new();
            self.raw(buf.format_finite(clean(x)));
        } else {
            self.raw("null");
        }
    }

    fn opt_number(&mut self, x: Option<f64>) {
        self.number(x.unwrap_or(f64::NAN));
    }

    fn date(&mut self, d: Option<Date>) {
        match d {
            Some(d) => {
                self.out.push(b'"');
                push_date(self.out, d);
                self.out.push(b'"');
            }
            None => self.raw("null"),
        }
    }

    fn plugin(&mut self, p: Option<&PluginRef>) {
        let Some(p) = p else {
            return self.raw("null");
        };
        self.raw("{\"name\":");
        self.string(&p.name);
        self.raw(",\"version\":");
        self.string(&p.version);
        self.raw(",\"digest\":");
        self.string(&p.digest);
        self.raw("}");
    }

    fn row(&mut self, v: &View, r: usize) {
        let id = v.batch.ids.get(r);
        let as_of = Some(v.batch.as_of[r]);
        if let Some(e) = &v.assessed.errors[r] {
            return self.failed(Some(id), as_of, e, Some(v.plugin));
        }
        let a = v.assessed;
        self.raw("{\"account_id\":");
        self.string(id);
        self.raw(",\"as_of\":");
        self.date(as_of);
        self.raw(",\"score\":");
        self.number(a.scores[r]);
        self.raw(",\"band\":");
        self.string(&v.info.bands[usize::from(a.bands[r])].name);
        self.raw(",\"factors\":[");
        for (i, (f, declared)) in a.factors.iter().zip(&v.info.factors).enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.raw("{\"name\":");
            self.string(&declared.id);
            self.raw(",\"value\":");
            self.number(f.values[r]);
            self.raw(",\"weight\":");
            self.number(f.weights[r]);
            self.raw(",\"contribution\":");
            self.number(f.contributions[r]);
            self.raw(",\"reason\":");
            self.string(f.reasons.get(r));
            self.raw("}");
        }
        self.raw("],\"milestones\":[");
        for (i, (m, declared)) in a.milestones.iter().zip(&v.info.milestones).enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.raw("{\"id\":");
            self.string(&declared.id);
            self.raw(",\"progress\":");
            self.number(m.progress[r]);
            self.raw(",\"reached_on\":");
            self.date(m.reached_on[r]);
            self.raw(",\"predicted_on\":");
            self.date(m.predicted_on[r]);
            self.raw(",\"likelihood\":");
            self.opt_number(m.likelihood[r]);
            self.raw("}");
        }
        self.raw("],\"next_milestone\":");
        self.opt_string(
            a.next_milestone(r)
                .map(|i| v.info.milestones[i].id.as_str()),
        );
        self.raw(",\"fit\":");
        self.opt_string(a.fit[r].map(Fit::as_str));
        self.raw(",\"plugin\":");
        self.plugin(Some(v.plugin));
        self.raw(",\"error\":null}");
    }

    fn failed(
        &mut self,
        id: Option<&str>,
        as_of: Option<Date>,
        e: &AccountError,
        plugin: Option<&PluginRef>,
    ) {
        self.raw("{\"account_id\":");
        self.opt_string(id);
        self.raw(",\"as_of\":");
        self.date(as_of);
        self.raw(",\"score\":null,\"band\":null,\"factors\":[],\"milestones\":[],\"next_milestone\":null,\"fit\":null,\"plugin\":");
        self.plugin(plugin);
        self.raw(",\"error\":{\"kind\":");
        self.string(e.kind.as_str());
        self.raw(",\"code\":");
        self.opt_string(e.code.as_deref());
        self.raw(",\"message\":");
        self.string(&e.message);
        self.raw(",\"line\":");
        match e.line {
            Some(n) => self.raw(itoa::Buffer::new().format(n)),
            None => self.raw("null"),
        }
        self.raw(",\"field\":");
        self.opt_string(e.field.as_deref());
        self.raw("}}");
    }
}

/// `x` with `decimals` (0-3) decimals, exactly as `{:.N}` writes it, without the
/// exact float-to-decimal algorithm: rounding the scaled value gives the same
/// digits except right at a half, where the product's own rounding could pick the
/// other neighbour, so those (and huge or non-finite values) take `{:.N}`.
fn push_fixed(cell: &mut String, x: f64, decimals: usize) {
    const SCALE: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
    const POW10: [u64; 4] = [1, 10, 100, 1000];
    let scaled = (x * SCALE[decimals]).abs();
    if !scaled.is_finite() || scaled >= 1e15 || (scaled.fract() - 0.5).abs() < 1e-6 {
        let _ = write!(cell, "{x:.decimals$}");
        return;
    }
    let n = scaled.round() as u64;
    if x.is_sign_negative() {
        cell.push('-');
    }
    cell.push_str(itoa::Buffer::new().format(n / POW10[decimals]));
    if decimals > 0 {
        cell.push('.');
        let frac = n % POW10[decimals];
        for p in POW10[..decimals].iter().rev() {
            cell.push(char::from(b'0' + ((frac / p) % 10) as u8));
        }
    }
}

/// `YYYY-MM-DD` without the formatting machinery.
fn push_date(out: &mut Vec<u8>, d: Date) {
    let (y, m, day) = d.ymd();
    if !(0..=9999).contains(&y) {
        out.extend_from_slice(d.to_string().as_bytes());
        return;
    }
    let digits = |n: u32, width: usize, out: &mut Vec<u8>| {
        for i in (0..width).rev() {
            out.push(b'0' + ((n / 10u32.pow(i as u32)) % 10) as u8);
        }
    };
    digits(y as u32, 4, out);
    out.push(b'-');
    digits(m, 2, out);
    out.push(b'-');
    digits(day, 2, out);
}

/// The CSV header: fixed columns, then each factor's contribution.
pub(crate) fn csv_header(info: &PluginInfo) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fixed = [
        "account_id",
        "as_of",
        "score",
        "band",
        "top_factor",
        "top_factor_reason",
        "next_milestone",
        "next_milestone_progress",
        "fit",
        "plugin",
        "plugin_version",
        "plugin_digest",
        "error_kind",
        "error_message",
    ];
    let factors = info.factors.iter().map(|f| format!("factor.{}", f.id));
    let header: Vec<String> = fixed
        .iter()
        .map(|s| (*s).to_owned())
        .chain(factors)
        .collect();
    w.write_record(&header).expect("writing to memory");
    w.into_inner().expect("writing to memory")
}

fn csv_rows(v: &View, out: &mut Vec<u8>) {
    let mut w = csv::Writer::from_writer(std::mem::take(out));
    let mut cells: Vec<String> = vec![String::new(); 14 + v.info.factors.len()];
    for (_, line) in lines(v.batch, v.dropped, v.rejected) {
        cells.iter_mut().for_each(String::clear);
        let failure = match line {
            Line::Rejected(e) => {
                cells[0].push_str(e.account_id.as_deref().unwrap_or(""));
                Some((ErrorKind::Input, e.to_string()))
            }
            Line::Row(r) => {
                cells[0].push_str(v.batch.ids.get(r));
                let mut day = Vec::with_capacity(10);
                push_date(&mut day, v.batch.as_of[r]);
                cells[1].push_str(std::str::from_utf8(&day).unwrap_or_default());
                for (i, text) in [&v.plugin.name, &v.plugin.version, &v.plugin.digest]
                    .into_iter()
                    .enumerate()
                {
                    cells[9 + i].push_str(text);
                }
                match &v.assessed.errors[r] {
                    Some(e) => Some((e.kind, e.message.clone())),
                    None => {
                        csv_scored(v, r, &mut cells);
                        None
                    }
                }
            }
        };
        if let Some((kind, message)) = failure {
            cells[12].push_str(kind.as_str());
            cells[13] = message;
        }
        // Ids, reasons and messages come from tenants' data and plugins.
        for cell in &cells {
            w.write_field(spreadsheet_safe(cell).as_bytes())
                .expect("writing to memory");
        }
        w.write_record(None::<&[u8]>).expect("writing to memory");
    }
    *out = w.into_inner().expect("writing to memory");
}

fn csv_scored(v: &View, r: usize, cells: &mut [String]) {
    let a = v.assessed;
    push_fixed(&mut cells[2], a.scores[r], 2);
    cells[3].push_str(&v.info.bands[usize::from(a.bands[r])].name);
    if let Some(i) = a.top_factor(r) {
        cells[4].push_str(&v.info.factors[i].id);
        cells[5].push_str(a.factors[i].reasons.get(r));
    }
    if let Some(i) = a.next_milestone(r) {
        cells[6].push_str(&v.info.milestones[i].id);
        push_fixed(&mut cells[7], a.milestones[i].progress[r], 3);
    }
    if let Some(fit) = a.fit[r] {
        cells[8].push_str(fit.as_str());
    }
    for (i, f) in a.factors.iter().enumerate() {
        push_fixed(&mut cells[14 + i], f.contributions[r], 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_removes_binary_noise_only() {
        assert_eq!(clean(6.999999999999999), 7.0);
        assert_eq!(clean(5.666666666666668), 5.66666666667);
        assert_eq!(clean(0.1 + 0.2), 0.3);
        assert_eq!(clean(29.849037127288728), 29.8490371273);
        assert_eq!(clean(264_600.0), 264_600.0);
        assert_eq!(clean(1e-300), 1e-300, "outside the exact powers: unchanged");
        assert_eq!(clean(0.0), 0.0);
        assert_eq!(clean(-2.5000000000000004), -2.5);
        assert!(clean(f64::NAN).is_nan());
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        for s in [
            "plain",
            "quote \" back \\ slash",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}",
            "é ✓ /",
        ] {
            let mut out = Vec::new();
            JsonWriter { out: &mut out }.string(s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn fixed_decimals_write_what_format_writes() {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            0.125,
            0.375,
            0.005,
            0.015,
            1.005,
            -1.005,
            69.995,
            99.999,
            100.0,
            -0.001,
            1e14,
            1e15,
            1e300,
            -2.675,
            2.675,
            f64::NAN,
            f64::INFINITY,
        ];
        // A deterministic spread of ordinary and awkward values.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            values.push(unit * 100.0);
            values.push((unit * 1e5).round() / 1e3 - 50.0);
        }
        for v in values {
            for d in 0..=3 {
                let mut cell = String::new();
                push_fixed(&mut cell, v, d);
                assert_eq!(cell, format!("{v:.d$}"), "{v:e} with {d} decimals");
            }
        }
    }

    #[test]
    fn dates_print_as_iso() {
        let mut out = Vec::new();
        push_date(&mut out, Date::from_ymd(2026, 3, 9).unwrap());
        push_date(&mut out, Date::from_days(0));
        assert_eq!(out, b"2026-03-091970-01-01");
    }
}
