//! Where accounts come from: a byte stream (a file, a request body) cut into
//! chunks of whole lines, so a run holds a few chunks at a time, never the book.

use std::io::{self, BufRead};

use headway_core::{AccountBatch, CsvColumns, InputDefaults, InputError, Reads};

/// The longest line accepted. A longer one (a runaway export, `/dev/zero`) is
/// an error for that line; reading goes on at the next line.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The text format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON account object per line.
    JsonLines,
    /// A header row, then one account per row.
    Csv,
}

impl InputFormat {
    /// The format a file name says (`.jsonl`, `.ndjson`, `.json`, `.csv`).
    pub fn of_path(path: &std::path::Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Some(Self::Csv),
            Some("jsonl" | "ndjson" | "json") => Some(Self::JsonLines),
            _ => None,
        }
    }
}

/// A stream of accounts with a name for messages.
pub struct Source<R> {
    name: String,
    reader: R,
    format: InputFormat,
    /// The next line's number.
    line: usize,
    csv: Option<CsvColumns>,
    done: bool,
}

/// Whole lines of a source, and what was wrong with lines that could not even
/// be read as text.
pub(crate) struct Chunk {
    pub seq: u64,
    pub first_line: usize,
    pub text: String,
    pub unreadable: Vec<InputError>,
}

