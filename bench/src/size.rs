//! Deployment packages: zipped as cargo-lambda zips a Rust function (one
//! entry, the binary renamed `bootstrap`, mode 0755, deflate) and as a Python
//! function is shipped (the handler file; optionally boto3 vendored).

use std::fs::File;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// An archive entry: its name in the zip, the file, its Unix mode.
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub mode: u32,
}

/// The size in bytes of the zip holding `entries`.
pub fn zipped_size(entries: &[Entry]) -> io::Result<u64> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for entry in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(entry.mode);
        writer
            .start_file(entry.name.as_str(), options)
            .map_err(io::Error::other)?;
        io::copy(&mut File::open(&entry.path)?, &mut writer)?;
    }
    let cursor = writer.finish().map_err(io::Error::other)?;
    Ok(cursor.into_inner().len() as u64)
}

/// A Rust function's package: the binary as `bootstrap`.
pub fn rust_package(binary: &Path) -> io::Result<(u64, u64)> {
    let raw = std::fs::metadata(binary)?.len();
    let zipped = zipped_size(&[Entry {
        name: "bootstrap".into(),
        path: binary.to_owned(),
        mode: 0o755,
    }])?;
    Ok((raw, zipped))
}

/// The entries of a directory tree, named relative to `base`, skipping
/// bytecode caches (Lambda packages rarely ship them).
fn tree(base: &Path, dir: &Path, out: &mut Vec<Entry>) -> io::Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let path = child.path();
        let name = child.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        if child.file_type()?.is_dir() {
            tree(base, &path, out)?;
        } else {
            let relative = path.strip_prefix(base).unwrap_or(&path);
            out.push(Entry {
                name: relative.to_string_lossy().into_owned(),
                path,
                mode: 0o644,
            });
        }
    }
    Ok(())
}

/// What a virtual environment's site-packages holds besides pip's own tooling:
/// boto3 and its dependencies, in a boto3-only environment.
pub fn vendored_sdk(site_packages: &Path) -> io::Result<Vec<Entry>> {
    const TOOLING: [&str; 5] = [
        "pip",
        "setuptools",
        "_distutils_hack",
        "pkg_resources",
        "distutils-precedence.pth",
    ];
    let mut entries = Vec::new();
    let mut children: Vec<_> = std::fs::read_dir(site_packages)?.collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let name = child.file_name().to_string_lossy().into_owned();
        let stem = name.split(['-', '.']).next().unwrap_or(&name);
        if TOOLING.contains(&name.as_str()) || TOOLING.contains(&stem) || name == "__pycache__" {
            continue;
        }
        if child.file_type()?.is_dir() {
            tree(site_packages, &child.path(), &mut entries)?;
        } else {
            entries.push(Entry {
                name,
                path: child.path(),
                mode: 0o644,
            });
        }
    }
    Ok(entries)
}

/// The unzipped size of `entries`.
pub fn raw_size(entries: &[Entry]) -> io::Result<u64> {
    entries
        .iter()
        .map(|e| std::fs::metadata(&e.path).map(|m| m.len()))
        .sum()
}
