//! The distributed path's duplicate check, in shards: an export of hundreds
//! of GB holds hundreds of millions of ids, more than one invocation can
//! hold (12 bytes an id), so the ids are split by hash into shards and each
//! shard is checked on its own (an id repeated within a type has one hash,
//! so both sightings fall in the same shard).
//!
//! A shard is a range of hashes (`shard_of` is monotonic), so a file's
//! sorted ids split into contiguous runs. Each Distributed Map child writes
//! one id list for its batch, shard by shard: section `s` holds, for each of
//! the batch's resource files in order, a count (`u32`, little-endian) and
//! that many ids of shard `s` (12 bytes each: hash, line). The child's
//! result names the list and the byte offset of each section
//! ([`IdList`]), so checking shard `s` takes one ranged GET per child.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::file::{FileKind, FileReport, IdSeen};
use super::ids::SortedIds;
use super::run::S3Folder;
use super::storage::ByteRange;
use super::verdict::{Duplicates, duplicate_ids};

/// At most this many shards, whatever the export's size.
pub const MAX_SHARDS: u32 = 1000;

/// The shard of an id's hash among `shards`: monotonic in the hash.
pub fn shard_of(hash: u64, shards: u32) -> u32 {
    ((u128::from(hash) * u128::from(shards.max(1))) >> 64) as u32
}

/// How many shards an export of `bytes` needs, each standing for at most
/// `shard_bytes` of export.
pub fn shard_count(bytes: u64, shard_bytes: u64) -> u32 {
    let shards = bytes.div_ceil(shard_bytes.max(1)).max(1);
    u32::try_from(shards).unwrap_or(MAX_SHARDS).min(MAX_SHARDS)
}

/// A child's id list: where it is, and where each shard's section starts
/// (`offsets[s]..offsets[s + 1]`; one more offset than shards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdList {
    pub key: String,
    pub offsets: Vec<u64>,
}

