//! An exclusive lock on a sweep output directory: `DIR/.tinyaccel-sweep.lock`, created
//! atomically (`create_new`) and holding the holder's PID. A second sweep (or merge) on the
//! same directory gets [`SweepError::Locked`] naming the holder. A lock left by a process
//! that no longer exists (a crash, `kill -9`) is taken over. The lock is removed when the
//! [`DirLock`] is dropped.
//!
//! Liveness is checked through `/proc/PID` (Linux); where `/proc` is missing, every lock is
//! treated as live (remove the file by hand after making sure no sweep runs).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::SweepError;

/// The lock file's name inside the output directory.
pub const LOCK_FILE: &str = ".tinyaccel-sweep.lock";

/// Holds the lock on a directory until dropped.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    pid: u32,
}

/// Whether process `pid` exists (`None`: cannot tell).
fn alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

fn holder(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl DirLock {
    /// Takes the lock on `dir` (which must exist).
    pub fn acquire(dir: &Path) -> Result<DirLock, SweepError> {
        let path = dir.join(LOCK_FILE);
        let pid = std::process::id();
        // Two rounds: the second after taking over a stale lock.
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(format!("{pid}\n").as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|source| SweepError::Io {
                            path: path.clone(),
                            op: "write lock file",
                            source,
                        })?;
                    return Ok(DirLock { path, pid });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let who = holder(&path);
                    match who {
                        Some(h) if h != pid && alive(h) == Some(false) => {
                            // Stale: re-check right before removing it, so a lock freshly
                            // taken by another process is not removed.
                            if holder(&path) == Some(h) {
                                let _ = std::fs::remove_file(&path);
                            }
                            continue;
                        }
                        _ => {
                            return Err(SweepError::Locked {
                                path,
                                holder: who.map_or_else(
                                    || "an unknown process (unreadable lock file)".to_string(),
                                    |h| format!("process {h}"),
                                ),
                            })
                        }
                    }
                }
                Err(source) => {
                    return Err(SweepError::Io {
                        path,
                        op: "create lock file",
                        source,
                    })
                }
            }
        }
        Err(SweepError::Locked {
            holder: holder(&path).map_or_else(
                || "an unknown process".to_string(),
                |h| format!("process {h}"),
            ),
            path,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        if holder(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
