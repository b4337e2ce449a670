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

impl Delta {
    /// What `key` did by `counters` in the minute `bucket`.
    pub fn new(
        bucket: i64,
        key: &crate::sampling::delta::StatementKey,
        c: &crate::sampling::delta::Counters,
    ) -> Delta {
        Delta {
            bucket,
            queryid: key.queryid,
            userid: key.userid,
            toplevel: key.toplevel,
            calls: c.calls,
            total_ms: c.total_ms,
            rows: c.rows,
            shared_blks_hit: c.shared_blks_hit,
            shared_blks_read: c.shared_blks_read,
            temp_blks_written: c.temp_blks_written,
        }
    }
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
    /// The history the home database kept of this database until this sample (this sample
    /// included), for a database that has taken nothing yet: it replaces every older batch.
    #[serde(default)]
    pub catch_up: bool,
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

    /// The databases with a folder in the spool.
    pub fn databases(&self) -> io::Result<Vec<u32>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            if let Some(dbid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(dbid);
            }
        }
        out.sort_unstable();
        Ok(out)
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
            catch_up: false,
        }
    }

    #[test]
    fn batches_come_back_whole_oldest_first_per_database() {
        let (spool, root) = spool();
        for seq in [10, 9, 100] {
            spool.write(&batch(16384, seq)).unwrap();
        }
        spool.write(&batch(16385, 11)).unwrap();
        assert_eq!(spool.databases().unwrap(), [16384, 16385]);
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

/// Splits one sample into the batches of the databases it is handed to (every database but the
/// sampler's own and those in `skip`), with the texts each has not been given yet.
/// `deltas` are (dbid, delta); `captured` (queryid, dbid, set); `texts` looks a text up.
pub fn split(
    source: u32,
    seq: i64,
    deltas: &[(u32, Delta)],
    captured: &[(i64, u32, String)],
    given: &std::collections::HashMap<u32, std::collections::HashSet<i64>>,
    skip: &dyn Fn(u32) -> bool,
    texts: &dyn Fn(i64) -> Option<String>,
) -> Vec<Batch> {
    use std::collections::BTreeMap;
    let mut by_db: BTreeMap<u32, Batch> = BTreeMap::new();
    let new_batch = |dbid: u32| Batch {
        source,
        seq,
        dbid,
        deltas: Vec::new(),
        texts: Vec::new(),
        captured: Vec::new(),
        catch_up: false,
    };
    let handed = |dbid: u32| dbid != source && !skip(dbid);
    for (dbid, delta) in deltas.iter().filter(|(db, _)| handed(*db)) {
        by_db
            .entry(*dbid)
            .or_insert_with(|| new_batch(*dbid))
            .deltas
            .push(delta.clone());
    }
    for (queryid, dbid, set) in captured.iter().filter(|(_, db, _)| handed(*db)) {
        by_db
            .entry(*dbid)
            .or_insert_with(|| new_batch(*dbid))
            .captured
            .push((*queryid, set.clone()));
    }
    for batch in by_db.values_mut() {
        let mut needed: Vec<i64> = batch
            .deltas
            .iter()
            .map(|d| d.queryid)
            .filter(|q| !given.get(&batch.dbid).is_some_and(|g| g.contains(q)))
            .collect();
        needed.sort_unstable();
        needed.dedup();
        batch.texts = needed
            .into_iter()
            .filter_map(|q| texts(q).map(|t| (q, t)))
            .collect();
    }
    by_db.into_values().collect()
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn delta(queryid: i64) -> Delta {
        Delta {
            bucket: 60,
            queryid,
            userid: 10,
            toplevel: true,
            calls: 1,
            total_ms: 2.0,
            rows: 1,
            shared_blks_hit: 0,
            shared_blks_read: 0,
            temp_blks_written: 0,
        }
    }

    #[test]
    fn each_database_gets_its_own_rows_values_and_the_texts_it_lacks() {
        let deltas = [
            (5, delta(1)),
            (7, delta(1)),
            (7, delta(2)),
            (7, delta(2)),
            (9, delta(3)),
            (8, delta(4)),
        ];
        let captured = [
            (1, 7, "['a']".to_string()),
            (1, 5, "['home']".to_string()),
            (4, 8, "['x']".to_string()),
        ];
        let given: HashMap<u32, HashSet<i64>> = [(7, HashSet::from([1]))].into();
        let batches = split(5, 42, &deltas, &captured, &given, &|db| db == 9, &|q| {
            (q != 4).then(|| format!("text {q}"))
        });
        // the sampler's own database and the skipped one get nothing
        assert_eq!(batches.iter().map(|b| b.dbid).collect::<Vec<_>>(), [7, 8]);
        let seven = &batches[0];
        assert_eq!((seven.source, seven.seq), (5, 42));
        assert_eq!(seven.deltas.len(), 3);
        assert_eq!(seven.texts, [(2, "text 2".to_string())]);
        assert_eq!(seven.captured, [(1, "['a']".to_string())]);
        // a text gone from the home database (pruned) is not invented
        assert!(batches[1].texts.is_empty());
        assert_eq!(batches[1].captured, [(4, "['x']".to_string())]);
    }
}
