//! Rendering score records as JSON Lines, CSV or a table.

use std::io::{self, Write};

use headway_core::retention::{CohortRow, PeriodMetrics};
use headway_core::{PluginInfo, PluginRef, ScoreRecord};
use headway_host::TenantConfig;

/// How a column lines up: names and text to the left, numbers to the right.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Align {
    Left,
    Right,
}

/// The one table renderer of the CLI: columns as wide as their widest cell, two
/// spaces apart, nothing trailing. A table whose column names are all empty has no
/// header line (a list inside a section).
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
    indent: usize,
}

impl Table {
    pub fn new<'a>(columns: impl IntoIterator<Item = (&'a str, Align)>) -> Self {
        Self {
            columns: columns
                .into_iter()
                .map(|(name, align)| (name.to_owned(), align))
                .collect(),
            rows: Vec::new(),
            indent: 0,
        }
    }

    /// Every line starts with `spaces` spaces.
    pub fn indented(mut self, spaces: usize) -> Self {
        self.indent = spaces;
        self
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        row.resize(self.columns.len(), String::new());
        self.rows.push(row);
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(h, _)| h.chars().count())
            .collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.columns.iter().map(|(h, _)| h.clone()).collect();
        let has_header = header.iter().any(|h| !h.is_empty());
        let lines = has_header.then_some(&header).into_iter().chain(&self.rows);
        for row in lines {
            let mut line = " ".repeat(self.indent);
            for (i, ((cell, w), (_, align))) in
                row.iter().zip(&widths).zip(&self.columns).enumerate()
            {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(w - cell.chars().count());
                match align {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// An aligned table: account, score, band, what holds the score back, next milestone.
/// `shown` are the first records of `total`.
pub fn table(mut out: impl Write, shown: &[ScoreRecord], total: usize) -> io::Result<()> {
    use Align::*;
    let mut table = Table::new([
        ("ACCOUNT", Left),
        ("SCORE", Right),
        ("BAND", Left),
        ("HOLDING IT BACK", Left),
        ("NEXT MILESTONE", Left),
    ]);
    for r in shown {
        let id = r.account_id.clone().unwrap_or_else(|| "?".to_owned());
        match &r.error {
            Some(e) => table.row([
                id,
                "-".into(),
                "error".into(),
                format!("{}: {}", e.kind.as_str(), e.message),
            ]),
            None => table.row([
                id,
                r.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
                r.band.clone().unwrap_or_default(),
                r.top_factor()
                    .map(|f| format!("{}: {}", f.name, f.reason))
                    .unwrap_or_default(),
                r.next_milestone_progress()
                    .map(|m| format!("{} {:.0}%", m.id, m.progress * 100.0))
                    .unwrap_or_else(|| "all reached".to_owned()),
            ]),
        }
    }
    table.write(&mut out)?;
    if shown.len() < total {
        writeln!(
            out,
            "... {} more (use --limit or --format json|csv)",
            total - shown.len()
        )?;
    }
    out.flush()
}

pub use headway_core::money;

/// The plugin's declaration, readable.
pub fn describe(
    mut out: impl Write,
    tenant: &TenantConfig,
    info: &PluginInfo,
    plugin: &PluginRef,
) -> io::Result<()> {
    writeln!(out, "tenant   {} ({})", tenant.id, tenant.name)?;
    writeln!(
        out,
        "plugin   {} {}  {}",
        plugin.name, plugin.version, plugin.digest
    )?;
    use Align::*;
    writeln!(out, "\nbands")?;
    let mut bands = Table::new([("", Left), ("", Left), ("", Right)]).indented(2);
    for b in &info.bands {
        bands.row([b.name.clone(), "from".into(), format!("{:.1}", b.min_score)]);
    }
    bands.write(&mut out)?;
    writeln!(out, "\nfactors")?;
    let mut factors = Table::new([("", Left), ("", Right), ("", Left)]).indented(2);
    for f in &info.factors {
        factors.row([f.id.clone(), percent(f.weight, 1), f.label.clone()]);
    }
    factors.write(&mut out)?;
    writeln!(out, "\nmilestones")?;
    for (i, m) in info.milestones.iter().enumerate() {
        writeln!(out, "  {}. {}  {}: {}", i + 1, m.id, m.name, m.description)?;
        if let Some(u) = &m.upsell {
            writeln!(
                out,
                "     upsell: {} (+{} {} ARR, take rate {})",
                u.offer,
                money(u.arr),
                tenant.currency,
                percent(u.take_rate, 0)
            )?;
        }
    }
    out.flush()
}

/// `x` with `f`, or `-` when there is none: every table's empty cell.
pub fn or_dash<T>(x: Option<T>, f: impl FnOnce(T) -> String) -> String {
    x.map_or_else(|| "-".to_owned(), f)
}

/// A share as a percentage with `decimals` decimals (`0.257` -> `25.7%`).
pub fn percent(share: f64, decimals: usize) -> String {
    format!("{:.decimals$}%", share * 100.0)
}

fn pct(x: Option<f64>) -> String {
    or_dash(x, |v| percent(v, 1))
}

/// A number with `decimals` decimals, or `-`.
pub fn opt(x: Option<f64>, decimals: usize) -> String {
    or_dash(x, |v| format!("{v:.decimals$}"))
}

/// Writes rows as an aligned table: first column left, the others right-aligned.
pub fn aligned(mut out: impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut table = Table::new(
        header
            .iter()
            .enumerate()
            .map(|(i, h)| (*h, if i == 0 { Align::Left } else { Align::Right })),
    );
    for row in rows {
        table.row(row.iter().cloned());
    }
    table.write(&mut out)?;
    out.flush()
}

/// Retention metrics per period: money with separators, ratios as percentages.
pub fn retention_table(
    out: impl Write,
    metrics: &[PeriodMetrics],
    by_segment: bool,
    advocacy: bool,
) -> io::Result<()> {
    let mut header = vec!["PERIOD"];
    if by_segment {
        header.push("SEGMENT");
    }
    header.extend([
        "START ARR",
        "NEW",
        "EXPANSION",
        "CONTRACTION",
        "CHURNED",
        "END ARR",
        "NRR",
        "GRR",
        "LOGO CHURN",
        "QUICK",
        "RENEWAL",
        "TRIAL CONV",
        "NPS",
        "CSAT",
    ]);
    if advocacy {
        header.extend([
            "ADVOCATES",
            "REF/100",
            "REFERRED ARR",
            "REFERRED NRR",
            "OTHER NRR",
        ]);
    }
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|m| {
            let mut row = vec![
                m.period_start
                    .map(|d| d.to_string()[..7].to_owned())
                    .unwrap_or_default(),
            ];
            if by_segment {
                row.push(m.segment.clone().unwrap_or_default());
            }
            row.extend([
                money(m.start_arr),
                money(m.new_arr + m.reactivation_arr),
                money(m.expansion_arr),
                money(m.contraction_arr),
                money(m.churned_arr),
                money(m.end_arr),
                pct(m.nrr),
                pct(m.grr),
                pct(m.logo_churn),
                opt(m.quick_ratio, 2),
                pct(m.renewal_rate_revenue),
                pct(m.trial_conversion),
                opt(m.nps, 0),
                pct(m.csat),
            ]);
            if advocacy {
                row.extend([
                    pct(m.advocacy_rate),
                    opt(m.referrals_per_100, 1),
                    money(m.referred_new_arr),
                    pct(m.referred_nrr),
                    pct(m.other_nrr),
                ]);
            }
            row
        })
        .collect();
    aligned(out, &header, &rows)
}

/// Retention metrics as CSV with the JSON keys as columns.
pub fn retention_csv(out: impl Write, metrics: &[PeriodMetrics]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for m in metrics {
        // Segments come from the tenant's ledger: never a formula.
        let mut m = m.clone();
        m.segment = m
            .segment
            .map(|s| headway_core::spreadsheet_safe(&s).into_owned());
        w.serialize(m)?;
    }
    w.flush()?;
    Ok(())
}

/// The cohort matrix: logo retention by months since signup.
pub fn cohorts_table(out: impl Write, rows: &[CohortRow]) -> io::Result<()> {
    let months = rows.iter().map(|r| r.logo.len()).max().unwrap_or(0);
    let labels: Vec<String> = (0..months).map(|k| format!("M{k}")).collect();
    let mut header = vec!["COHORT", "ACCOUNTS", "START ARR"];
    header.extend(labels.iter().map(String::as_str));
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.cohort.to_string()[..7].to_owned(),
                r.accounts.to_string(),
                money(r.start_arr),
            ];
            row.extend(
                r.logo
                    .iter()
                    .map(|x| x.map_or_else(|| "-".to_owned(), |v| format!("{:.0}%", v * 100.0))),
            );
            row
        })
        .collect();
    aligned(out, &header, &table)
}

