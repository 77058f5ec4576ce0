//! `headway sample`: deterministic sample books, ledgers, surveys and years of
//! history, for demos, tests and benchmarks.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;
use headway_samples::Book;

/// What `headway sample` writes.
#[derive(clap::Args)]
pub(crate) struct SampleArgs {
    /// Which example book.
    #[arg(value_enum)]
    book: SampleBook,
    /// What to write.
    #[arg(long, value_enum, default_value_t = SampleWhat::Accounts)]
    what: SampleWhat,
    /// How many accounts.
    #[arg(long, default_value_t = 1_000)]
    count: usize,
    /// PRNG seed.
    #[arg(long, default_value_t = headway_samples::DEFAULT_SEED)]
    seed: u64,
    /// Output file (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SampleWhat {
    /// The book today (JSON Lines).
    Accounts,
    /// The book today with only ids, stages, ARR, dates and current measures
    /// (about 200 bytes an account): for benchmarks at any size.
    Measures,
    /// A year of ARR changes, former customers included (CSV).
    Ledger,
    /// A quarter of NPS and CSAT answers (CSV).
    Surveys,
    /// A year of referrals, reference calls, case studies and reviews (CSV).
    Advocacy,
    /// The book on the first of each of the last 12 months (JSON Lines): score it
    /// with `--store` to fill a history.
    History,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SampleBook {
    Saas,
    Logistics,
}
/// `headway sample`: a deterministic sample book, its ledger or its surveys.
pub(crate) fn sample(args: &SampleArgs) -> Result<()> {
    let (what, count, seed, output) = (args.what, args.count, args.seed, args.output.as_deref());
    use std::io::Write;
    let book = match args.book {
        SampleBook::Saas => Book::Saas,
        SampleBook::Logistics => Book::Logistics,
    };
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write `{}`", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // Accounts stream one at a time, so a book of any size fits; the rest
    // derive from the whole book.
    let accounts = headway_samples::accounts(book, seed).take(count);
    match what {
        SampleWhat::Accounts => {
            for a in accounts {
                headway_samples::write_jsonl(&mut out, [&a])?;
            }
        }
        SampleWhat::Measures => headway_samples::write_measures_jsonl(&mut out, accounts)?,
        SampleWhat::Ledger => {
            let rows = headway_samples::ledger(book, &accounts.collect::<Vec<_>>(), seed);
            out.write_all(headway_samples::ledger_csv(&rows).as_bytes())?;
        }
        SampleWhat::Surveys => {
            let rows = headway_samples::surveys(&accounts.collect::<Vec<_>>(), seed);
            out.write_all(headway_samples::surveys_csv(&rows).as_bytes())?;
        }
        SampleWhat::Advocacy => {
            let rows = headway_samples::advocacy(book, &accounts.collect::<Vec<_>>(), seed);
            out.write_all(headway_samples::advocacy_csv(&rows).as_bytes())?;
        }
        SampleWhat::History => {
            let books = headway_samples::monthly_books(book, &accounts.collect::<Vec<_>>(), seed);
            headway_samples::write_jsonl(&mut out, &books)?;
        }
    }
    out.flush().with_context(|| {
        format!(
            "cannot write `{}`",
            output.unwrap_or(Path::new("-")).display()
        )
    })?;
    Ok(())
}
