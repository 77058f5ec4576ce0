//! Commands for plugin authors: `check`, `test`, `explain`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Exit;
use anyhow::{Context, Result, bail};
use headway_core::fixtures::{differences, parse_fixtures};
use headway_core::{Account, Fit, InputDefaults};
use headway_host::{ContractVersion, ImportVerdict, LoadOptions, Plugin};

use crate::output::money;

/// `headway check <plugin.wasm>`: what the host thinks of a component.
pub fn check(path: &Path) -> Result<Exit> {
    let bytes = headway_host::read_plugin(path)?;
    let runtime = crate::plugin_runtime()?;
    let origin = path.display().to_string();
    let mut out = crate::output::human_stdout();
    writeln!(
        out,
        "file       {origin} ({} bytes)",
        money(bytes.len() as f64)
    )?;
    let interface = match runtime.inspect(&bytes, &origin) {
        Ok(i) => i,
        Err(e) => {
            writeln!(out, "result     REFUSED: {}", headway_host::error_chain(&e))?;
            return Ok(Exit::Failure);
        }
    };
    match interface.contract() {
        Some(ContractVersion::LATEST) => {
            writeln!(
                out,
                "contract   {} (supported, latest)",
                ContractVersion::LATEST
            )?;
        }
        Some(older) => writeln!(
            out,
            "contract   {older} (supported through an adapter; rebuild against {} to drop it)",
            ContractVersion::LATEST.number()
        )?,
        None => writeln!(
            out,
            "contract   none supported; exports: {}",
            interface.exports.join(", ")
        )?,
    }
    let sealed = interface.sealed();
    if sealed {
        writeln!(
            out,
            "runtime    sealed: a language runtime; files, sockets and http have nothing behind them"
        )?;
        writeln!(
            out,
            "fuel       {} instructions per account unless the tenant sets `fuel_per_account`",
            headway_host::Limits::default().fuel_per_account(true)
        )?;
    }
    for (i, (name, verdict)) in interface.imports.iter().enumerate() {
        let label = if i == 0 { "imports" } else { "" };
        let verdict = match verdict {
            ImportVerdict::Contract => "contract".to_owned(),
            ImportVerdict::InertWasi if sealed => "sealed WASI".to_owned(),
            ImportVerdict::InertWasi => "inert WASI, linked as a trap".to_owned(),
            ImportVerdict::Grantable(c) if sealed => format!(
                "{} unless the tenant grants `{}`",
                match c {
                    headway_host::Capability::Clock => "stopped at a fixed instant",
                    headway_host::Capability::Random => "from a fixed seed",
                },
                c.key()
            ),
            ImportVerdict::Grantable(c) => {
                format!("refused unless the tenant grants `{}`", c.key())
            }
            ImportVerdict::Sealed => "sealed: nothing behind it".to_owned(),
            ImportVerdict::Refused => "REFUSED: never granted".to_owned(),
        };
        writeln!(out, "{label:<10} {name:<40} {verdict}")?;
    }
    match runtime.load(&bytes, &origin, &LoadOptions::default()) {
        Ok(plugin) => {
            let info = plugin.info();
            writeln!(
                out,
                "describe   {} {}: {} bands, {} factors, {} milestones",
                info.name,
                info.version,
                info.bands.len(),
                info.factors.len(),
                info.milestones.len()
            )?;
            match &info.reads {
                Some(names) => writeln!(out, "reads      {}", names.join(", "))?,
                None => writeln!(out, "reads      every column (nothing declared)")?,
            }
            writeln!(out, "digest     {}", plugin.plugin_ref().digest)?;
            writeln!(out, "result     ok")?;
            Ok(Exit::Success)
        }
        Err(e) => {
            writeln!(out, "result     REFUSED: {}", headway_host::error_chain(&e))?;
            Ok(Exit::Failure)
        }
    }
}

