//! Atomic output: single files (temp file in the same directory, fsync, rename) and whole
//! file sets ([`Staging`]: everything is written into `DIR/.partial-PID-N/`, then renamed
//! into `DIR` one file at a time with a marker file renamed last).
//!
//! A reader that finds the marker (`report.json` for reports, `summary.md` for sweeps) knows
//! the set is complete: the old marker is removed before the first new file is moved in,
//! so an interrupted run leaves no marker rather than a mix that looks complete.
//!
//! **Only our own files.** Every committed set is recorded in the folder's manifest
//! ([`MANIFEST`], one relative path per line). Stale outputs of an earlier run are removed
//! only if the manifest lists them ([`remove_stale`], [`remove_own`]): a file the user put
//! in the output folder, whatever its name, is never deleted or overwritten by a removal.
//! No file is written or removed through a symbolic link inside the output folder (a
//! symlinked `plots/` is refused, not followed).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ReportError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync,
/// rename over `path`.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| ReportError::io(&dir, "create directory", e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(|e| ReportError::io(&tmp, "create", e))?;
        f.write_all(bytes)
            .map_err(|e| ReportError::io(&tmp, "write", e))?;
        f.sync_all()
            .map_err(|e| ReportError::io(&tmp, "fsync", e))?;
        fs::rename(&tmp, path).map_err(|e| ReportError::io(path, "rename into place", e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A file written in a stream and put in place atomically: the bytes go to a temporary
/// file in the same directory; [`AtomicFile::commit`] fsyncs and renames it over the
/// target. Dropped without a commit (an error on the way), the temporary file is removed
/// and the target is untouched.
pub struct AtomicFile {
    tmp: PathBuf,
    path: PathBuf,
    w: Option<std::io::BufWriter<fs::File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile, ReportError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
        let f = fs::File::create(&tmp).map_err(|e| ReportError::io(&tmp, "create", e))?;
        Ok(AtomicFile {
            w: Some(std::io::BufWriter::with_capacity(1 << 16, f)),
            tmp,
            path: path.to_path_buf(),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ReportError> {
        let w = self.w.as_mut().expect("not committed");
        w.write_all(bytes)
            .map_err(|e| ReportError::io(&self.tmp, "write", e))
    }

    /// Flushes, fsyncs and renames the file over its target.
    pub fn commit(mut self) -> Result<(), ReportError> {
        let w = self.w.take().expect("not committed");
        let f = w
            .into_inner()
            .map_err(|e| ReportError::io(&self.tmp, "write", e.into_error()))?;
        f.sync_all()
            .map_err(|e| ReportError::io(&self.tmp, "fsync", e))?;
        fs::rename(&self.tmp, &self.path)
            .map_err(|e| ReportError::io(&self.path, "rename into place", e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.w.is_some() || self.tmp.exists() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The manifest of an output folder: the files tinyaccel wrote there (relative paths).
pub const MANIFEST: &str = ".tinyaccel-manifest";

/// The relative paths the manifest of `dir` lists (empty when there is none).
pub fn read_manifest(dir: &Path) -> Vec<PathBuf> {
    fs::read_to_string(dir.join(MANIFEST))
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

fn write_manifest(dir: &Path, files: &[PathBuf]) -> Result<(), ReportError> {
    let mut text = String::new();
    for f in files {
        text.push_str(&f.to_string_lossy());
        text.push('\n');
    }
    atomic_write(&dir.join(MANIFEST), text.as_bytes())
}

/// Refuses a path below `root` whose directories (between `root` and the file) include a
/// symbolic link: writing or removing through it would touch files outside the folder.
fn check_no_symlink(root: &Path, rel: &Path) -> Result<(), ReportError> {
    let mut p = root.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        p.push(c);
        if let Ok(m) = fs::symlink_metadata(&p) {
            if m.file_type().is_symlink() {
                return Err(ReportError::io(
                    &p,
                    "write",
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "is a symbolic link: tinyaccel does not write through links out of its output folder",
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A staging directory for a set of output files (see the module documentation).
pub struct Staging {
    dir: PathBuf,
    final_dir: PathBuf,
    files: Vec<PathBuf>,
    committed: bool,
}

/// The name prefix of staging directories.
pub const PARTIAL_PREFIX: &str = ".partial-";

fn pid_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true // cannot tell: keep the directory
    }
}

impl Staging {
    /// Creates `final_dir` if needed, removes staging directories left by dead processes,
    /// and creates a fresh staging directory inside `final_dir`.
    pub fn new(final_dir: &Path) -> Result<Self, ReportError> {
        fs::create_dir_all(final_dir)
            .map_err(|e| ReportError::io(final_dir, "create directory", e))?;
        if let Ok(entries) = fs::read_dir(final_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(rest) = name.strip_prefix(PARTIAL_PREFIX) {
                    let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
                    if let Some(pid) = pid {
                        if pid != std::process::id() && !pid_alive(pid) {
                            let _ = fs::remove_dir_all(e.path());
                        }
                    }
                }
            }
        }
        let dir = final_dir.join(format!("{PARTIAL_PREFIX}{}", unique_suffix()));
        fs::create_dir_all(&dir).map_err(|e| ReportError::io(&dir, "create directory", e))?;
        Ok(Staging {
            dir,
            final_dir: final_dir.to_path_buf(),
            files: Vec::new(),
            committed: false,
        })
    }

    /// The staging path of `rel` (a path relative to the output directory); creates its
    /// parent directories and records it for [`Staging::commit`].
    pub fn path(&mut self, rel: &str) -> Result<PathBuf, ReportError> {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| ReportError::io(parent, "create directory", e))?;
        }
        let rel = PathBuf::from(rel);
        if !self.files.contains(&rel) {
            self.files.push(rel);
        }
        Ok(p)
    }

    /// Writes one file of the set.
    pub fn write(&mut self, rel: &str, bytes: &[u8]) -> Result<(), ReportError> {
        let p = self.path(rel)?;
        fs::write(&p, bytes).map_err(|e| ReportError::io(&p, "write", e))
    }

    /// The final path of `rel` inside the output directory.
    pub fn final_path(&self, rel: &str) -> PathBuf {
        self.final_dir.join(rel)
    }

    /// Moves the set into the output directory: removes the old `marker`, fsyncs and renames
    /// every other file, then `marker` last. Returns the final paths, marker last.
    pub fn commit(mut self, marker: &str) -> Result<Vec<PathBuf>, ReportError> {
        let marker = PathBuf::from(marker);
        if !self.files.contains(&marker) {
            return Err(ReportError::io(
                self.dir.join(&marker),
                "commit",
                std::io::Error::new(std::io::ErrorKind::NotFound, "marker file not written"),
            ));
        }
        let final_marker = self.final_dir.join(&marker);
        match fs::remove_file(&final_marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ReportError::io(&final_marker, "remove old marker", e)),
        }
        let mut order: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|f| **f != marker)
            .cloned()
            .collect();
        order.push(marker);
        for rel in &order {
            check_no_symlink(&self.final_dir, rel)?;
        }
        let mut done = Vec::new();
        let mut own = read_manifest(&self.final_dir);
        for rel in &order {
            if !own.contains(rel) {
                own.push(rel.clone());
            }
        }
        write_manifest(&self.final_dir, &own)?;
        for rel in order {
            let from = self.dir.join(&rel);
            let to = self.final_dir.join(&rel);
            let f = fs::File::open(&from).map_err(|e| ReportError::io(&from, "open", e))?;
            f.sync_all()
                .map_err(|e| ReportError::io(&from, "fsync", e))?;
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| ReportError::io(parent, "create directory", e))?;
            }
            fs::rename(&from, &to).map_err(|e| ReportError::io(&to, "rename into place", e))?;
            done.push(to);
        }
        if let Ok(d) = fs::File::open(&self.final_dir) {
            let _ = d.sync_all();
        }
        self.committed = true;
        let _ = fs::remove_dir_all(&self.dir);
        Ok(done)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes the files of `dir/sub` whose names start with one of `prefixes` and are not in
/// `keep` (final paths): plots of models or keys that a previous run had and this one has
/// not. Only files the manifest lists (that tinyaccel wrote) are removed, never through a
/// symbolic link.
pub fn remove_stale(dir: &Path, sub: &str, prefixes: &[&str], keep: &[PathBuf]) {
    let stale: Vec<PathBuf> = read_manifest(dir)
        .into_iter()
        .filter(|rel| {
            let name = rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            rel.parent() == Some(Path::new(sub))
                && prefixes.iter().any(|p| name.starts_with(p))
                && (name.ends_with(".svg") || name.ends_with(".png"))
                && !keep.contains(&dir.join(rel))
        })
        .collect();
    remove_own(dir, &stale);
}

/// Removes the files `rels` (relative to `dir`) that the manifest of `dir` lists, and
/// drops them from it; files the manifest does not list, or reached through a symbolic
/// link, are left alone.
pub fn remove_own(dir: &Path, rels: &[PathBuf]) {
    let mut own = read_manifest(dir);
    let before = own.len();
    for rel in rels {
        if !own.contains(rel) || check_no_symlink(dir, rel).is_err() {
            continue;
        }
        let p = dir.join(rel);
        let is_file = fs::symlink_metadata(&p)
            .map(|m| m.is_file())
            .unwrap_or(false);
        if !is_file || fs::remove_file(&p).is_ok() {
            own.retain(|r| r != rel);
        }
    }
    if own.len() != before {
        let _ = write_manifest(dir, &own);
    }
}