impl IdList {
    /// The shards the list was written for.
    pub fn shards(&self) -> u32 {
        u32::try_from(self.offsets.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// The byte range of shard `shard`'s section.
    pub fn section(&self, shard: u32) -> Option<ByteRange> {
        let s = shard as usize;
        Some(ByteRange {
            key: self.key.clone(),
            start: *self.offsets.get(s)?,
            end: *self.offsets.get(s + 1)?,
        })
    }
}

/// Where the children keep their id lists, under the results folder.
pub fn id_lists_prefix(results: &S3Folder) -> String {
    format!("{}ids/", results.prefix)
}

/// The key of a batch's id list under the results folder: named after its
/// first file, so a retried child writes the same object again.
pub fn id_list_key(results: &S3Folder, first_file: &str) -> String {
    let digest = hex::encode(Sha256::digest(first_file.as_bytes()));
    format!("{}{}", id_lists_prefix(results), &digest[..32])
}

/// Writes the ids of `files` (resource files, in this order; each sorted)
/// shard by shard; answers the bytes and each section's offset.
pub fn encode_id_list(files: &[&FileReport], shards: u32) -> (Vec<u8>, Vec<u64>) {
    let shards = shards.max(1);
    let ids: u64 = files.iter().map(|f| f.ids.len()).sum();
    let mut out = Vec::with_capacity(ids as usize * 12 + files.len() * 4 * shards as usize);
    let mut offsets = Vec::with_capacity(shards as usize + 1);
    // Each file's ids in order: a shard's are the next run of them.
    let mut cursors: Vec<_> = files.iter().map(|f| f.ids.iter().peekable()).collect();
    for shard in 0..shards {
        offsets.push(out.len() as u64);
        for ids in &mut cursors {
            let count_at = out.len();
            out.extend_from_slice(&0u32.to_le_bytes());
            let mut run: u32 = 0;
            while let Some(id) = ids.next_if(|id| shard_of(id.hash(), shards) <= shard) {
                out.extend_from_slice(&id.to_bytes());
                run += 1;
            }
            out[count_at..count_at + 4].copy_from_slice(&run.to_le_bytes());
        }
    }
    offsets.push(out.len() as u64);
    (out, offsets)
}

/// Reads one section back: each file's ids of the shard, in file order;
/// `None` when it does not hold `files` runs exactly.
pub fn decode_section(bytes: &[u8], files: usize) -> Option<Vec<Vec<IdSeen>>> {
    let mut runs = Vec::with_capacity(files);
    let mut rest = bytes;
    for _ in 0..files {
        let (count, tail) = rest.split_at_checked(4)?;
        let count = u32::from_le_bytes(count.try_into().ok()?) as usize;
        let (ids, tail) = tail.split_at_checked(count.checked_mul(IdSeen::BYTES)?)?;
        runs.push(
            ids.chunks_exact(IdSeen::BYTES)
                .map(|c| IdSeen::from_bytes(c.try_into().expect("whole ids")))
                .collect(),
        );
        rest = tail;
    }
    rest.is_empty().then_some(runs)
}

/// The resource files of a batch, in the order its id list holds them.
pub fn resource_files(reports: &[FileReport]) -> Vec<&FileReport> {
    reports
        .iter()
        .filter(|r| matches!(r.kind, FileKind::Resources { .. }))
        .collect()
}

/// One shard's duplicate check over every child's section of it: `files`
/// are each child's resource files (ids empty) with its id list's section
/// of the shard. Files are compared in key order, as the whole check does.
pub fn duplicates_in_sections(children: Vec<(Vec<FileReport>, Vec<u8>)>) -> Result<Duplicates, String> {
    let mut files: Vec<FileReport> = Vec::new();
    for (reports, section) in children {
        let runs = decode_section(&section, reports.len())
            .ok_or_else(|| format!("an id list section does not hold {} files' ids", reports.len()))?;
        for (mut report, ids) in reports.into_iter().zip(runs) {
            report.ids = SortedIds::from_sorted(ids);
            files.push(report);
        }
    }
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(duplicate_ids(&files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verification::file::verify_bytes;

    fn file(key: &str, ids: &[String]) -> FileReport {
        let resource_type = key.split('/').next().unwrap();
        let text: String = ids
            .iter()
            .map(|id| format!("{{\"resourceType\":\"{resource_type}\",\"id\":\"{id}\"}}\n"))
            .collect();
        verify_bytes(key, text.as_bytes())
    }

    #[test]
    fn shards_are_ranges_of_hashes() {
        assert_eq!(shard_of(0, 7), 0);
        assert_eq!(shard_of(u64::MAX, 7), 6);
        assert_eq!(shard_of(u64::MAX, 1), 0);
        let mut previous = 0;
        for hash in (0..64).map(|b| 1u64 << b) {
            let shard = shard_of(hash, 5);
            assert!(shard >= previous && shard < 5);
            previous = shard;
        }
        assert_eq!(shard_count(0, 100), 1);
        assert_eq!(shard_count(100, 100), 1);
        assert_eq!(shard_count(101, 100), 2);
        assert_eq!(shard_count(u64::MAX, 1), MAX_SHARDS);
    }

    #[test]
    fn an_id_list_splits_into_sections_that_read_back() {
        let a = file(
            "Patient/Patient-1.ndjson",
            &(0..300).map(|i| format!("p{i}")).collect::<Vec<_>>(),
        );
        let b = file(
            "Patient/Patient-2.ndjson",
            &(300..310).map(|i| format!("p{i}")).collect::<Vec<_>>(),
        );
        for shards in [1, 3, 16] {
            let (bytes, offsets) = encode_id_list(&[&a, &b], shards);
            let list = IdList {
                key: "k".into(),
                offsets,
            };
            assert_eq!(list.shards(), shards);
            let mut again: Vec<Vec<IdSeen>> = vec![Vec::new(), Vec::new()];
            for shard in 0..shards {
                let range = list.section(shard).unwrap();
                let runs = decode_section(&bytes[range.start as usize..range.end as usize], 2).unwrap();
                for (n, run) in runs.into_iter().enumerate() {
                    assert!(run.iter().all(|id| shard_of(id.hash(), shards) == shard));
                    again[n].extend(run);
                }
            }
            assert_eq!(SortedIds::from_sorted(again[0].clone()), a.ids, "{shards} shards");
            assert_eq!(SortedIds::from_sorted(again[1].clone()), b.ids, "{shards} shards");
        }
        assert!(decode_section(&[1, 0, 0, 0], 1).is_none(), "a count with no ids");
        assert!(decode_section(&[0, 0, 0, 0, 9], 1).is_none(), "bytes left over");
    }

    #[test]
    fn each_repeated_id_is_found_in_exactly_one_shard() {
        let ids = |range: std::ops::Range<u32>| range.map(|i| format!("o{i}")).collect::<Vec<_>>();
        let mut second = ids(1000..2000);
        second.extend(ids(0..40));
        let files = [
            file("Observation/Observation-1.ndjson", &ids(0..1000)),
            file("Observation/Observation-2.ndjson", &second),
        ];
        let whole = files.to_vec();
        let expected = duplicate_ids(&whole);
        assert_eq!(expected.count, 40);
        for shards in [1, 2, 7] {
            let children: Vec<(Vec<FileReport>, Vec<u8>, IdList)> = files
                .iter()
                .map(|f| {
                    let (bytes, offsets) = encode_id_list(&[f], shards);
                    let mut bare = f.clone();
                    bare.ids = SortedIds::default();
                    (
                        vec![bare],
                        bytes,
                        IdList {
                            key: f.key.clone(),
                            offsets,
                        },
                    )
                })
                .collect();
            let mut found = Vec::new();
            let mut count = 0;
            for shard in 0..shards {
                let sections = children
                    .iter()
                    .map(|(reports, bytes, list)| {
                        let r = list.section(shard).unwrap();
                        (reports.clone(), bytes[r.start as usize..r.end as usize].to_vec())
                    })
                    .collect();
                let d = duplicates_in_sections(sections).unwrap();
                count += d.count;
                found.extend(d.named);
            }
            assert_eq!(count, 40, "{shards} shards");
            assert_eq!(Duplicates::from_reasons(found), expected, "{shards} shards");
        }
    }
}
