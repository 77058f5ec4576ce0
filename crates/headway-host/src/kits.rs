//! Building plugins written in Python or JavaScript: the kit and the contract
//! travel inside the binary, so `headway build` works outside this repository.
//! The build itself is the language's componentizer (`componentize-py` from
//! PyPI, `componentize-js` from npm), run on the author's app with the kit
//! beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The Python kit (`kits/python/headway_kit.py`).
pub const PYTHON_KIT: &str = include_str!("../../../kits/python/headway_kit.py");
/// The JavaScript kit (`kits/javascript/headway_kit.js`).
pub const JAVASCRIPT_KIT: &str = include_str!("../../../kits/javascript/headway_kit.js");
/// The contract language plugins are built against.
pub const CONTRACT: &str = include_str!("../../../wit/since_v0.3.0/rules.wit");

/// A language's app file, the files put beside it, and its componentizer.
#[derive(Debug, Clone, Copy)]
pub struct Language {
    /// The app an author writes (`app.py`).
    pub app: &'static str,
    /// The extension of the sources a build depends on.
    extension: &'static str,
    /// The componentizer's command.
    pub tool: &'static str,
    /// How to install the release the kit is tested with.
    pub install: &'static str,
    /// Files written into the build folder: (path, contents).
    files: &'static [(&'static str, &'static str)],
}

/// Python: `app.py`, the Python kit, `componentize-py`.
pub const PYTHON: Language = Language {
    app: "app.py",
    extension: "py",
    tool: "componentize-py",
    install: "pip install componentize-py==0.25.1",
    files: &[("headway_kit.py", PYTHON_KIT), ("wit/rules.wit", CONTRACT)],
};

/// JavaScript: `app.js` (an ES module exporting `rules`), the JavaScript kit,
/// `componentize-js`. Its modules resolve relative to the app, so the app and
/// its neighbours are built from a copy beside the kit.
pub const JAVASCRIPT: Language = Language {
    app: "app.js",
    extension: "js",
    tool: "componentize-js",
    install: "npm install -g @bytecodealliance/componentize-js@0.23.0",
    files: &[
        ("headway_kit.js", JAVASCRIPT_KIT),
        ("wit/rules.wit", CONTRACT),
    ],
};

impl Language {
    /// The language of the plugin in `dir`, by its app file.
    pub fn of(dir: &Path) -> Option<Self> {
        [PYTHON, JAVASCRIPT]
            .into_iter()
            .find(|l| dir.join(l.app).is_file())
    }

    /// The componentizer's command line for `dir`'s app into `out`.
    fn command(&self, work: &Path, dir: &Path, out: &Path) -> Command {
        let mut command = Command::new(self.tool);
        if self.extension == "py" {
            command
                .arg("-d")
                .arg(work.join("wit"))
                .args(["-w", "health-rules", "componentize", "-p"])
                .arg(work)
                .arg("-p")
                .arg(dir)
                .arg("app")
                .arg("-o")
                .arg(out);
        } else {
            command
                .arg(work.join(self.app))
                .arg("--wit")
                .arg(work.join("wit"))
                .args(["--world-name", "health-rules", "-o"])
                .arg(out);
        }
        command
    }
}

/// Why a language plugin did not build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No app in the folder.
    #[error("no {app} in `{}`", dir.display())]
    NoApp {
        /// The folder.
        dir: PathBuf,
        /// The app it lacks.
        app: &'static str,
    },
    /// The kit or contract could not be written, or the app read.
    #[error("cannot prepare the build in `{}`", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The componentizer is not installed.
    #[error("{tool} is not installed ({install})")]
    NoTool {
        /// Its command.
        tool: &'static str,
        /// How to install it.
        install: &'static str,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// The componentizer failed; its output went to stderr.
    #[error("{tool} failed for `{}`", dir.display())]
    Failed {
        /// Its command.
        tool: &'static str,
        /// The plugin's folder.
        dir: PathBuf,
    },
}

/// Builds the plugin in `dir`, written in `language`, into
/// `dir/target/<folder name>.wasm`. The build is skipped when the sources, kit
/// and contract are unchanged since the last one (a digest is kept beside the
/// output).
pub fn build(dir: &Path, language: Language) -> Result<PathBuf, BuildError> {
    if !dir.join(language.app).is_file() {
        return Err(BuildError::NoApp {
            dir: dir.to_owned(),
            app: language.app,
        });
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BuildError::Io { path, source }
    };
    let target = dir.join("target");
    let work = target.join("headway-build");
    std::fs::create_dir_all(work.join("wit")).map_err(io(&work))?;
    let mut sources = Sha256::new();
    for (path, contents) in language.files {
        std::fs::write(work.join(path), contents).map_err(io(&work))?;
        sources.update(contents.as_bytes());
    }
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "plugin".to_owned());
    let out = target.join(format!("{name}.wasm"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == language.extension))
        .collect();
    files.sort();
    for file in &files {
        sources.update(file.file_name().unwrap_or_default().as_encoded_bytes());
        sources.update(std::fs::read(file).map_err(io(file))?);
    }
    if language.extension == "js" {
        // A module deleted since the last build must not take part in this one.
        for stale in std::fs::read_dir(&work).map_err(io(&work))?.flatten() {
            let name = stale.file_name();
            let known = language.files.iter().any(|(path, _)| name == *path)
                || files.iter().any(|f| f.file_name() == Some(&name));
            if !known && stale.path().extension().is_some_and(|x| x == "js") {
                std::fs::remove_file(stale.path()).map_err(io(&stale.path()))?;
            }
        }
        for file in &files {
            let name = file.file_name().unwrap_or_default();
            // The kit that travels with this binary wins over a copy of it.
            if !language.files.iter().any(|(path, _)| name == *path) {
                let copy = work.join(name);
                std::fs::copy(file, &copy).map_err(io(&copy))?;
            }
        }
    }
    let stamp = format!("{:x}", sources.finalize());
    let stamp_file = target.join(format!("{name}.sources"));
    if out.is_file() && std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(out);
    }
    let status = language
        .command(&work, dir, &out)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|source| BuildError::NoTool {
            tool: language.tool,
            install: language.install,
            source,
        })?;
    if !status.success() {
        return Err(BuildError::Failed {
            tool: language.tool,
            dir: dir.to_owned(),
        });
    }
    std::fs::write(&stamp_file, stamp).map_err(io(&stamp_file))?;
    Ok(out)
}