/// A plugin with its tenant's settings: from a tenant folder, or a bare file.
fn plugin_for(tenant: Option<&Path>, plugin: Option<&Path>) -> Result<(Plugin, Option<PathBuf>)> {
    match (tenant, plugin) {
        (Some(dir), _) => Ok((crate::load_tenant(dir)?.1, Some(dir.join("fixtures.jsonl")))),
        (None, Some(file)) => Ok((
            crate::plugin_runtime()?.load_file(file, &LoadOptions::default())?,
            None,
        )),
        (None, None) => bail!("give --tenant <dir> or a plugin file"),
    }
}

/// `headway test`: run golden fixtures through the real sandbox, one case at a time
/// so each reports its own instructions and memory.
pub fn test(tenant: Option<&Path>, plugin: Option<&Path>, fixtures: Option<&Path>) -> Result<Exit> {
    let (plugin, default_fixtures) = plugin_for(tenant, plugin)?;
    let path = fixtures
        .map(Path::to_path_buf)
        .or(default_fixtures)
        .context("give --fixtures <file>")?;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let (cases, errors) = parse_fixtures(&path.display().to_string(), &text);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if cases.is_empty() && errors.is_empty() {
        bail!("`{}` holds no fixtures", path.display());
    }
    let mut out = crate::output::human_stdout();
    let width = cases
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let (mut passed, mut failed) = (0, errors.len());
    for case in &cases {
        let report = plugin.assess(std::slice::from_ref(&case.account), 1);
        let result = &report.results[0];
        let diff = differences(&case.expect, result);
        let outcome = match result {
            Ok(a) => format!("{:.2} {}", a.score, a.band),
            Err(e) => format!("error {}", e.code.as_deref().unwrap_or("")),
        };
        let cost = format!(
            "{} instructions, {} KiB memory",
            money(report.fuel_used as f64),
            money((report.peak_memory_bytes >> 10) as f64)
        );
        if diff.is_empty() {
            passed += 1;
            writeln!(out, "PASS  {:<width$}  {outcome:<22}  {cost}", case.name)?;
        } else {
            failed += 1;
            writeln!(out, "FAIL  {:<width$}  {outcome:<22}  {cost}", case.name)?;
            for line in diff {
                writeln!(out, "      line {}: {line}", case.line)?;
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// `headway explain`: one account's score, factor by factor, with the plugin's log.
pub fn explain(tenant: &Path, account_id: &str, accounts: &Path) -> Result<()> {
    let (plugin, _) = plugin_for(Some(tenant), None)?;
    let parsed = crate::read_accounts(accounts, &InputDefaults::default())?;
    let account: &Account = parsed
        .accounts
        .iter()
        .find(|a| a.id == account_id)
        .with_context(|| format!("no account `{account_id}` in `{}`", accounts.display()))?;
    let report = plugin.assess(std::slice::from_ref(account), 1);
    let mut out = crate::output::human_stdout();
    let p = plugin.plugin_ref();
    writeln!(
        out,
        "{} ({}) as of {}  plugin {} {}",
        account.id, account.name, account.as_of, p.name, p.version
    )?;
    match &report.results[0] {
        Err(e) => writeln!(out, "not scored: {}: {}", e.kind.as_str(), e.message)?,
        Ok(a) => {
            writeln!(
                out,
                "score {:.1}  band {}  fit {}\n",
                a.score,
                a.band,
                a.fit.map_or("-", Fit::as_str)
            )?;
            use crate::output::{Align::*, Table, or_dash, percent};
            let mut factors = Table::new([
                ("factor", Left),
                ("value", Right),
                ("weight", Right),
                ("points", Right),
                ("of max", Right),
                ("reason", Left),
            ]);
            for f in &a.factors {
                factors.row([
                    f.name.clone(),
                    or_dash((!f.value.is_nan()).then_some(f.value), |v| {
                        format!("{v:.3}")
                    }),
                    percent(f.weight, 1),
                    format!("{:.2}", f.contribution),
                    format!("{:.2}", f.weight * 100.0),
                    f.reason.clone(),
                ]);
            }
            factors.write(&mut out)?;
            writeln!(out)?;
            let mut milestones = Table::new([
                ("milestone", Left),
                ("progress", Right),
                ("reached", Left),
                ("predicted", Left),
                ("likelihood", Right),
            ]);
            for m in &a.milestones {
                let day = |d: Option<headway_core::Date>| or_dash(d, |d| d.to_string());
                milestones.row([
                    m.id.clone(),
                    percent(m.progress, 1),
                    day(m.reached_on),
                    day(m.predicted_on),
                    or_dash(m.likelihood, |l| percent(l, 0)),
                ]);
            }
            milestones.write(&mut out)?;
        }
    }
    writeln!(out, "\n{} instructions", money(report.fuel_used as f64))?;
    for line in &report.logs {
        use headway_host::LogLevel;
        let level = match line.level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        writeln!(out, "log {level}: {}", line.message)?;
    }
    Ok(())
}

/// Which starting point `headway new` scaffolds.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Template {
    /// Seats, weekly usage, support load.
    Saas,
    /// The customer's own outcome KPI against its target.
    Outcomes,
}

/// The language `headway new` writes a plugin in.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Rust crate with headway-pdk.
    Rust,
    /// A Python app with the Python kit (built by componentize-py).
    #[value(alias = "py")]
    Python,
    /// A JavaScript module with the JavaScript kit (built by componentize-js).
    #[value(alias = "js")]
    Javascript,
}

/// `headway new`: a plugin that builds and passes its own fixtures.
pub fn new(
    name: &str,
    template: Template,
    lang: Lang,
    dir: Option<&Path>,
    pdk: Option<&Path>,
) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        bail!("plugin name `{name}`: use lowercase letters, digits and dashes");
    }
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if dir.exists() {
        bail!("`{}` already exists", dir.display());
    }
    let (label, fixtures) = match template {
        Template::Saas => ("saas", include_str!("../templates/saas.fixtures.jsonl")),
        Template::Outcomes => (
            "outcomes",
            include_str!("../templates/outcomes.fixtures.jsonl"),
        ),
    };
    let folder = dir
        .file_name()
        .map_or_else(|| name.to_owned(), |f| f.to_string_lossy().into_owned());
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{dir}}", &folder)
            .replace("{{template}}", label)
    };
    let files = match lang {
        Lang::Python => {
            let app = match template {
                Template::Saas => include_str!("../templates/saas.py.tmpl"),
                Template::Outcomes => include_str!("../templates/outcomes.py.tmpl"),
            };
            vec![
                ("app.py", fill(app)),
                (
                    "README.md",
                    fill(include_str!("../templates/README.py.md.tmpl")),
                ),
            ]
        }
        Lang::Javascript => {
            let app = match template {
                Template::Saas => include_str!("../templates/saas.js.tmpl"),
                Template::Outcomes => include_str!("../templates/outcomes.js.tmpl"),
            };
            vec![
                ("app.js", fill(app)),
                (
                    "README.md",
                    fill(include_str!("../templates/README.js.md.tmpl")),
                ),
            ]
        }
        Lang::Rust => {
            // The kit this binary was built with, unless told otherwise.
            let pdk = match pdk {
                Some(p) => p.to_path_buf(),
                None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../headway-pdk"),
            };
            let pdk = pdk.canonicalize().with_context(|| {
                format!("plugin kit not found at `{}` (pass --pdk)", pdk.display())
            })?;
            let rule = match template {
                Template::Saas => include_str!("../templates/saas.rs.tmpl"),
                Template::Outcomes => include_str!("../templates/outcomes.rs.tmpl"),
            };
            let fill_rust = |text: &str| fill(text).replace("{{pdk}}", &pdk.display().to_string());
            vec![
                (
                    "Cargo.toml",
                    fill_rust(include_str!("../templates/Cargo.toml.tmpl")),
                ),
                ("src/lib.rs", fill_rust(rule)),
                (
                    "README.md",
                    fill_rust(include_str!("../templates/README.md.tmpl")),
                ),
            ]
        }
    };
    std::fs::create_dir_all(match lang {
        Lang::Rust => dir.join("src"),
        Lang::Python | Lang::Javascript => dir.clone(),
    })?;
    for (file, text) in files
        .into_iter()
        .chain([("fixtures.jsonl", fixtures.to_owned())])
    {
        std::fs::write(dir.join(file), text)
            .with_context(|| format!("cannot write `{}`", dir.join(file).display()))?;
    }
    println!(
        "created {} ({label} template); next: headway build {}",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// `headway build`: compile a plugin crate for wasm32-wasip2 and check the result.
pub fn build(dir: &Path) -> Result<Exit> {
    if let Some(language) = headway_host::kits::Language::of(dir) {
        eprintln!("building {} with {}", language.app, language.tool);
        let wasm = headway_host::kits::build(dir, language)?;
        println!("built {}", wasm.display());
        return check(&wasm);
    }
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("no Cargo.toml in `{}`", dir.display());
    }
    let installed = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if installed.is_ok_and(|o| !String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2")) {
        eprintln!("adding the wasm32-wasip2 target (rustup target add wasm32-wasip2)");
        let status = std::process::Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .status()?;
        if !status.success() {
            bail!("rustup target add wasm32-wasip2 failed");
        }
    }
    // Cargo says where it put the component: a workspace member, a configured
    // target dir or a renamed lib all land somewhere else than `target/`.
    let output = std::process::Command::new("cargo")
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!("cargo build failed for `{}`", manifest.display());
    }
    let wasm = built_component(&String::from_utf8_lossy(&output.stdout), &manifest)?;
    println!("built {}", wasm.display());
    check(&wasm)
}

