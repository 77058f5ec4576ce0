//! Running the `headway` binary from the repository root.
#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Child, Command, Output};

use serde_json::Value;

use headway_tests::repo_root;

pub fn headway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headway"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("headway runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn write_temp(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A `headway serve` child, killed when dropped (a failing test leaves no
/// server behind).
pub struct Served {
    pub child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `headway serve` of the repository's tenants on any free port, with `args`
/// added. `saas-acme`'s token is `t0ken`; the
/// variable `HEADWAY_OPERATOR_TOKEN` holds `operator`.
pub fn serve(args: &[&str]) -> Served {
    serve_tenants(
        "tenants",
        args,
        &[
            ("HEADWAY_TOKEN_SAAS_ACME", "t0ken"),
            ("HEADWAY_OPERATOR_TOKEN", "operator"),
        ],
    )
}

/// `headway serve` of the tenants folder `tenants` (relative to the
/// repository root, or absolute) with `args` added and `env` set.
pub fn serve_tenants(tenants: &str, args: &[&str], env: &[(&str, &str)]) -> Served {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_headway"))
        .args(["serve", "--tenants", tenants, "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo_root())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("headway serve starts");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve says where it listens").unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.split(':').take(2).collect::<Vec<_>>().join(":");
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Served { child, addr }
}

/// One HTTP/1.1 request as `saas-acme` over a fresh connection: status and
/// JSON body. The body's type follows the path (CSV for a ledger, a component
/// for a plugin, JSON for scoring, JSON Lines otherwise).
pub fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    try_http(addr, method, path, body).expect("the request is answered")
}

/// [`http`], with a refused or broken connection as an error.
pub fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Value)> {
    try_http_as("t0ken", addr, method, path, body)
}

/// [`try_http`] with another bearer token.
pub fn try_http_as(
    token: &str,
    addr: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Value)> {
    let kind = if path.ends_with("/ledger") {
        "text/csv"
    } else if path.ends_with("/plugin") {
        "application/wasm"
    } else if path.ends_with("/score") {
        "application/json"
    } else {
        "application/x-ndjson"
    };
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text}")))?;
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status: {head}")))?;
    Ok((
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    ))
}
