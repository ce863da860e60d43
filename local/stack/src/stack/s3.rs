//! The directory that stands for S3: objects put in it and folders copied
//! into it at `s3://` URIs, as a landing bucket would receive them (the
//! emulator maps the same URIs to the same paths).

use std::path::{Path, PathBuf};

use super::LocalStack;

impl LocalStack {
    /// Writes an object (NDJSON, say) at `s3_uri` in the directory that
    /// stands for S3, as a landing bucket would receive it.
    pub fn put_object(&self, s3_uri: &str, contents: &str) -> std::io::Result<PathBuf> {
        let path = hlx_healthlake_emulator::s3_uri_to_path(&self.output_dir, s3_uri);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
        Ok(path)
    }

    /// Copies every file under `dir` to `s3_uri` (keeping relative paths), as
    /// `aws s3 cp --recursive` would; returns how many.
    pub fn upload_dir(&self, dir: &Path, s3_uri: &str) -> std::io::Result<usize> {
        let target = hlx_healthlake_emulator::s3_uri_to_path(&self.output_dir, s3_uri);
        copy_tree(dir, &target)
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<usize> {
    let mut copied = 0;
    if from.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to)?;
        return Ok(1);
    }
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copied += copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
            copied += 1;
        }
    }
    Ok(copied)
}
