//! The decision log's side of a scoring: digests of what went in and came
//! out, the input kept (masked, compressed) where the tenant keeps inputs,
//! and the replay that scores a kept input again.
//!
//! ```text
//! reader -> InputTap (sha256, zstd copy) -> Source -> run -> sinks + OutputDigest
//!                                                          -> log_decision
//! ```

use std::io::{self, BufReader, Read, Write};

use headway_core::masking::Mask;
use headway_core::{Date, InputDefaults};
use headway_host::Plugin;
use headway_store::{Decision, DecisionEntry, DecisionInput, KeptBuild, SnapshotStore, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::render::{self, OutputFormat};
use crate::run::{RunError, RunOptions, ScoredChunk, Sink, SinkError};
use crate::{InputFormat, Source, WriteSink};

/// zstd's default level: 10x on the sample book (64.5 MB of JSON Lines kept
/// in 6.2 MB), and fast enough to run beside the reader.
const LEVEL: i32 = 3;

/// `sha256:<hex>` of what `hasher` saw.
fn hex(hasher: Sha256) -> String {
    format!("sha256:{:x}", hasher.finalize())
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    headway_host::digest(bytes)
}

/// What an input tap saw: its digest, and a compressed copy when kept.
pub struct InputRecord {
    /// `None`: bytes only pass (a run that logs no decision).
    hasher: Option<Sha256>,
    kept: Option<zstd::stream::write::Encoder<'static, Vec<u8>>>,
    failed: Option<io::Error>,
}

impl InputRecord {
    /// Digests what passes; keeps a copy too when `keep`.
    pub fn new(keep: bool) -> Self {
        Self {
            hasher: Some(Sha256::new()),
            kept: keep.then(|| {
                zstd::stream::write::Encoder::new(Vec::new(), LEVEL).expect("zstd level 3")
            }),
            failed: None,
        }
    }

    /// Neither digests nor keeps: for a run that logs no decision (its
    /// digest is empty).
    pub fn passing() -> Self {
        Self {
            hasher: None,
            kept: None,
            failed: None,
        }
    }

    /// What a record of `bytes` holds, for an input already in memory (a
    /// request's body).
    pub fn of(bytes: &[u8], keep: bool) -> Self {
        let mut record = Self::new(keep);
        record.pass(bytes);
        record
    }

    /// Wraps `inner` so that everything read from it passes through here.
    pub fn tap<R>(&mut self, inner: R) -> InputTap<'_, R> {
        InputTap {
            inner,
            record: self,
        }
    }

    fn pass(&mut self, bytes: &[u8]) {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(bytes);
        }
        if let Some(kept) = &mut self.kept
            && let Err(e) = kept.write_all(bytes)
        {
            self.failed.get_or_insert(e);
        }
    }

    /// The digest and the compressed copy (when kept).
    pub fn finish(self) -> io::Result<(String, Option<Vec<u8>>)> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let kept = self.kept.map(|k| k.finish()).transpose()?;
        Ok((self.hasher.map(hex).unwrap_or_default(), kept))
    }
}

/// A reader whose bytes an [`InputRecord`] digests (and keeps) as they are read.
pub struct InputTap<'a, R> {
    inner: R,
    record: &'a mut InputRecord,
}

impl<R: Read> Read for InputTap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.record.pass(&buf[..n]);
        Ok(n)
    }
}

/// Digests a run's records as JSON Lines, whatever format the run writes:
/// the output a replay must reproduce byte for byte.
pub struct OutputDigest<'p> {
    hasher: Sha256,
    plugin: &'p Plugin,
    /// The run renders JSON Lines itself: its bytes are digested as they are.
    rendered_as_lines: bool,
    scratch: Vec<u8>,
}

impl<'p> OutputDigest<'p> {
    /// For a run of `plugin` with `options`.
    pub fn new(plugin: &'p Plugin, options: &RunOptions) -> Self {
        Self {
            hasher: Sha256::new(),
            plugin,
            rendered_as_lines: options.format == Some(OutputFormat::JsonLines),
            scratch: Vec::new(),
        }
    }

