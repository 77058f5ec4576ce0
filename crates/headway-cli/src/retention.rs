//! `headway retention`: NRR, GRR, churn, renewals, trials and surveys per period,
//! or the signup-cohort matrix, from a revenue ledger file.

use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;
use headway_core::Date;

use crate::{Format, output, read_data};

#[derive(clap::Args)]
pub(crate) struct RetentionArgs {
    /// Revenue ledger: `.csv` (header row) or `.jsonl`; see the README for columns.
    ledger: PathBuf,
    /// Survey answers (`account_id,date,kind,score`), `.csv` or `.jsonl`.
    #[arg(long)]
    surveys: Option<PathBuf>,
    /// Advocacy events (`account_id,date,kind,referred`; kind `referral`,
    /// `reference-call`, `case-study` or `review`), `.csv` or `.jsonl`.
    #[arg(long)]
    advocacy: Option<PathBuf>,
    /// Period length.
    #[arg(long, value_enum, default_value_t = Period::Month)]
    period: Period,
    /// One row per segment and period.
    #[arg(long)]
    segment: bool,
    /// First day to cover (default: the first row).
    #[arg(long)]
    from: Option<Date>,
    /// Last day to cover (default: the last row).
    #[arg(long)]
    to: Option<Date>,
    /// The `arr` column holds monthly revenue (multiplied by 12).
    #[arg(long)]
    mrr: bool,
    /// Print the signup-cohort retention matrix instead.
    #[arg(long)]
    cohorts: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Period {
    Month,
    Quarter,
    Year,
}

/// `headway retention`: ledger (and surveys) in, metrics per period out.
pub(crate) fn retention(args: &RetentionArgs) -> Result<()> {
    use headway_core::retention::{
        Ledger, PeriodKind, RetentionQuery, parse_advocacy, parse_ledger, parse_surveys,
    };
    let fail = |errors: Vec<headway_core::InputError>| {
        for e in &errors {
            eprintln!("error: {e}");
        }
        anyhow::anyhow!(
            "{} bad rows; nothing computed (fix them: metrics on partial data mislead)",
            errors.len()
        )
    };
    let (name, text, csv) = read_data(&args.ledger)?;
    let ledger = Ledger::new(parse_ledger(&name, &text, csv, args.mrr).map_err(fail)?);
    let surveys = match &args.surveys {
        Some(path) => {
            let (name, text, csv) = read_data(path)?;
            parse_surveys(&name, &text, csv).map_err(fail)?
        }
        None => Vec::new(),
    };
    let advocacy = match &args.advocacy {
        Some(path) => {
            let (name, text, csv) = read_data(path)?;
            parse_advocacy(&name, &text, csv).map_err(fail)?
        }
        None => Vec::new(),
    };
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.cohorts {
        let rows = headway_core::retention::cohorts_between(&ledger, args.from, args.to);
        return match args.format {
            Format::Json => Ok(serde_json::to_writer_pretty(out, &rows)?),
            Format::Csv => output::cohorts_csv(out, &rows),
            Format::Table => Ok(output::cohorts_table(
                output::TerminalSafe::new(out),
                &rows,
            )?),
        };
    }
    let query = RetentionQuery {
        period: match args.period {
            Period::Month => PeriodKind::Month,
            Period::Quarter => PeriodKind::Quarter,
            Period::Year => PeriodKind::Year,
        },
        from: args.from,
        to: args.to,
        by_segment: args.segment,
    };
    let metrics = headway_core::retention::retention(&ledger, &surveys, &advocacy, &query);
    match args.format {
        Format::Json => {
            let mut out = out;
            serde_json::to_writer_pretty(&mut out, &metrics)?;
            use std::io::Write;
            writeln!(out)?;
        }
        Format::Csv => output::retention_csv(out, &metrics)?,
        Format::Table => output::retention_table(
            output::TerminalSafe::new(out),
            &metrics,
            args.segment,
            args.advocacy.is_some(),
        )?,
    }
    Ok(())
}