impl<R: BufRead> Source<R> {
    /// A source named `name` (a file name, "request body") in `format`.
    pub fn new(name: impl Into<String>, reader: R, format: InputFormat) -> Self {
        Self {
            name: name.into(),
            reader,
            format,
            line: 1,
            csv: None,
            done: false,
        }
    }

    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it reads.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Reads the CSV header, if the format has one. An unusable header is an
    /// input error at line 1 and the end of the source.
    pub(crate) fn start(&mut self) -> io::Result<Option<InputError>> {
        // A UTF-8 byte order mark (spreadsheet exports) is not part of the data.
        let head = loop {
            match self.reader.fill_buf() {
                Ok(b) => break b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if head.starts_with(b"\xEF\xBB\xBF") {
            self.reader.consume(3);
        }
        if self.format != InputFormat::Csv {
            return Ok(None);
        }
        let mut header = Vec::new();
        let outcome = read_line(&mut self.reader, &mut header)?;
        self.line = 2;
        let text = match (outcome, std::str::from_utf8(&header)) {
            (LineRead::TooLong, _) => Err("the header row is longer than 16 MiB".to_owned()),
            (_, Err(e)) => Err(format!("the header row is not UTF-8: {e}")),
            (_, Ok(text)) => Ok(text),
        };
        let columns = text
            .map_err(|message| InputError {
                source_name: self.name.clone(),
                line: 1,
                field: None,
                account_id: None,
                message,
            })
            .and_then(|text| CsvColumns::from_header(&self.name, text));
        match columns {
            Ok(c) => {
                self.csv = Some(c);
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Ok(Some(e))
            }
        }
    }

    /// The next `rows` lines (or up to `max_bytes`), or `None` at the end.
    pub(crate) fn next_chunk(
        &mut self,
        seq: u64,
        rows: usize,
        max_bytes: usize,
    ) -> io::Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        let mut chunk = Chunk {
            seq,
            first_line: self.line,
            text: String::new(),
            unreadable: Vec::new(),
        };
        let mut bytes = Vec::new();
        let mut lines = 0;
        while lines < rows && chunk.text.len() < max_bytes {
            bytes.clear();
            let outcome = self.read_record(&mut bytes)?;
            if outcome == LineRead::End {
                self.done = true;
                break;
            }
            let first = self.line;
            let newlines = bytes.iter().filter(|b| **b == b'\n').count().max(1);
            self.line += newlines;
            lines += 1;
            let problem = match (outcome, std::str::from_utf8(&bytes)) {
                (LineRead::TooLong, _) => Some("the line is longer than 16 MiB".to_owned()),
                (_, Err(e)) => Some(format!("the line is not UTF-8: {e}")),
                (_, Ok(text)) => {
                    chunk.text.push_str(text);
                    if !text.ends_with('\n') {
                        chunk.text.push('\n');
                    }
                    None
                }
            };
            if let Some(message) = problem {
                chunk.unreadable.push(InputError {
                    source_name: self.name.clone(),
                    line: first,
                    field: None,
                    account_id: None,
                    message,
                });
                // Keep line numbers: the parser sees blank lines in its place.
                for _ in 0..newlines {
                    chunk.text.push('\n');
                }
            }
        }
        Ok((lines > 0 || !chunk.unreadable.is_empty()).then_some(chunk))
    }

    /// One line, or for CSV one record (a quoted cell may hold newlines).
    fn read_record(&mut self, out: &mut Vec<u8>) -> io::Result<LineRead> {
        let mut outcome = read_line(&mut self.reader, out)?;
        if self.format == InputFormat::Csv {
            while outcome == LineRead::Line && out.iter().filter(|b| **b == b'"').count() % 2 == 1 {
                if out.len() > MAX_LINE_BYTES {
                    return Ok(LineRead::TooLong);
                }
                match read_line(&mut self.reader, out)? {
                    LineRead::End => break,
                    next => outcome = next,
                }
            }
        }
        Ok(outcome)
    }

    /// Parses a chunk's text into a batch (called on a worker thread).
    pub(crate) fn parser(&self) -> Parser {
        Parser {
            name: self.name.clone(),
            csv: self.csv.clone(),
        }
    }
}

/// What a worker needs to parse chunks of one source.
#[derive(Clone)]
pub(crate) struct Parser {
    name: String,
    csv: Option<CsvColumns>,
}

impl Parser {
    pub fn parse(
        &self,
        chunk: &Chunk,
        defaults: &InputDefaults,
        reads: Reads,
    ) -> (AccountBatch, Vec<InputError>) {
        let (batch, mut errors) = match &self.csv {
            Some(columns) => {
                columns.parse(&self.name, &chunk.text, chunk.first_line, defaults, reads)
            }
            None => headway_core::parse_jsonl_batch(
                &self.name,
                &chunk.text,
                chunk.first_line,
                defaults,
                reads,
            ),
        };
        if !chunk.unreadable.is_empty() {
            errors.extend(chunk.unreadable.iter().cloned());
            errors.sort_by_key(|e| e.line);
        }
        (batch, errors)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineRead {
    Line,
    TooLong,
    End,
}

/// Appends one line (with its `\n`) to `out`. A line over [`MAX_LINE_BYTES`] is
/// skipped to its end, keeping at most that much.
fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<LineRead> {
    let start = out.len();
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if too_long {
                LineRead::TooLong
            } else if out.len() == start {
                LineRead::End
            } else {
                LineRead::Line
            });
        }
        let (take, found) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            let room = MAX_LINE_BYTES.saturating_sub(out.len() - start);
            if take > room {
                too_long = true;
                out.truncate(start);
            } else {
                out.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        if found {
            if too_long {
                out.push(b'\n');
                return Ok(LineRead::TooLong);
            }
            return Ok(LineRead::Line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &[u8], format: InputFormat, rows: usize) -> Vec<(usize, String, usize)> {
        let mut source = Source::new("t", text, format);
        assert!(source.start().unwrap().is_none());
        let mut out = Vec::new();
        while let Some(c) = source.next_chunk(0, rows, usize::MAX).unwrap() {
            out.push((c.first_line, c.text, c.unreadable.len()));
        }
        out
    }

    #[test]
    fn lines_are_grouped_and_numbered() {
        let got = chunks(b"a\nb\n\nc", InputFormat::JsonLines, 2);
        assert_eq!(
            got,
            [(1, "a\nb\n".to_owned(), 0), (3, "\nc\n".to_owned(), 0)]
        );
        assert!(chunks(b"", InputFormat::JsonLines, 2).is_empty());
    }

    #[test]
    fn a_quoted_csv_cell_may_span_lines() {
        let got = chunks(
            b"id,stage,arr,start_date\n\"a\nb\"\nc\n",
            InputFormat::Csv,
            1,
        );
        assert_eq!(
            got,
            [(2, "\"a\nb\"\n".to_owned(), 0), (4, "c\n".to_owned(), 0)]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let got = chunks(b"\xEF\xBB\xBF{}\n", InputFormat::JsonLines, 10);
        assert_eq!(got, [(1, "{}\n".to_owned(), 0)]);
        let got = chunks(
            b"\xEF\xBB\xBFid,stage,arr,start_date\nx\n",
            InputFormat::Csv,
            10,
        );
        assert_eq!(got, [(2, "x\n".to_owned(), 0)]);
    }

    #[test]
    fn bad_utf8_is_an_error_at_its_line_and_keeps_numbering() {
        let got = chunks(b"a\n\xff\xfe\nc\n", InputFormat::JsonLines, 10);
        assert_eq!(got, [(1, "a\n\nc\n".to_owned(), 1)]);
    }

    #[test]
    fn a_line_past_the_cap_is_skipped_not_buffered() {
        let mut text = vec![b'x'; MAX_LINE_BYTES + 10];
        text.extend_from_slice(b"\nnext\n");
        let mut out = Vec::new();
        let mut reader = &text[..];
        assert_eq!(read_line(&mut reader, &mut out).unwrap(), LineRead::TooLong);
        assert_eq!(out, b"\n");
        out.clear();
        assert_eq!(read_line(&mut reader, &mut out).unwrap(), LineRead::Line);
        assert_eq!(out, b"next\n");
    }
}
