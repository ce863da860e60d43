//! A file's ids for the duplicate check, in order: held in memory up to
//! [`IDS_IN_MEMORY`], beyond that sorted into runs and spilled to temporary
//! files (Lambda's `/tmp`), so that verifying a file takes memory flat in its
//! size, whatever its resource count. HealthLake's files (about 5,000
//! resources) never spill; a file of millions of lines does.
//!
//! The ids are read back in order ([`SortedIds::iter`]) by merging the runs,
//! each through a small buffer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::file::IdSeen;

/// Ids held in memory before a sorted run goes to disk (768 KiB of ids).
pub const IDS_IN_MEMORY: usize = 65_536;

/// One file's ids, sorted (by hash, then line) once sealed.
#[derive(Debug, Clone, Default)]
pub struct SortedIds {
    /// The ids not spilled: unsorted while collecting, sorted once sealed.
    memory: Vec<IdSeen>,
    /// Sorted runs on disk, removed when the last clone goes.
    runs: Vec<Arc<SpilledRun>>,
}

/// A sorted run of ids in a temporary file.
#[derive(Debug)]
struct SpilledRun {
    path: PathBuf,
    count: u64,
}

impl Drop for SpilledRun {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Names the temporary files of this process apart.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// The temporary files' names: `hlx-ids-{pid}-{n}`.
const RUN_PREFIX: &str = "hlx-ids-";

/// Removes the runs that processes which have ended left in `dir` (a
/// function that crashed mid-file never dropped its runs, and a warm Lambda
/// container keeps its `/tmp`). A run whose process still lives (another
/// local function process) stays. Where `/proc` does not tell which
/// processes live, nothing is removed. Answers how many were.
pub fn remove_stale_runs(dir: &std::path::Path) -> usize {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return 0;
    }
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(RUN_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .map(|(pid, _)| pid)
        else {
            continue;
        };
        let ended = pid != me && pid.bytes().all(|b| b.is_ascii_digit()) && !proc.join(pid).exists();
        if ended && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

impl SortedIds {
    /// Ids already in order (a decoded id list section, a test's list).
    pub fn from_sorted(mut ids: Vec<IdSeen>) -> Self {
        if !ids.is_sorted() {
            ids.sort_unstable();
        }
        Self {
            memory: ids,
            runs: Vec::new(),
        }
    }

    /// Adds an id while the file is read; spills a run when memory is full.
    pub(crate) fn push(&mut self, id: IdSeen) {
        self.memory.push(id);
        if self.memory.len() >= IDS_IN_MEMORY {
            self.spill();
        }
    }

    /// Orders what is still in memory: the file has been read.
    pub(crate) fn seal(&mut self) {
        self.memory.sort_unstable();
    }

    /// Sorts the ids in memory into a run on disk. If the run cannot be
    /// written (no space in `/tmp`), the ids stay in memory: the check
    /// costs memory, never correctness.
    fn spill(&mut self) {
        self.memory.sort_unstable();
        let path = std::env::temp_dir().join(format!(
            "{RUN_PREFIX}{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let written = File::create(&path).and_then(|file| {
            let mut out = BufWriter::new(file);
            for id in &self.memory {
                out.write_all(&id.to_bytes())?;
            }
            out.flush()
        });
        match written {
            Ok(()) => {
                self.runs.push(Arc::new(SpilledRun {
                    path,
                    count: self.memory.len() as u64,
                }));
                self.memory = Vec::with_capacity(IDS_IN_MEMORY);
            }
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                tracing::warn!(%error, "ids kept in memory: a sorted run could not be spilled");
            }
        }
    }

    /// How many ids.
    pub fn len(&self) -> u64 {
        self.memory.len() as u64 + self.runs.iter().map(|r| r.count).sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs on disk (for tests and the benchmark).
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    /// The ids in order. A spilled run that cannot be read back (its file
    /// removed under the process) ends the process: the verification is
    /// retried, it never judges on ids it did not see.
    pub fn iter(&self) -> SortedIdsIter<'_> {
        if self.runs.is_empty() {
            // Nothing spilled (HealthLake's files): the ids as they lie.
            return SortedIdsIter(Merge::Memory(self.memory.iter()));
        }
        let mut sources: Vec<Source<'_>> = vec![Source::Memory(self.memory.iter())];
        for run in &self.runs {
            let file = File::open(&run.path)
                .unwrap_or_else(|e| panic!("a spilled id run {} is gone: {e}", run.path.display()));
            sources.push(Source::Disk {
                reader: BufReader::with_capacity(64 * 1024, file),
                left: run.count,
            });
        }
        let mut heads = BinaryHeap::with_capacity(sources.len());
        for (n, source) in sources.iter_mut().enumerate() {
            if let Some(id) = source.next() {
                heads.push(Reverse((id, n)));
            }
        }
        SortedIdsIter(Merge::Runs { sources, heads })
    }
}

impl PartialEq for SortedIds {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for SortedIds {}

/// One sorted run of a merge.
enum Source<'a> {
    Memory(std::slice::Iter<'a, IdSeen>),
    Disk { reader: BufReader<File>, left: u64 },
}

impl Source<'_> {
    fn next(&mut self) -> Option<IdSeen> {
        match self {
            Self::Memory(ids) => ids.next().copied(),
            Self::Disk { reader, left } => {
                if *left == 0 {
                    return None;
                }
                let mut bytes = [0u8; IdSeen::BYTES];
                reader
                    .read_exact(&mut bytes)
                    .unwrap_or_else(|e| panic!("a spilled id run ended early: {e}"));
                *left -= 1;
                Some(IdSeen::from_bytes(bytes))
            }
        }
    }
}

/// [`SortedIds::iter`]: the ids in memory, or the runs merged, smallest first.
pub struct SortedIdsIter<'a>(Merge<'a>);