/// The `.wasm` cargo built for the package of `manifest`, from its JSON messages.
fn built_component(messages: &str, manifest: &Path) -> Result<PathBuf> {
    let manifest = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_owned());
    let mut found = None;
    for line in messages.lines() {
        let Ok(m) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let ours = m["manifest_path"]
            .as_str()
            .is_some_and(|p| Path::new(p) == manifest);
        let cdylib = m["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if m["reason"] == "compiler-artifact" && ours && cdylib {
            let files = m["filenames"].as_array().into_iter().flatten();
            found = files
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
                .or(found);
        }
    }
    found.with_context(|| {
        format!(
            "cargo built no .wasm for `{}`: is `crate-type = [\"cdylib\"]` in its [lib]?",
            manifest.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_component_is_where_cargo_says() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "").unwrap();
        let ours = manifest.canonicalize().unwrap();
        let messages = [
            serde_json::json!({"reason": "compiler-artifact", "manifest_path": "/kit/Cargo.toml",
                "target": {"kind": ["lib"]}, "filenames": ["/ws/target/libkit.rlib"]}),
            serde_json::json!({"reason": "compiler-message", "manifest_path": ours}),
            serde_json::json!({"reason": "compiler-artifact", "manifest_path": ours,
                "target": {"kind": ["cdylib"]},
                "filenames": ["/ws/out/wasm32-wasip2/release/my_rule.wasm"]}),
            serde_json::json!({"reason": "build-finished", "success": true}),
        ]
        .map(|m| m.to_string())
        .join("\n");
        let wasm = built_component(&messages, &manifest).unwrap();
        assert_eq!(
            wasm,
            Path::new("/ws/out/wasm32-wasip2/release/my_rule.wasm")
        );
        let none = built_component("{\"reason\":\"build-finished\"}", &manifest).unwrap_err();
        assert!(none.to_string().contains("crate-type"), "{none}");
    }
}
