//! Building plugins written in Python: the kit and the contract travel inside the
//! binary, so `headway build` works outside this repository. The build itself is
//! `componentize-py` (PyPI), run on the author's `app.py` with the kit beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The Python kit (`kits/python/headway_kit.py`).
pub const PYTHON_KIT: &str = include_str!("../../../kits/python/headway_kit.py");
/// The contract Python plugins are built against.
pub const PYTHON_CONTRACT: &str = include_str!("../../../wit/since_v0.2.0/rules.wit");
/// The componentize-py release the kit is tested with.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Why a Python plugin did not build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No `app.py` in the folder.
    #[error("no app.py in `{}`", .0.display())]
    NoApp(PathBuf),
    /// The kit or contract could not be written, or the app read.
    #[error("cannot prepare the build in `{}`", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// componentize-py is not installed.
    #[error("componentize-py is not installed (pip install {COMPONENTIZE_PY})")]
    NoComponentizePy(#[source] std::io::Error),
    /// componentize-py failed; its output went to stderr.
    #[error("componentize-py failed for `{}`", .0.display())]
    Failed(PathBuf),
}

/// Builds the Python plugin in `dir` (its `app.py` defines `Rules`, see the kit)
/// into `dir/target/<folder name>.wasm`. The build is skipped when app, kit and
/// contract are unchanged since the last one (a digest is kept beside the output).
pub fn build_python(dir: &Path) -> Result<PathBuf, BuildError> {
    let app = dir.join("app.py");
    if !app.is_file() {
        return Err(BuildError::NoApp(dir.to_owned()));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BuildError::Io { path, source }
    };
    let target = dir.join("target");
    let work = target.join("headway-build");
    std::fs::create_dir_all(work.join("wit")).map_err(io(&work))?;
    std::fs::write(work.join("headway_kit.py"), PYTHON_KIT).map_err(io(&work))?;
    std::fs::write(work.join("wit/rules.wit"), PYTHON_CONTRACT).map_err(io(&work))?;
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "plugin".to_owned());
    let out = target.join(format!("{name}.wasm"));

    let mut sources = Sha256::new();
    for part in [PYTHON_KIT.as_bytes(), PYTHON_CONTRACT.as_bytes()] {
        sources.update(part);
    }
    let mut py: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    py.sort();
    for file in &py {
        sources.update(file.file_name().unwrap_or_default().as_encoded_bytes());
        sources.update(std::fs::read(file).map_err(io(file))?);
    }
    let stamp = format!("{:x}", sources.finalize());
    let stamp_file = target.join(format!("{name}.sources"));
    if out.is_file() && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(out);
    }
    let status = Command::new("componentize-py")
        .arg("-d")
        .arg(work.join("wit"))
        .args(["-w", "health-rules", "componentize", "-p"])
        .arg(&work)
        .arg("-p")
        .arg(dir)
        .arg("app")
        .arg("-o")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(BuildError::NoComponentizePy)?;
    if !status.success() {
        return Err(BuildError::Failed(dir.to_owned()));
    }
    std::fs::write(&stamp_file, stamp).map_err(io(&stamp_file))?;
    Ok(out)
}
