//! Finding the drops a local run reads: files given directly, or every
//! visible file under a folder, in a stable order.

use std::path::{Path, PathBuf};

use crate::error::LocalError;

/// Sub-folders that hold finished drops when `--move` is used.
const DONE_FOLDERS: [&str; 2] = ["processed", "quarantine"];

/// The drop files named by `paths`: files as given, folders walked
/// recursively (hidden files, Markdown notes and the processed/quarantine
/// folders skipped), sorted by path within each folder. The database
/// `db` and its journal files are never drops, even when they sit among them.
pub fn find_drops(paths: &[PathBuf], db: &Path) -> Result<Vec<PathBuf>, LocalError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| LocalError::io(path, e))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    let own = own_files(db);
    found.retain(|path| !own.contains(&canonical(path)));
    Ok(found)
}

/// The database file and the files SQLite keeps beside it.
fn own_files(db: &Path) -> Vec<PathBuf> {
    let db = canonical(db);
    let mut files = vec![db.clone()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

/// An absolute path with the folder resolved, for comparing files that may
/// not exist yet.
fn canonical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(folder), Some(name)) => {
            folder.canonicalize().map_or(absolute.clone(), |f| f.join(name))
        }
        _ => absolute,
    }
}

/// The entries of a folder, by name, so every walk is in a stable order.
pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>, LocalError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| LocalError::io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| LocalError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), LocalError> {
    for entry in sorted_entries(dir)? {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        let kind = entry.file_type().map_err(|e| LocalError::io(&path, e))?;
        if kind.is_dir() {
            if !DONE_FOLDERS.contains(&name.as_str()) {
                walk(&path, found)?;
            }
        } else if kind.is_file() {
            found.push(path);
        }
    }
    Ok(())
}