enum Merge<'a> {
    Memory(std::slice::Iter<'a, IdSeen>),
    Runs {
        sources: Vec<Source<'a>>,
        heads: BinaryHeap<Reverse<(IdSeen, usize)>>,
    },
}

impl Iterator for SortedIdsIter<'_> {
    type Item = IdSeen;

    fn next(&mut self) -> Option<IdSeen> {
        match &mut self.0 {
            Merge::Memory(ids) => ids.next().copied(),
            Merge::Runs { sources, heads } => {
                let Reverse((id, n)) = heads.pop()?;
                if let Some(next) = sources[n].next() {
                    heads.push(Reverse((next, n)));
                }
                Some(id)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrambled(n: u64) -> Vec<IdSeen> {
        (0..n)
            .map(|i| IdSeen::new(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), i as u32 + 1))
            .collect()
    }

    #[test]
    fn ids_past_the_bound_spill_in_runs_and_read_back_in_order() {
        let all = scrambled(3 * IDS_IN_MEMORY as u64 + 17);
        let mut ids = SortedIds::default();
        for id in &all {
            ids.push(*id);
        }
        ids.seal();
        assert_eq!(ids.spilled_runs(), 3);
        assert_eq!(ids.len(), all.len() as u64);
        let mut expected = all.clone();
        expected.sort_unstable();
        assert!(ids.iter().eq(expected.iter().copied()));
        assert_eq!(ids, SortedIds::from_sorted(expected));
        // A clone shares the runs; the files go with the last one.
        let paths: Vec<PathBuf> = ids.runs.iter().map(|r| r.path.clone()).collect();
        let copy = ids.clone();
        drop(ids);
        assert!(paths.iter().all(|p| p.exists()));
        assert_eq!(copy.iter().count(), all.len());
        drop(copy);
        assert!(paths.iter().all(|p| !p.exists()), "the runs are removed");
    }

    #[test]
    fn runs_of_ended_processes_are_removed_and_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("hlx-ids-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // No process has pid 4,000,000,000 (Linux's limit is 4,194,304).
        let ended = dir.join("hlx-ids-4000000000-0");
        let mine = dir.join(format!("hlx-ids-{}-0", std::process::id()));
        let parent = dir.join(format!("hlx-ids-{}-3", std::os::unix::process::parent_id()));
        let other = dir.join("not-hlx-ids-1-0");
        for file in [&ended, &mine, &parent, &other] {
            std::fs::write(file, b"").unwrap();
        }
        let removed = remove_stale_runs(&dir);
        let linux = std::path::Path::new("/proc/self").exists();
        assert_eq!(removed, usize::from(linux));
        assert_eq!(ended.exists(), !linux);
        assert!(mine.exists() && parent.exists() && other.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn few_ids_stay_in_memory() {
        let mut ids = SortedIds::default();
        for id in scrambled(5_000) {
            ids.push(id);
        }
        ids.seal();
        assert_eq!(ids.spilled_runs(), 0);
        assert!(ids.iter().is_sorted());
        assert!(SortedIds::default().is_empty());
    }
}