/// The cohort matrix as CSV: one row per cohort and month.
pub fn cohorts_csv(out: impl Write, rows: &[CohortRow]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "cohort",
        "accounts",
        "start_arr",
        "month",
        "logo_retention",
        "revenue_retention",
    ])?;
    for r in rows {
        for (k, (logo, revenue)) in r.logo.iter().zip(&r.revenue).enumerate() {
            let cell = |x: &Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
            w.write_record([
                r.cohort.to_string(),
                r.accounts.to_string(),
                r.start_arr.to_string(),
                k.to_string(),
                cell(logo),
                cell(revenue),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Standard output for text people read (tables, `explain`, `describe`), with
/// control characters made visible.
pub fn human_stdout() -> TerminalSafe<io::BufWriter<io::StdoutLock<'static>>> {
    TerminalSafe::new(io::BufWriter::new(io::stdout().lock()))
}

/// Writes text for a terminal with control characters made visible: ESC, BEL,
/// CR, DEL and the C1 controls in tenants' ids, plugins' reasons or log lines
/// would otherwise move the cursor, ring, rewrite the line or smuggle in a link.
/// Newlines and tabs pass. JSON and CSV output are never filtered.
pub struct TerminalSafe<W> {
    out: W,
    /// A 0xC2 byte seen last: the first byte of a C1 control, or of a character.
    pending_c2: bool,
}

impl<W: Write> TerminalSafe<W> {
    /// Filters what is written to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            pending_c2: false,
        }
    }
}

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut start = 0;
        for (i, &b) in buf.iter().enumerate() {
            if self.pending_c2 {
                self.pending_c2 = false;
                if (0x80..=0x9f).contains(&b) {
                    write!(self.out, "\\u{{{b:04x}}}")?;
                } else {
                    self.out.write_all(&[0xc2, b])?;
                }
                start = i + 1;
                continue;
            }
            let control = b == 0x7f || (b < 0x20 && b != b'\n' && b != b'\t');
            if control || b == 0xc2 {
                self.out.write_all(&buf[start..i])?;
                if control {
                    write!(self.out, "\\x{b:02x}")?;
                } else {
                    self.pending_c2 = true;
                }
                start = i + 1;
            }
        }
        self.out.write_all(&buf[start..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.pending_c2) {
            self.out.write_all(&[0xc2])?;
        }
        self.out.flush()
    }
}

/// `text` as [`TerminalSafe`] would write it.
pub fn terminal_safe(text: &str) -> String {
    let mut out = TerminalSafe::new(Vec::new());
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    String::from_utf8(out.out).unwrap_or_default()
}

#[cfg(test)]
mod terminal_tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_text_passes() {
        assert_eq!(
            terminal_safe("a\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}\rb\u{9b}31m"),
            "a\\x1b]8;;http://x\\x07link\\x1b]8;;\\x07\\x0db\\u{009b}31m"
        );
        assert_eq!(terminal_safe("Café ✓ ¢\ttab\nline"), "Café ✓ ¢\ttab\nline");
        // A character split across two writes still comes out whole.
        let mut out = TerminalSafe::new(Vec::new());
        out.write_all("x¢".as_bytes().split_at(2).0).unwrap();
        out.write_all(&"¢".as_bytes()[1..]).unwrap();
        out.flush().unwrap();
        assert_eq!(String::from_utf8(out.out).unwrap(), "x¢");
    }
}