    /// `sha256:<hex>` of every record so far.
    pub fn finish(self) -> String {
        hex(self.hasher)
    }
}

impl Sink for OutputDigest<'_> {
    fn chunk(&mut self, chunk: &ScoredChunk) -> Result<(), SinkError> {
        if self.rendered_as_lines {
            self.hasher.update(&chunk.rendered);
        } else {
            self.scratch.clear();
            render::render(
                OutputFormat::JsonLines,
                &chunk.view(self.plugin),
                &mut self.scratch,
            );
            self.hasher.update(&self.scratch);
        }
        Ok(())
    }
}

/// Who asked for a scoring and how its input reads: what the log says
/// besides the result.
#[derive(Debug, Clone)]
pub struct DecisionContext {
    /// The tenant.
    pub tenant: String,
    /// Who asked (`tenant-token sha256:1a2b3c4d`, `cli:alice`).
    pub caller: String,
    /// Where the input came from.
    pub source: String,
    /// How it reads.
    pub input: DecisionInput,
    /// The as-of day for accounts without one.
    pub as_of_default: Option<Date>,
    /// When scoring began, RFC 3339.
    pub at: String,
}

/// What a scoring produced, for its log entry.
pub struct DecisionOutcome {
    /// What the input's tap saw: its digest, and the input when kept.
    pub input: InputRecord,
    /// `sha256:<hex>` of the records as JSON Lines.
    pub output_digest: String,
    /// Records out.
    pub records: usize,
    /// Of them, without a score.
    pub failed: usize,
    /// The run recorded, for a run.
    pub run: Option<i64>,
}

/// A decision that could not be logged.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// The store refused.
    #[error("the decision log cannot be written: {0}")]
    Store(#[from] StoreError),
    /// Compressing or masking the kept input failed.
    #[error("the decision log cannot keep the input: {0}")]
    Keep(#[from] io::Error),
    /// The plugin was loaded without its component, so its build cannot be kept.
    #[error("the decision log cannot keep the build: it was loaded without `keep_component`")]
    NoComponent,
}

/// Logs a scoring of `plugin`: the decision, and where the input was kept,
/// the input (masked by `mask`) and the build, each stored once.
pub fn log_decision(
    store: &mut dyn SnapshotStore,
    plugin: &Plugin,
    context: DecisionContext,
    outcome: DecisionOutcome,
    mask: &Mask,
) -> Result<Decision, DecisionError> {
    let (input_digest, kept) = outcome.input.finish()?;
    let input = match kept {
        Some(kept) if !mask.is_empty() => Some(masked(&kept, context.input, mask)?),
        kept => kept,
    };
    let build = match input {
        Some(_) if !store.has_kept_build(&context.tenant, plugin.build_key())? => Some(KeptBuild {
            component: zstd::bulk::compress(
                plugin.component().ok_or(DecisionError::NoComponent)?,
                LEVEL,
            )?,
            options: serde_json::to_string(plugin.load_options()).expect("load options serialise"),
        }),
        _ => None,
    };
    let decision = Decision {
        id: 0,
        tenant: context.tenant,
        at: context.at,
        run: outcome.run,
        caller: context.caller,
        plugin: plugin.plugin_ref().clone(),
        build: plugin.build_key().to_owned(),
        source: context.source,
        input: context.input,
        as_of_default: context.as_of_default,
        input_digest,
        output_digest: outcome.output_digest,
        records: outcome.records,
        failed: outcome.failed,
        input_kept: input.is_some(),
        masked: if input.is_some() {
            mask.names()
        } else {
            Vec::new()
        },
    };
    Ok(store.log_decision(&DecisionEntry {
        decision,
        input: input.as_deref(),
        build: build.as_ref(),
    })?)
}

/// A kept input with `mask` applied, compressed again.
fn masked(kept: &[u8], input: DecisionInput, mask: &Mask) -> io::Result<Vec<u8>> {
    let plain = BufReader::new(zstd::stream::read::Decoder::new(kept)?);
    let mut out = zstd::stream::write::Encoder::new(Vec::new(), LEVEL)?;
    match input {
        DecisionInput::JsonLines => mask.json_lines(plain, &mut out)?,
        DecisionInput::Csv => mask.csv(plain, &mut out)?,
        DecisionInput::Request => {
            // A request is one JSON body; an unreadable one keeps nothing of itself.
            match serde_json::from_reader::<_, Value>(plain) {
                Ok(mut body) => {
                    mask_request(mask, &mut body);
                    serde_json::to_writer(&mut out, &body)?;
                }
                Err(_) => out.write_all(headway_core::masking::WITHHELD_LINE.as_bytes())?,
            }
        }
    }
    out.finish()
}

/// Masks every account of a request body, in the shapes [`request_accounts`] reads.
fn mask_request(mask: &Mask, body: &mut Value) {
    match body {
        Value::Array(items) => items.iter_mut().for_each(|a| {
            mask.account(a);
        }),
        Value::Object(o) if o.contains_key("accounts") => {
            if let Some(Value::Array(items)) = o.get_mut("accounts") {
                items.iter_mut().for_each(|a| {
                    mask.account(a);
                });
            }
        }
        _ => {
            mask.account(body);
        }
    }
}

/// A kept input or build, uncompressed.
pub fn unpack(kept: &[u8]) -> io::Result<Vec<u8>> {
    zstd::stream::decode_all(kept)
}

/// The accounts of a scoring request: one account object, an array of them,
/// or `{"accounts": [...]}`; true for a single object (answered as one record).
pub fn request_accounts(body: &[u8]) -> Result<(Vec<Value>, bool), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    match value {
        Value::Array(items) => Ok((items, false)),
        Value::Object(mut o) if o.contains_key("accounts") => match o.remove("accounts") {
            Some(Value::Array(items)) => Ok((items, false)),
            _ => Err("`accounts` must be an array".to_owned()),
        },
        Value::Object(_) => Ok((vec![value], true)),
        _ => Err("send an account object, an array of them, or {\"accounts\": [...]}".to_owned()),
    }
}

