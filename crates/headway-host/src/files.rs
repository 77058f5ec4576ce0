//! Reading the files an operator's tenant folder points at, safely: a tenant
//! folder is written by someone else, and `plugin = "/dev/zero"`, a named pipe
//! or a symlinked 10 GB file must fail that tenant with a clear error, not hang
//! or exhaust the process that serves every tenant.

use std::io::Read;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The operating system refused (missing, no permission, I/O error).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The path is not a regular file.
    #[error("it is {0}, not a regular file")]
    NotAFile(&'static str),
    /// The file is larger than allowed.
    #[error("it is {bytes} bytes, more than the {limit} allowed")]
    TooLarge {
        /// Its size, or how much was read before stopping.
        bytes: u64,
        /// The cap.
        limit: u64,
    },
}

/// Reads a regular file of at most `limit` bytes. The kind is checked before
/// opening (opening a pipe waits for a writer) and the size before and during
/// the read (a file that grows while it is read is cut off, not followed).
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path, limit)?;
    let meta = file.metadata()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            bytes: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Opens a regular file of at most `limit` bytes, checking the kind before
/// opening (opening a pipe waits for a writer) and again on the open file (the
/// path may have been swapped in between).
pub fn open_regular(path: &Path, limit: u64) -> Result<std::fs::File, FileError> {
    check(&std::fs::metadata(path)?, limit)?;
    let file = std::fs::File::open(path)?;
    check(&file.metadata()?, limit)?;
    Ok(file)
}

/// [`read_capped`] for a text file: invalid UTF-8 is an error.
pub fn read_text_capped(path: &Path, limit: u64) -> Result<String, FileError> {
    String::from_utf8(read_capped(path, limit)?).map_err(|e| {
        FileError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        ))
    })
}

fn check(meta: &std::fs::Metadata, limit: u64) -> Result<(), FileError> {
    if !meta.is_file() {
        return Err(FileError::NotAFile(file_kind(meta)));
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge {
            bytes: meta.len(),
            limit,
        });
    }
    Ok(())
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "something else"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let cases: Vec<(&Path, &str)> = vec![
            (Path::new("/dev/zero"), "it is a device, not a regular file"),
            (dir.path(), "it is a directory, not a regular file"),
        ];
        for (path, expected) in cases {
            let err = read_capped(path, 1 << 20).unwrap_err().to_string();
            assert_eq!(err, expected);
        }
        if made.is_ok_and(|s| s.success()) {
            // Refused before it is opened: opening a pipe would wait for a writer.
            let err = read_capped(&fifo, 1 << 20).unwrap_err().to_string();
            assert_eq!(err, "it is a named pipe, not a regular file");
        }
        let big = dir.path().join("big.wasm");
        std::fs::write(&big, vec![0u8; 2048]).unwrap();
        let err = read_capped(&big, 1024).unwrap_err().to_string();
        assert_eq!(err, "it is 2048 bytes, more than the 1024 allowed");
        assert_eq!(read_capped(&big, 2048).unwrap().len(), 2048);
        let missing = read_capped(&dir.path().join("nope.wasm"), 10).unwrap_err();
        assert!(matches!(missing, FileError::Io(_)));
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, b"id = \"a\xff\"").unwrap();
        let err = read_text_capped(&path, 100).unwrap_err().to_string();
        assert_eq!(err, "not UTF-8 text (byte 7)");
        std::fs::write(&path, "id = \"é\"").unwrap();
        assert_eq!(read_text_capped(&path, 100).unwrap(), "id = \"é\"");
    }
}
