//! `headway score` against a pandas script on the same rule and the same files,
//! in one run, alternating, so the ratio is what counts on a noisy machine.
//!
//! Run: `cargo bench -p headway-cli --bench vs_pandas` (needs `pip install pandas`;
//! `HEADWAY_BENCH_SIZES=100000,1000000,10000000` to choose the books).
//!
//! The rule is `plugins/five-factors` (five weighted factors over six measures, a
//! reason each) and its twin `tests/benches/pandas_score.py`; the books come from
//! `headway sample saas --what measures` (about 230 bytes an account). Both write
//! JSON Lines with every factor's value, weight, contribution and reason; every
//! score is compared to 1e-9 before any time is reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const RUNS: usize = 3;
/// pandas holds about 6 GB per million accounts of this shape: above this, only
/// Headway runs.
const PANDAS_MAX: usize = 2_000_000;

fn main() {
    let pandas = headway_tests::repo_root().join("tests/benches/pandas_score.py");
    let python_ok = Command::new("python3")
        .args(["-c", "import pandas"])
        .status()
        .is_ok_and(|s| s.success());
    if !python_ok {
        eprintln!("vs_pandas: needs python3 with pandas (`pip install pandas`)");
        std::process::exit(1);
    }
    let headway = PathBuf::from(env!("CARGO_BIN_EXE_headway"));
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vs-pandas");
    std::fs::create_dir_all(&work).unwrap();
    let tenant = work.join("tenant");
    std::fs::create_dir_all(&tenant).unwrap();
    std::fs::write(
        tenant.join("tenant.toml"),
        format!(
            "name = \"bench\"\nplugin = \"{}\"\n",
            headway_tests::FIVE_FACTORS
        ),
    )
    .unwrap();
    let cache = work.join("cache");
    let sizes: Vec<usize> = std::env::var("HEADWAY_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000]);
    let timer = Path::new("/usr/bin/time").exists();

    println!(
        "five-factor rule, JSON Lines in and out, median of {RUNS} alternating runs, {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:>10}  {:>9}  {:>9}  {:>7}  {:>11}  {:>10}  {:>10}",
        "accounts", "headway", "pandas", "ratio", "headway/s", "headway RSS", "pandas RSS"
    );
    for &n in &sizes {
        let input = work.join(format!("book-{n}.jsonl"));
        if !input.exists() {
            let sample = Job::new(&headway)
                .args(["sample", "saas", "--what", "measures", "--count"])
                .args([n.to_string()])
                .args([std::ffi::OsString::from("-o"), input.clone().into()]);
            run(&sample, &cache, false);
        }
        let ours = work.join(format!("headway-{n}.jsonl"));
        let theirs = work.join(format!("pandas-{n}.jsonl"));
        let score = |threads: Option<usize>| {
            let mut job = Job::new(&headway)
                .args(["score", "--format", "json", "--tenant"])
                .args([&tenant, &input])
                .stdout(&ours);
            if let Some(t) = threads {
                job = job.args(["--threads".to_owned(), t.to_string()]);
            }
            job
        };
        let pandas_job = Job::new("python3").args([&pandas, &input, &theirs]);
        run(&score(None), &cache, false); // warm: fills the artifact cache
        let mut times = (Vec::new(), Vec::new());
        let mut rss = (0, 0);
        let with_pandas = n <= PANDAS_MAX;
        for _ in 0..RUNS {
            let (t, r) = run(&score(None), &cache, timer);
            times.0.push(t);
            rss.0 = rss.0.max(r);
            if with_pandas {
                let (t, r) = run(&pandas_job, &cache, timer);
                times.1.push(t);
                rss.1 = rss.1.max(r);
            }
        }
        let h = median(&mut times.0);
        if with_pandas {
            let mismatches = compare(&ours, &theirs);
            assert_eq!(mismatches, 0, "{n} accounts: scores differ from pandas");
            let p = median(&mut times.1);
            println!(
                "{n:>10}  {h:>8.2}s  {p:>8.2}s  {:>6.1}x  {:>11.0}  {:>8} MB  {:>8} MB",
                p / h,
                n as f64 / h,
                rss.0 >> 10,
                rss.1 >> 10
            );
        } else {
            println!(
                "{n:>10}  {h:>8.2}s  {:>9}  {:>7}  {:>11.0}  {:>8} MB  {:>10}",
                "-",
                "-",
                n as f64 / h,
                rss.0 >> 10,
                "-"
            );
        }
        if n == *sizes.iter().max().unwrap() {
            let rate = |threads| {
                let mut t: Vec<f64> = (0..RUNS)
                    .map(|_| run(&score(Some(threads)), &cache, false).0)
                    .collect();
                n as f64 / median(&mut t)
            };
            let (one, two) = (rate(1), rate(2));
            println!(
                "{n} accounts: {one:.0} accounts/s on 1 thread, {two:.0} on 2 ({:.2}x)",
                two / one
            );
        }
    }
}

/// One command to time: what runs, and where its stdout goes.
struct Job {
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    stdout: Option<PathBuf>,
}

impl Job {
    fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            stdout: None,
        }
    }

    fn args<I: IntoIterator<Item = S>, S: Into<std::ffi::OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn stdout(mut self, path: &Path) -> Self {
        self.stdout = Some(path.to_owned());
        self
    }
}

/// Runs `job` (under `/usr/bin/time` when `timed`): wall seconds and peak RSS
/// in KB (0 when not timed).
fn run(job: &Job, cache: &Path, timed: bool) -> (f64, u64) {
    let rss_file = cache.with_extension("rss");
    let mut c = if timed {
        let mut t = Command::new("/usr/bin/time");
        t.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_file)
            .arg(&job.program);
        t
    } else {
        Command::new(&job.program)
    };
    c.args(&job.args)
        .env("HEADWAY_CACHE_DIR", cache)
        .stderr(Stdio::null());
    if let Some(path) = &job.stdout {
        c.stdout(std::fs::File::create(path).unwrap());
    }
    let started = Instant::now();
    let status = c.status().expect("command starts");
    let wall = started.elapsed().as_secs_f64();
    assert!(status.success(), "{:?} failed: {status}", job.program);
    let rss = if timed {
        std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|t| t.trim().lines().last()?.trim().parse().ok())
            .unwrap_or(0)
    } else {
        0
    };
    (wall, rss)
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Lines whose score or band differ between the two outputs.
fn compare(ours: &Path, theirs: &Path) -> usize {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let (a, b) = (read(ours), read(theirs));
    let mut lines = 0;
    let mismatches = a
        .lines()
        .zip(b.lines())
        .filter(|(x, y)| {
            lines += 1;
            let x: serde_json::Value = serde_json::from_str(x).unwrap();
            let y: serde_json::Value = serde_json::from_str(y).unwrap();
            let (sx, sy) = (x["score"].as_f64(), y["score"].as_f64());
            let close = match (sx, sy) {
                (Some(p), Some(q)) => (p - q).abs() <= 1e-9,
                (None, None) => true,
                _ => false,
            };
            !close || x["band"] != y["band"] || x["account_id"] != y["account_id"]
        })
        .count();
    assert_eq!(
        lines,
        a.lines().count().max(b.lines().count()),
        "same number of records"
    );
    mismatches
}
