//! Rendering score records as JSON Lines, CSV or a table.

use std::io::{self, Write};

use headway_core::retention::{CohortRow, PeriodMetrics};
use headway_core::{PluginInfo, PluginRef, ScoreRecord};
use headway_host::TenantConfig;

/// An aligned table: account, score, band, what holds the score back, next milestone.
/// `shown` are the first records of `total`.
pub fn table(mut out: impl Write, shown: &[ScoreRecord], total: usize) -> io::Result<()> {
    let rows: Vec<[String; 5]> = shown
        .iter()
        .map(|r| {
            let id = r.account_id.clone().unwrap_or_else(|| "?".to_owned());
            match &r.error {
                Some(e) => [
                    id,
                    "-".into(),
                    "error".into(),
                    format!("{}: {}", e.kind.as_str(), e.message),
                    String::new(),
                ],
                None => [
                    id,
                    r.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
                    r.band.clone().unwrap_or_default(),
                    r.top_factor()
                        .map(|f| format!("{}: {}", f.name, f.reason))
                        .unwrap_or_default(),
                    r.next_milestone_progress()
                        .map(|m| format!("{} {:.0}%", m.id, m.progress * 100.0))
                        .unwrap_or_else(|| "all reached".to_owned()),
                ],
            }
        })
        .collect();
    let header = [
        "ACCOUNT",
        "SCORE",
        "BAND",
        "HOLDING IT BACK",
        "NEXT MILESTONE",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        writeln!(
            out,
            "{:<w0$}  {:>w1$}  {:<w2$}  {:<w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )?;
    }
    if shown.len() < total {
        writeln!(
            out,
            "... {} more (use --limit or --format json|csv)",
            total - shown.len()
        )?;
    }
    out.flush()
}

/// Whole currency units with thousands separators: 18000 -> "18,000".
pub fn money(amount: f64) -> String {
    let whole = format!("{:.0}", amount.abs());
    let mut out = String::with_capacity(whole.len() + whole.len() / 3 + 1);
    if amount < 0.0 && whole != "0" {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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
    writeln!(out, "\nbands")?;
    for b in &info.bands {
        writeln!(out, "  {:<10} from {:>5.1}", b.name, b.min_score)?;
    }
    writeln!(out, "\nfactors")?;
    for f in &info.factors {
        writeln!(
            out,
            "  {:<20} {:>5.1}%  {}",
            f.id,
            f.weight * 100.0,
            f.label
        )?;
    }
    writeln!(out, "\nmilestones")?;
    for (i, m) in info.milestones.iter().enumerate() {
        writeln!(
            out,
            "  {}. {:<20} {}: {}",
            i + 1,
            m.id,
            m.name,
            m.description
        )?;
        if let Some(u) = &m.upsell {
            writeln!(
                out,
                "     upsell: {} (+{} {} ARR, take rate {:.0}%)",
                u.offer,
                money(u.arr),
                tenant.currency,
                u.take_rate * 100.0
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
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i == 0 {
                line.push_str(&format!("{cell:<w$}"));
            } else {
                line.push_str(&format!("  {cell:>w$}"));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    out.flush()
}

/// Retention metrics per period: money with separators, ratios as percentages.
pub fn retention_table(
    out: impl Write,
    metrics: &[PeriodMetrics],
    by_segment: bool,
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

#[cfg(test)]
mod tests {
    #[test]
    fn money_groups_thousands() {
        for (x, s) in [
            (0.0, "0"),
            (999.0, "999"),
            (1000.0, "1,000"),
            (18000.0, "18,000"),
            (1234567.4, "1,234,567"),
            (-90000.0, "-90,000"),
            (-0.2, "0"),
        ] {
            assert_eq!(super::money(x), s);
        }
    }
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
