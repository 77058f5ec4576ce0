//! A JSON array of accounts read as JSON Lines, as it streams: each top-level
//! element becomes one line (element N is "line" N), so a book sent as one
//! array needs no more memory than the same book sent as lines.

use std::io::{self, Read};

/// Where the reader is in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the opening `[` (a byte order mark is skipped).
    Start,
    /// Before an element; `comma`: right after a `,` (so `]` is not allowed).
    Between { comma: bool },
    /// Inside an object or array element.
    Nested {
        depth: u32,
        string: bool,
        escape: bool,
    },
    /// Inside a top-level string element.
    Text { escape: bool },
    /// Inside a top-level number or literal.
    Bare,
    /// After an element, before `,` or `]`.
    After,
    /// After the closing `]`.
    End,
}

/// Reads `[{...}, {...}]` from `inner` and yields `{...}\n{...}\n`. Newlines
/// inside an element (pretty-printed JSON) become spaces: a JSON string cannot
/// hold a raw newline, so nothing is lost. Structure errors (no `[`, a missing
/// `,`, text after `]`, a cut-off array) fail the read; what is inside an
/// element is left to the parser, which names the element.
pub struct JsonArrayLines<R> {
    inner: R,
    at: At,
    input: Vec<u8>,
    output: Vec<u8>,
    shown: usize,
}

impl<R: Read> JsonArrayLines<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            at: At::Start,
            input: vec![0; 64 << 10],
            output: Vec::with_capacity(64 << 10),
            shown: 0,
        }
    }

    fn feed(&mut self, b: u8) -> io::Result<()> {
        let space = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        let out = &mut self.output;
        self.at = match self.at {
            At::Start if space || matches!(b, 0xEF | 0xBB | 0xBF) => At::Start,
            At::Start if b == b'[' => At::Between { comma: false },
            At::Start => return Err(invalid("the body is not a JSON array: send `[{...}, ...]`")),
            At::Between { .. } | At::After | At::End if space => self.at,
            At::Between { comma: false } if b == b']' => At::End,
            At::Between { comma: true } if b == b']' => {
                return Err(invalid("a `,` before the JSON array's closing `]`"));
            }
            At::Between { .. } => {
                out.push(b);
                match b {
                    b'{' | b'[' => At::Nested {
                        depth: 1,
                        string: false,
                        escape: false,
                    },
                    b'"' => At::Text { escape: false },
                    _ => At::Bare,
                }
            }
            At::Nested {
                depth,
                string: true,
                escape,
            } => {
                out.push(b);
                At::Nested {
                    depth,
                    string: escape || b != b'"',
                    escape: !escape && b == b'\\',
                }
            }
            At::Nested { depth, .. } => match b {
                b'"' => {
                    out.push(b);
                    At::Nested {
                        depth,
                        string: true,
                        escape: false,
                    }
                }
                b'{' | b'[' => {
                    out.push(b);
                    At::Nested {
                        depth: depth + 1,
                        string: false,
                        escape: false,
                    }
                }
                b'}' | b']' if depth == 1 => {
                    out.extend_from_slice(&[b, b'\n']);
                    At::After
                }
                b'}' | b']' => {
                    out.push(b);
                    At::Nested {
                        depth: depth - 1,
                        string: false,
                        escape: false,
                    }
                }
                b'\n' | b'\r' => {
                    out.push(b' ');
                    self.at
                }
                _ => {
                    out.push(b);
                    self.at
                }
            },
            At::Text { escape } => {
                out.push(b);
                if !escape && b == b'"' {
                    out.push(b'\n');
                    At::After
                } else {
                    At::Text {
                        escape: !escape && b == b'\\',
                    }
                }
            }
            At::Bare if b == b',' || b == b']' || space => {
                out.push(b'\n');
                match b {
                    b',' => At::Between { comma: true },
                    b']' => At::End,
                    _ => At::After,
                }
            }
            At::Bare => {
                out.push(b);
                At::Bare
            }
            At::After if b == b',' => At::Between { comma: true },
            At::After if b == b']' => At::End,
            At::After => {
                return Err(invalid(format!(
                    "expected `,` or `]` after an account, found `{}`",
                    b.escape_ascii()
                )));
            }
            At::End => return Err(invalid("text after the JSON array's closing `]`")),
        };
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl<R: Read> Read for JsonArrayLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.shown == self.output.len() {
            self.output.clear();
            self.shown = 0;
            let n = self.inner.read(&mut self.input)?;
            if n == 0 {
                return match self.at {
                    At::End => Ok(0),
                    _ => Err(invalid("the JSON array ends before its closing `]`")),
                };
            }
            for i in 0..n {
                self.feed(self.input[i])?;
            }
        }
        let n = buf.len().min(self.output.len() - self.shown);
        buf[..n].copy_from_slice(&self.output[self.shown..self.shown + n]);
        self.shown += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> io::Result<String> {
        let mut out = String::new();
        // A tiny inner buffer: state must survive every split.
        let mut reader = JsonArrayLines::new(io::BufReader::with_capacity(3, text.as_bytes()));
        reader.input = vec![0; 3];
        reader.read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn each_element_becomes_one_line() {
        let text = "\u{feff} [ {\"id\": \"a\", \"tags\": [1, {\"x\": \"]}\\\"\"}]},\n  {\n \"id\":\n \"b\"\n}, 7 , \"s,]\" , null ]\n";
        assert_eq!(
            lines(text).unwrap(),
            "{\"id\": \"a\", \"tags\": [1, {\"x\": \"]}\\\"\"}]}\n{  \"id\":  \"b\" }\n7\n\"s,]\"\nnull\n"
        );
        assert_eq!(lines("[]").unwrap(), "");
        assert_eq!(lines(" [ ] ").unwrap(), "");
    }

    #[test]
    fn a_broken_array_names_what_is_wrong() {
        let cases = [
            ("{\"id\": 1}", "not a JSON array"),
            ("[{\"id\": 1} {\"id\": 2}]", "expected `,` or `]`"),
            ("[{\"id\": 1},]", "a `,` before"),
            ("[{\"id\": 1}] x", "text after"),
            ("[{\"id\": 1}", "ends before its closing"),
            ("", "ends before its closing"),
        ];
        for (text, expected) in cases {
            let err = lines(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
