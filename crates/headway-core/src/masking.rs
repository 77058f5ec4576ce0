//! Masking of named account fields in a kept input (`[history] mask`): what a
//! tenant does not want stored (a contact's email, a name) is removed from
//! JSON and emptied in CSV before the decision log keeps the input.
//!
//! A mask names fields the way the JSON input does: a top-level key (`name`,
//! `attributes`) or one entry of a named map (`attributes.email`,
//! `measures.nps`, `outcomes.otif`). A masked measure is masked in `history`
//! too: its past is as telling as its present.

use std::io::{self, BufRead, Write};

use serde_json::{Map, Value};

/// Fields an account cannot be scored or replayed without.
const REQUIRED: &[&str] = &["id", "stage", "arr", "start_date", "as_of"];
/// Top-level fields that may be masked whole.
const WHOLE: &[&str] = &[
    "name",
    "segment",
    "plan",
    "renewal_date",
    "measures",
    "history",
    "outcomes",
    "attributes",
    "milestones_reached",
];
/// Maps whose single entries may be masked.
const MAPS: &[&str] = &["measures", "outcomes", "attributes"];

/// What an unreadable line becomes in a masked input: it may hold a masked
/// field, and it cannot be masked field by field. Still not JSON, so a replay
/// rejects it as the run did (with another message).
pub const WITHHELD_LINE: &str = "<line withheld by the tenant's mask: not readable JSON>";

/// One masked field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    /// A top-level key.
    Whole(String),
    /// One entry of `measures`, `outcomes` or `attributes`.
    Entry(String, String),
}

/// The fields a tenant masks; empty masks nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mask {
    fields: Vec<Field>,
}

impl Mask {
    /// Reads `[history] mask` entries; the error names the entry and why.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut fields = Vec::new();
        for entry in entries {
            let field = match entry.split_once('.') {
                _ if REQUIRED.contains(&entry.as_str()) => {
                    return Err(format!(
                        "`{entry}` cannot be masked: an account is not scored without it"
                    ));
                }
                None if WHOLE.contains(&entry.as_str()) => Field::Whole(entry.clone()),
                Some((map, key)) if MAPS.contains(&map) && !key.is_empty() => {
                    Field::Entry(map.to_owned(), key.to_owned())
                }
                _ => {
                    return Err(format!(
                        "`{entry}` is not an account field: mask one of {}, or an entry like `attributes.email`, `measures.nps`, `outcomes.otif`",
                        WHOLE.join(", ")
                    ));
                }
            };
            fields.push(field);
        }
        Ok(Self { fields })
    }

    /// True when nothing is masked.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Removes the masked fields from one account object; true when any was there.
    pub fn account(&self, value: &mut Value) -> bool {
        let Value::Object(account) = value else {
            return false;
        };
        let mut removed = false;
        for field in &self.fields {
            match field {
                Field::Whole(key) => {
                    removed |= account.remove(key).is_some();
                    if key == "measures" {
                        removed |= account.remove("history").is_some();
                    }
                }
                Field::Entry(map, key) if map == "outcomes" => {
                    if let Some(Value::Array(outcomes)) = account.get_mut("outcomes") {
                        let before = outcomes.len();
                        outcomes.retain(|o| o.get("name").and_then(Value::as_str) != Some(key));
                        removed |= outcomes.len() != before;
                    }
                }
                Field::Entry(map, key) => {
                    removed |= remove_entry(account, map, key);
                    if map == "measures" {
                        removed |= remove_entry(account, "history", key);
                    }
                }
            }
        }
        removed
    }

    /// One JSON Lines line, masked: the line itself when it holds no masked
    /// field (byte for byte, so a replay reads what the run read), else the
    /// object without them.
    pub fn json_line<'a>(&self, line: &'a str) -> std::borrow::Cow<'a, str> {
        if self.is_empty() || line.trim().is_empty() {
            return line.into();
        }
        match serde_json::from_str::<Value>(line) {
            Ok(mut value) => {
                if self.account(&mut value) {
                    serde_json::to_string(&value)
                        .expect("a JSON value serialises")
                        .into()
                } else {
                    line.into()
                }
            }
            Err(_) => WITHHELD_LINE.into(),
        }
    }

    /// Copies JSON Lines from `input` to `out`, masked line by line.
    pub fn json_lines(&self, input: impl BufRead, mut out: impl Write) -> io::Result<()> {
        for line in input.split(b'\n') {
            let line = line?;
            let text = String::from_utf8_lossy(&line);
            let (text, cr) = match text.strip_suffix('\r') {
                Some(t) => (t, "\r"),
                None => (&*text, ""),
            };
            writeln!(out, "{}{cr}", self.json_line(text))?;
        }
        Ok(())
    }

    /// True when this CSV column (as the header names it) is masked.
    pub fn csv_column(&self, column: &str) -> bool {
        self.fields.iter().any(|field| match field {
            Field::Whole(key) => match csv_prefix(key) {
                Some(prefix) => column.starts_with(prefix),
                None => column == key,
            },
            Field::Entry(map, key) => {
                // An outcome's target and direction are the outcome's too.
                let suffixes: &[&str] = match map.as_str() {
                    "outcomes" => &["", ".target", ".direction"],
                    _ => &[""],
                };
                csv_prefix(map)
                    .and_then(|prefix| column.strip_prefix(prefix))
                    .is_some_and(|rest| suffixes.iter().any(|s| rest.strip_suffix(s) == Some(key)))
            }
        })
    }

    /// Copies CSV from `input` to `out` with the masked columns' cells emptied
    /// (the header kept, so the file still reads).
    pub fn csv(&self, input: impl io::Read, out: impl Write) -> io::Result<()> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(out);
        let mut masked: Option<Vec<bool>> = None;
        let mut record = csv::ByteRecord::new();
        while reader
            .read_byte_record(&mut record)
            .map_err(io::Error::other)?
        {
            match &masked {
                None => {
                    let columns = record
                        .iter()
                        .map(|c| self.csv_column(String::from_utf8_lossy(c).trim()))
                        .collect();
                    writer.write_byte_record(&record)?;
                    masked = Some(columns);
                }
                Some(columns) => {
                    let cells = record.iter().enumerate().map(|(i, cell)| {
                        if columns.get(i).copied().unwrap_or(false) {
                            &b""[..]
                        } else {
                            cell
                        }
                    });
                    writer.write_record(cells)?;
                }
            }
        }
        writer.flush()
    }

    /// The entries as written in tenant.toml.
    pub fn names(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| match f {
                Field::Whole(key) => key.clone(),
                Field::Entry(map, key) => format!("{map}.{key}"),
            })
            .collect()
    }
}

