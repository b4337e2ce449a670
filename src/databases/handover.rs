//! The hand-over of one database's share of a sample, from the sampler (which reads
//! pg_stat_statements once for the whole server, in the home database) to the worker of the
//! database the statements ran in.
//!
//! A batch is a file in the spool, `<spool>/<dboid>/<seq>.json`, written under a temporary
//! name and renamed when complete, so a reader never sees half a batch. Sequence numbers come
//! from the home database and only grow; the receiving database stores the last one it took
//! with the rows of the batch, in one transaction, so a batch read twice (a crash between that
//! commit and the file's removal) is skipped, never counted twice: figures stay exact.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One history delta: what a (queryid, role, toplevel) did in the database since the last
/// sample, in the minute `bucket` (seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub bucket: i64,
    pub queryid: i64,
    pub userid: u32,
    pub toplevel: bool,
    pub calls: i64,
    pub total_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub temp_blks_written: i64,
}

/// One database's share of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Which home database numbered it: a new home starts its own sequence.
    pub source: u32,
    pub seq: i64,
    pub dbid: u32,
    pub deltas: Vec<Delta>,
    /// Texts of statements this database has not been given yet: (queryid, text).
    pub texts: Vec<(i64, String)>,
    /// Captured value sets of statements that ran here: (queryid, `$n`-ordered literals as JSON).
    pub captured: Vec<(i64, String)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty() && self.texts.is_empty() && self.captured.is_empty()
    }
}

/// Whether a batch is new to a database that took `last` = (source, seq) before.
pub fn is_new(batch: &Batch, last: Option<(u32, i64)>) -> bool {
    match last {
        Some((source, seq)) if source == batch.source => batch.seq > seq,
        _ => true,
    }
}

/// The spool directory: one folder per database, readable only by the server's OS user.
pub struct Spool {
    root: PathBuf,
}

const SUFFIX: &str = ".json";
const PARTIAL: &str = ".partial";

impl Spool {
    pub fn new(root: impl Into<PathBuf>) -> Spool {
        Spool { root: root.into() }
    }

    fn folder(&self, dbid: u32) -> PathBuf {
        self.root.join(dbid.to_string())
    }

    /// Writes `batch` so that it appears whole or not at all.
    pub fn write(&self, batch: &Batch) -> io::Result<()> {
        let folder = self.folder(batch.dbid);
        create_private_dir(&self.root)?;
        create_private_dir(&folder)?;
        let name = format!("{:020}", batch.seq);
        let partial = folder.join(format!("{name}{PARTIAL}"));
        let mut file = fs::File::create(&partial)?;
        file.write_all(&serde_json::to_vec(batch).map_err(io::Error::other)?)?;
        drop(file);
        fs::rename(&partial, folder.join(format!("{name}{SUFFIX}")))
    }

    /// The complete batches waiting for `dbid`, oldest first.
    pub fn pending(&self, dbid: u32) -> io::Result<Vec<PathBuf>> {
        let folder = self.folder(dbid);
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut found: Vec<(i64, PathBuf)> = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if let Some(seq) = seq_of(&path) {
                found.push((seq, path));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, p)| p).collect())
    }

    pub fn read(path: &Path) -> io::Result<Batch> {
        serde_json::from_slice(&fs::read(path)?).map_err(io::Error::other)
    }

    /// Removes what `dbid` has taken: every batch up to `seq`.
    pub fn remove_through(&self, dbid: u32, seq: i64) -> io::Result<()> {
        for path in self.pending(dbid)? {
            if seq_of(&path).is_some_and(|s| s <= seq) {
                fs::remove_file(path)?;
            }
        }
        Ok(())
    }

    /// Bytes waiting for `dbid`: a database whose worker has not run for long is reported.
    pub fn waiting_bytes(&self, dbid: u32) -> io::Result<u64> {
        let mut total = 0;
        for path in self.pending(dbid)? {
            total += fs::metadata(path)?.len();
        }
        Ok(total)
    }

    /// A dropped database, or one without the extension any more: its batches go.
    pub fn forget(&self, dbid: u32) -> io::Result<()> {
        match fs::remove_dir_all(self.folder(dbid)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn seq_of(path: &Path) -> Option<i64> {
    path.file_name()?
        .to_str()?
        .strip_suffix(SUFFIX)?
        .parse()
        .ok()
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool() -> (Spool, PathBuf) {
        let root = std::env::temp_dir().join(format!(
            "optischema-spool-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&root);
        (Spool::new(&root), root)
    }

    fn batch(dbid: u32, seq: i64) -> Batch {
        Batch {
            source: 5,
            seq,
            dbid,
            deltas: vec![Delta {
                bucket: 1_700_000_040,
                queryid: -42,
                userid: 10,
                toplevel: true,
                calls: 3,
                total_ms: 1.5,
                rows: 7,
                shared_blks_hit: 9,
                shared_blks_read: 1,
                temp_blks_written: 0,
            }],
            texts: vec![(-42, "SELECT * FROM t WHERE a = $1 -- é".into())],
            captured: vec![(-42, r#"["'x'"]"#.into())],
        }
    }

    #[test]
    fn batches_come_back_whole_oldest_first_per_database() {
        let (spool, root) = spool();
        for seq in [10, 9, 100] {
            spool.write(&batch(16384, seq)).unwrap();
        }
        spool.write(&batch(16385, 11)).unwrap();
        // a batch being written is not offered
        fs::write(
            root.join("16384").join("00000000000000000101.json.partial"),
            b"{",
        )
        .unwrap();
        let pending = spool.pending(16384).unwrap();
        let seqs: Vec<i64> = pending
            .iter()
            .map(|p| Spool::read(p).unwrap().seq)
            .collect();
        assert_eq!(seqs, [9, 10, 100]);
        assert_eq!(Spool::read(&pending[0]).unwrap(), batch(16384, 9));
        assert_eq!(spool.pending(1).unwrap(), Vec::<PathBuf>::new());
        spool.remove_through(16384, 10).unwrap();
        assert_eq!(spool.pending(16384).unwrap().len(), 1);
        assert!(spool.waiting_bytes(16384).unwrap() > 100);
        spool.forget(16384).unwrap();
        spool.forget(16384).unwrap();
        assert!(spool.pending(16384).unwrap().is_empty());
        assert_eq!(spool.pending(16385).unwrap().len(), 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(root.join("16385"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_batch_taken_before_is_skipped_and_a_new_home_starts_over() {
        let b = batch(1, 7);
        assert!(is_new(&b, None));
        assert!(is_new(&b, Some((5, 6))));
        assert!(!is_new(&b, Some((5, 7))));
        assert!(!is_new(&b, Some((5, 8))));
        assert!(is_new(&b, Some((6, 100))));
        assert!(!b.is_empty());
    }
}