impl From<InputFormat> for DecisionInput {
    fn from(format: InputFormat) -> Self {
        match format {
            InputFormat::JsonLines => Self::JsonLines,
            InputFormat::Csv => Self::Csv,
        }
    }
}

/// The source name of the accounts of a scoring request, in its messages.
pub const REQUEST_ACCOUNT: &str = "request account";

/// Scores a logged input again with `plugin`: the records as JSON Lines, as
/// the logged scoring wrote them.
pub fn rescore(decision: &Decision, input: &[u8], plugin: &Plugin) -> Result<Vec<u8>, RunError> {
    let defaults = InputDefaults {
        as_of: decision.as_of_default,
    };
    let format = match decision.input {
        DecisionInput::Request => {
            let (items, _) = request_accounts(input).map_err(|e| RunError::Read {
                name: decision.source.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?;
            let chunk = crate::score_values(
                REQUEST_ACCOUNT,
                items,
                plugin,
                &defaults,
                OutputFormat::JsonLines,
            );
            return Ok(chunk.rendered);
        }
        DecisionInput::JsonLines => InputFormat::JsonLines,
        DecisionInput::Csv => InputFormat::Csv,
    };
    let source = Source::new(decision.source.clone(), input, format);
    let mut options =
        RunOptions::new(std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    options.defaults = defaults;
    options.format = Some(OutputFormat::JsonLines);
    let mut out = WriteSink::new(Vec::new(), OutputFormat::JsonLines, plugin)
        .map_err(|e| RunError::Sink(e.into()))?;
    crate::run(source, plugin, &options, &mut [&mut out])?;
    out.finish().map_err(|e| RunError::Sink(e.into()))
}

/// Each record's account, score and band, from records as JSON Lines (a
/// line without an account, an unreadable input line, is left out).
pub fn outcomes(records: &[u8]) -> Vec<headway_core::replay::Outcome> {
    records
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
        .filter_map(|record| {
            Some(headway_core::replay::Outcome {
                account_id: record.get("account_id")?.as_str()?.to_owned(),
                score: record.get("score").and_then(Value::as_f64),
                band: record
                    .get("band")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_digests_and_keeps_exactly_what_was_read() {
        let text = b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n".repeat(1000);
        let mut record = InputRecord::new(true);
        let mut read = Vec::new();
        record.tap(&text[..]).read_to_end(&mut read).unwrap();
        let (digest, kept) = record.finish().unwrap();
        assert_eq!(read, text);
        assert_eq!(digest, sha256(&text));
        let kept = kept.unwrap();
        assert!(
            kept.len() * 20 < text.len(),
            "{} bytes compressed",
            kept.len()
        );
        assert_eq!(unpack(&kept).unwrap(), text);
        let mut digest_only = InputRecord::new(false);
        std::io::copy(&mut digest_only.tap(&text[..]), &mut std::io::sink()).unwrap();
        assert_eq!(digest_only.finish().unwrap(), (sha256(&text), None));
        let mut passing = InputRecord::passing();
        let mut read = Vec::new();
        passing.tap(&text[..]).read_to_end(&mut read).unwrap();
        assert_eq!(read, text);
        assert_eq!(passing.finish().unwrap(), (String::new(), None));
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn kept_inputs_are_masked_in_every_format() {
        let mask = Mask::parse(&["attributes.email".to_owned(), "name".to_owned()]).unwrap();
        let pack = |text: &str| zstd::bulk::compress(text.as_bytes(), LEVEL).unwrap();
        let open = |kept: Vec<u8>| String::from_utf8(unpack(&kept).unwrap()).unwrap();
        let lines = "{\"id\":\"a\",\"name\":\"Acme\",\"attributes\":{\"email\":\"x@acme.io\"}}\n{\"id\":\"b\"}\n";
        assert_eq!(
            open(masked(&pack(lines), DecisionInput::JsonLines, &mask).unwrap()),
            "{\"attributes\":{},\"id\":\"a\"}\n{\"id\":\"b\"}\n"
        );
        let csv = "id,name,attribute.email\na,Acme,x@acme.io\n";
        assert_eq!(
            open(masked(&pack(csv), DecisionInput::Csv, &mask).unwrap()),
            "id,name,attribute.email\na,,\n"
        );
        for body in [
            "{\"accounts\":[{\"id\":\"a\",\"name\":\"Acme\"}]}",
            "[{\"id\":\"a\",\"name\":\"Acme\"}]",
            "{\"id\":\"a\",\"name\":\"Acme\"}",
        ] {
            let kept = open(masked(&pack(body), DecisionInput::Request, &mask).unwrap());
            assert!(!kept.contains("Acme"), "{kept}");
            assert!(kept.contains("\"id\":\"a\""), "{kept}");
        }
        assert_eq!(
            open(masked(&pack("{\"name\":\"Acme\""), DecisionInput::Request, &mask).unwrap()),
            headway_core::masking::WITHHELD_LINE
        );
    }

    #[test]
    fn request_bodies_hold_one_account_or_many() {
        assert!(request_accounts(b"{\"id\":\"a\"}").unwrap().1);
        assert_eq!(request_accounts(b"[{},{}]").unwrap().0.len(), 2);
        assert_eq!(request_accounts(b"{\"accounts\":[{}]}").unwrap().0.len(), 1);
        assert_eq!(
            request_accounts(b"{\"accounts\":1}").unwrap_err(),
            "`accounts` must be an array"
        );
        assert!(
            request_accounts(b"3")
                .unwrap_err()
                .starts_with("send an account")
        );
        assert!(
            request_accounts(b"{")
                .unwrap_err()
                .starts_with("the body is not JSON")
        );
    }
}