/// The CSV columns of a JSON map start with this (`measure.nps`).
fn csv_prefix(map: &str) -> Option<&'static str> {
    match map {
        "measures" => Some("measure."),
        "attributes" => Some("attribute."),
        "outcomes" => Some("outcome."),
        "milestones_reached" => Some("reached."),
        _ => None,
    }
}

fn remove_entry(account: &mut Map<String, Value>, map: &str, key: &str) -> bool {
    match account.get_mut(map) {
        Some(Value::Object(entries)) => entries.remove(key).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(entries: &[&str]) -> Mask {
        Mask::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn required_and_unknown_fields_are_refused_by_name() {
        for (entry, says) in [
            ("id", "`id` cannot be masked"),
            ("arr", "`arr` cannot be masked"),
            ("email", "`email` is not an account field"),
            ("stage.x", "`stage.x` is not an account field"),
            ("attributes.", "`attributes.` is not an account field"),
        ] {
            let error = Mask::parse(&[entry.to_owned()]).unwrap_err();
            assert!(error.contains(says), "{entry}: {error}");
        }
        assert!(Mask::parse(&[]).unwrap().is_empty());
        assert_eq!(
            mask(&["name", "attributes.email"]).names(),
            ["name", "attributes.email"]
        );
    }

    #[test]
    fn json_fields_are_removed_everywhere_they_appear() {
        let m = mask(&["name", "attributes.email", "measures.nps", "outcomes.otif"]);
        let line = r#"{"id":"a","name":"Acme","stage":"adopt","arr":1.5,"start_date":"2024-01-01","measures":{"nps":9,"seats":3},"history":{"nps":[{"date":"2024-02-01","value":7}],"seats":[]},"attributes":{"email":"x@acme.io","tier":"gold"},"outcomes":[{"name":"otif","value":0.9},{"name":"cost","value":2}]}"#;
        let masked: Value = serde_json::from_str(&m.json_line(line)).unwrap();
        let expected: Value = serde_json::from_str(r#"{"id":"a","stage":"adopt","arr":1.5,"start_date":"2024-01-01","measures":{"seats":3},"history":{"seats":[]},"attributes":{"tier":"gold"},"outcomes":[{"name":"cost","value":2}]}"#).unwrap();
        assert_eq!(masked, expected);
        assert!(!m.json_line(line).contains("x@acme.io"));
    }

    #[test]
    fn json_lines_without_masked_fields_stay_byte_for_byte() {
        let m = mask(&["attributes.email"]);
        let line = r#"{"arr": 1.50, "id":"a"}"#;
        assert_eq!(m.json_line(line), line);
        assert_eq!(m.json_line("   "), "   ");
        assert_eq!(
            m.json_line(r#"{"id":"a","attributes":{"email":"x@y"#),
            WITHHELD_LINE
        );
        let mut out = Vec::new();
        m.json_lines(&b"{\"id\":\"a\"}\r\nnot json\n"[..], &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{{\"id\":\"a\"}}\r\n{WITHHELD_LINE}\n")
        );
        assert_eq!(Mask::default().json_line("not json"), "not json");
    }

    #[test]
    fn csv_cells_of_masked_columns_are_emptied() {
        let m = mask(&["name", "attributes.email", "outcomes.otif", "measures"]);
        let input = "id,name,measure.nps,attribute.email,attribute.tier,outcome.otif,outcome.otif.target,outcome.cost\n\
                     a,\"Acme, Inc\",9,x@acme.io,gold,0.9,0.95,2\n\
                     b,\"Line\nbreak\",7,y@b.io,\n";
        let mut out = Vec::new();
        m.csv(input.as_bytes(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,name,measure.nps,attribute.email,attribute.tier,outcome.otif,outcome.otif.target,outcome.cost\n\
             a,,,,gold,,,2\n\
             b,,,,\n"
        );
        assert!(!m.csv_column("outcome.otifx"));
        assert!(!m.csv_column("id"));
    }
}
