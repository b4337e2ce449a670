//! Size of a B-tree that does not exist yet, as a plain `CREATE INDEX` would build it.
//!
//! The layout is nbtree's bottom-up build (nbtsort.c): 8 KB pages with a 24-byte header and 16
//! bytes of special space, each tuple an 8-byte header plus its MAXALIGN'ed data plus a 4-byte
//! line pointer, one metapage. A page is finished when its free space drops under the fillfactor's
//! target (leaves 90 % by default, internal pages 70 %), and its last tuple moves to the next page
//! (a high key takes its place), so a page keeps one tuple fewer than it took in.
//!
//! Deduplication (PostgreSQL 13+): when the build may deduplicate (see [`Shape::keys`]), the
//! entries of one key value become posting list tuples: the key once, then 6 bytes per heap TID,
//! MAXALIGN'ed, at most [`MAX_POSTING_TUPLE`] bytes each, so a large group of equal keys becomes
//! several full posting tuples and a remainder; a key seen once stays a plain tuple. How many
//! entries share a key comes from the column statistics ([`KeyDistribution`]): the most common
//! values with their frequencies, and the other values around their average, spread as if rows
//! picked them at random (a Poisson law, at least one row each).

use super::distinct::{self, Sampling};

const BLOCK: i64 = 8192;
const PAGE_HEADER: i64 = 24;
const BTREE_SPECIAL: i64 = 16;
const INDEX_TUPLE_HEADER: i64 = 8;
const LINE_POINTER: i64 = 4;
const HEAP_TID: i64 = 6;
/// PageGetFreeSpace() of a fresh page: one line pointer is set aside for the high key, and the
/// function itself keeps room for the next tuple's line pointer.
const EMPTY_PAGE_FREE: i64 = BLOCK - PAGE_HEADER - BTREE_SPECIAL - 2 * LINE_POINTER;
/// nbtsort.c: posting list tuples built by CREATE INDEX stay under 1/10 of a page, minus a line
/// pointer (MAXALIGN_DOWN(8192 / 10) - 4).
pub const MAX_POSTING_TUPLE: i64 = 812;
pub const DEFAULT_LEAF_FILLFACTOR: i64 = 90;
const INTERNAL_FILLFACTOR: i64 = 70;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeSize {
    pub pages: f64,
    pub tree_height: i32,
}

/// What the index's entries look like.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Average bytes of the key columns' data in one entry.
    pub key_width: i64,
    /// Average bytes of the INCLUDE columns' data in one entry.
    pub include_width: i64,
    /// How entries share keys, when the build deduplicates them: a non-unique B-tree whose key
    /// columns all compare equal only when their bytes are equal (`_bt_allequalimage`: not
    /// `numeric`, floats or non-deterministic collations), without INCLUDE columns, with
    /// `deduplicate_items` on. `None`: one tuple per entry.
    pub keys: Option<KeyDistribution>,
    /// The index's leaf fillfactor, in percent.
    pub leaf_fillfactor: i64,
}

impl Shape {
    /// One tuple per entry, default fillfactor: what a unique index is.
    pub fn plain(key_width: i64, include_width: i64) -> Shape {
        Shape {
            key_width,
            include_width,
            keys: None,
            leaf_fillfactor: DEFAULT_LEAF_FILLFACTOR,
        }
    }
}

/// One column of an index entry, as `index_form_tuple()` lays it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnLayout {
    /// Average bytes of its data (a varlena with its header as stored).
    pub width: f64,
    /// pg_type.typlen: fixed bytes, -1 for a varlena, -2 for a C string.
    pub typlen: i16,
    /// pg_type.typalign, in bytes.
    pub align: i64,
    /// A varlena that may be stored with a 1-byte header (typstorage other than plain).
    pub packable: bool,
}

/// 1-byte varlena headers hold values of at most this many bytes, header included.
const SHORT_VARLENA_MAX: i64 = 127;

/// Bytes of an entry's data: the first `keys` columns (what a pivot tuple keeps), and all of
/// them, each column after the padding its alignment puts before it. A packable varlena short
/// enough for a 1-byte header is stored unaligned; after a column whose length varies, the
/// offset is unknown, and the padding is taken as half the alignment's slack.
pub fn entry_widths(columns: &[ColumnLayout], keys: usize) -> (i64, i64) {
    let mut offset = 0.0;
    let mut offset_known = true;
    let mut key_width = 0.0;
    for (i, column) in columns.iter().enumerate() {
        let unaligned = column.typlen == -2
            || (column.typlen == -1 && column.packable && column.width <= SHORT_VARLENA_MAX as f64);
        let align = column.align.max(1);
        if !unaligned && align > 1 {
            offset += if offset_known {
                ((align - (offset as i64) % align) % align) as f64
            } else {
                (align - 1) as f64 / 2.0
            };
        }
        offset += column.width.max(0.0);
        offset_known &= column.typlen > 0;
        if i + 1 == keys {
            key_width = offset;
        }
    }
    (key_width.round() as i64, offset.round() as i64)
}

/// How the entries of an index share key values.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDistribution {
    /// Distinct keys among the entries (NULL counted as one key, as nbtree deduplicates NULLs).
    pub distinct: f64,
    /// Share of the entries held by each of the most common keys.
    pub common: Vec<f64>,
}

/// What the planner's statistics say about one key column (pg_statistic).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStats {
    pub null_frac: f64,
    /// stadistinct: distinct non-null values if positive, minus their share of the rows if
    /// negative, unknown if 0.
    pub n_distinct: f64,
    /// Frequencies of the most common values, as shares of all rows.
    pub common_freqs: Vec<f64>,
    /// Correlation of the values' order with the rows' order on disk, -1..1.
    pub correlation: f64,
    /// How ANALYZE sampled the table, when known.
    pub sampling: Option<Sampling>,
}

impl ColumnStats {
    fn distinct_values(&self, rows: f64) -> Option<f64> {
        if self.n_distinct == 0.0 {
            return None;
        }
        // a positive n_distinct is a count, a negative one a share of the rows
        let count_on = |rows: f64| self.n_distinct.max(-self.n_distinct * rows);
        let mut values = count_on(rows);
        // a column in key order fools ANALYZE's block sample: its estimate is corrected on the
        // table as ANALYZE saw it, and scaled as the estimate is
        let in_key_order = self.correlation.abs() >= distinct::IN_KEY_ORDER;
        if let Some(s) = self.sampling.filter(|_| in_key_order) {
            let nonnull = 1.0 - self.null_frac;
            let estimated = count_on(s.table_rows);
            if let Some(d) = distinct::in_key_order(estimated, s.table_rows * nonnull, nonnull, &s)
            {
                values *= d / estimated;
            }
        }
        Some(values.max(1.0) + if self.null_frac > 0.0 { 1.0 } else { 0.0 })
    }
}

/// How the `rows * kept` entries of an index on columns described by `columns` (`None` for an
/// expression, which has no statistics) share keys; `kept` is the share of the table's `rows` a
/// partial index holds. `None` when unknown: then every entry is taken as distinct.
///
/// One column: its most common values (and NULLs) with their frequencies, the rest spread
/// evenly over the other distinct values. Several columns: `combinations`, the keys counted on
/// the columns together (see `whatif::groups`), when known; else the product of their distinct
/// counts (as the planner's estimate_num_groups without extended statistics). Either way at
/// least as many as the column with the most values, at most one key per entry. A partial index
/// keeps a value when at least one of its rows passes.
pub fn key_distribution(
    rows: f64,
    columns: &[Option<ColumnStats>],
    kept: f64,
    combinations: Option<f64>,
) -> Option<KeyDistribution> {
    let rows = rows.max(1.0);
    let kept = kept.clamp(0.0, 1.0);
    let entries = (rows * kept).max(1.0);
    let mut distinct = 1.0;
    let mut most: f64 = 1.0;
    let mut common = Vec::new();
    for column in columns {
        let values = column.as_ref()?.distinct_values(rows)?;
        distinct *= values;
        most = most.max(values);
    }
    if let Some(counted) = combinations.filter(|_| columns.len() > 1) {
        distinct = counted.max(most).min(distinct);
    }
    if let [Some(only)] = columns {
        common = only.common_freqs.clone();
        if only.null_frac > 0.0 {
            common.push(only.null_frac);
        }
        common.retain(|f| *f > 0.0);
    }
    distinct = distinct.min(rows);
    let common_share: f64 = common.iter().sum::<f64>().min(1.0);
    let mut rest_distinct = (distinct - common.len() as f64).max(0.0);
    if kept < 1.0 {
        // a value with n rows keeps at least one of them with probability 1 - (1 - kept)^n
        let rest_rows = rows * (1.0 - common_share);
        if rest_distinct > 0.0 {
            let per_value = rest_rows / rest_distinct;
            rest_distinct *= 1.0 - (1.0 - kept).powf(per_value);
        }
    }
    // at least one entry per key
    let rest_entries = entries * (1.0 - common_share);
    rest_distinct = rest_distinct.min(rest_entries);
    Some(KeyDistribution {
        distinct: common.len() as f64 + rest_distinct,
        common,
    })
}

fn maxalign(n: i64) -> i64 {
    (n + 7) & !7
}

/// One kind of tuple on the leaf level: its size (MAXALIGN'ed, without line pointer), the bytes
/// of its posting list (which suffix truncation would remove were it to become a high key), and
/// how many there are.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LeafTuples {
    size: i64,
    posting_bytes: i64,
    count: f64,
}

/// The tuples `group` equal entries become: full posting tuples, then the remainder (a plain
/// tuple when one entry is left).
fn posting_tuples(group: f64, key_tuple: i64) -> Vec<LeafTuples> {
    let per_posting = (MAX_POSTING_TUPLE / 8 * 8 - key_tuple) / HEAP_TID;
    let group = group.round().max(1.0);
    if per_posting < 2 {
        return vec![LeafTuples {
            size: key_tuple,
            posting_bytes: 0,
            count: group,
        }];
    }
    let full = (group / per_posting as f64).floor();
    let left = group - full * per_posting as f64;
    let posting = |tids: i64| {
        let size = maxalign(key_tuple + tids * HEAP_TID);
        LeafTuples {
            size,
            posting_bytes: size - key_tuple,
            count: 1.0,
        }
    };
    let mut tuples = Vec::new();
    if full > 0.0 {
        tuples.push(LeafTuples {
            count: full,
            ..posting(per_posting)
        });
    }
    if left >= 2.0 {
        tuples.push(posting(left as i64));
    } else if left >= 1.0 {
        tuples.push(LeafTuples {
            size: key_tuple,
            posting_bytes: 0,
            count: 1.0,
        });
    }
    tuples
}

/// Standard normal quantiles at (j + 0.5) / 32 for j = 16..31 (the lower half mirrors them).
const NORMAL_QUANTILES: [f64; 16] = [
    0.0392, 0.1178, 0.1971, 0.2777, 0.3601, 0.4451, 0.5334, 0.6261, 0.7245, 0.8305, 0.9468, 1.0775,
    1.2299, 1.4178, 1.6759, 2.1539,
];

/// 32 equally likely sizes of a group of equal keys averaging `mean` entries: one plus a
/// Poisson count, its quantiles exact for small means and from the normal law for large ones.
fn group_sizes(mean: f64) -> Vec<f64> {
    let extra = (mean - 1.0).max(0.0);
    let probits = NORMAL_QUANTILES
        .iter()
        .rev()
        .map(|z| -z)
        .chain(NORMAL_QUANTILES.iter().copied());
    if extra > 50.0 {
        return probits
            .map(|z| 1.0 + (extra + z * extra.sqrt()).round().max(0.0))
            .collect();
    }
    let mut sizes = Vec::with_capacity(32);
    let (mut k, mut pmf) = (0.0, (-extra).exp());
    let mut cdf = pmf;
    for j in 0..32 {
        let u = (j as f64 + 0.5) / 32.0;
        while cdf < u && k < 500.0 {
            k += 1.0;
            pmf *= extra / k;
            cdf += pmf;
        }
        sizes.push(1.0 + k);
    }
    sizes
}

/// The leaf level's tuples, grouped by kind.
fn leaf_tuples(entries: f64, shape: &Shape) -> Vec<LeafTuples> {
    let key_tuple = maxalign(INDEX_TUPLE_HEADER + shape.key_width.max(0));
    let plain = || {
        vec![LeafTuples {
            size: maxalign(INDEX_TUPLE_HEADER + (shape.key_width + shape.include_width).max(1)),
            posting_bytes: 0,
            count: entries,
        }]
    };
    let Some(keys) = &shape.keys else {
        return plain();
    };
    if keys.distinct >= entries {
        return plain();
    }
    let mut tuples: Vec<LeafTuples> = Vec::new();
    let mut add = |group: f64, times: f64| {
        for t in posting_tuples(group, key_tuple) {
            let count = t.count * times;
            match tuples
                .iter_mut()
                .find(|u| u.size == t.size && u.posting_bytes == t.posting_bytes)
            {
                Some(u) => u.count += count,
                None => tuples.push(LeafTuples { count, ..t }),
            }
        }
    };
    for share in &keys.common {
        add(share * entries, 1.0);
    }
    let rest_entries = entries * (1.0 - keys.common.iter().sum::<f64>()).max(0.0);
    let rest_keys = (keys.distinct - keys.common.len() as f64).max(0.0);
    if rest_keys >= 1.0 && rest_entries >= 1.0 {
        let sizes = group_sizes(rest_entries / rest_keys);
        let times = rest_keys / sizes.len() as f64;
        for size in sizes {
            add(size, times);
        }
    }
    tuples
}

/// How many tuples a level of `tuples` fills pages with, as _bt_buildadd() lays them out:
/// `(data tuples per page on average, pages)`, the pages exact when the level is small.
fn fill_level(tuples: &[LeafTuples], free_target: i64, leaf: bool) -> (f64, f64) {
    let total: f64 = tuples.iter().map(|t| t.count).sum();
    if total <= 0.0 {
        return (1.0, 1.0);
    }
    // a stream in which every kind of tuple appears in its share, evenly spread (golden ratio
    // sequence), long enough for a steady average
    let mut cumulative = Vec::with_capacity(tuples.len());
    let mut sum = 0.0;
    for t in tuples {
        sum += t.count / total;
        cumulative.push(sum);
    }
    let pick = |u: f64| {
        let i = cumulative.partition_point(|c| *c < u);
        &tuples[i.min(tuples.len() - 1)]
    };
    let hard_extra = if leaf { 8 } else { 0 };
    let (mut free, mut on_page, mut last_posting, mut last_size) = (EMPTY_PAGE_FREE, 0i64, 0, 0);
    let (mut done_pages, mut done_tuples, mut step) = (0.0, 0.0, 0.0);
    let mut u = 0.5;
    while step < total {
        if done_pages >= 32.0 || (step >= 2000.0 && done_pages >= 4.0) {
            return (
                done_tuples / done_pages,
                (total / (done_tuples / done_pages)).ceil(),
            );
        }
        let t = pick(u);
        u = (u + 0.618_033_988_749_895) % 1.0;
        if on_page >= 2 && (free < t.size + hard_extra || free + last_posting < free_target) {
            // the page's last tuple moves on to the next page, its high key takes its place
            done_pages += 1.0;
            done_tuples += (on_page - 1) as f64;
            free = EMPTY_PAGE_FREE - last_size;
            on_page = 1;
        }
        free -= t.size + LINE_POINTER;
        on_page += 1;
        last_posting = t.posting_bytes;
        last_size = t.size + LINE_POINTER;
        step += 1.0;
    }
    let pages = done_pages + 1.0;
    (total / pages, pages)
}

/// The B-tree holding `entries` entries shaped as `shape`.
pub fn btree(entries: f64, shape: &Shape) -> TreeSize {
    let entries = entries.max(1.0);
    let leaf_target = BLOCK * (100 - shape.leaf_fillfactor.clamp(10, 100)) / 100;
    let (_, leaves) = fill_level(&leaf_tuples(entries, shape), leaf_target, true);
    // internal pages hold one pivot per page below: the key, truncated of INCLUDE columns
    let pivot = maxalign(INDEX_TUPLE_HEADER + shape.key_width.max(1));
    let internal_target = BLOCK * (100 - INTERNAL_FILLFACTOR) / 100;
    let mut pages = leaves;
    let mut level = leaves;
    let mut height = 0;
    while level > 1.0 {
        let pivots = [LeafTuples {
            size: pivot,
            posting_bytes: 0,
            count: level,
        }];
        level = fill_level(&pivots, internal_target, false).1;
        pages += level;
        height += 1;
    }
    TreeSize {
        pages: pages + 1.0,
        tree_height: height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deduplicated(key_width: i64, distinct: f64, common: Vec<f64>) -> Shape {
        Shape {
            keys: Some(KeyDistribution { distinct, common }),
            ..Shape::plain(key_width, 0)
        }
    }

    #[test]
    fn a_million_distinct_bigints_fill_leaves_as_nbtsort_does() {
        // 16-byte tuples + 4-byte line pointers: 367 taken in per page, one moves on as the
        // high key: 366 per leaf, 2733 leaves, 10 internal pages, the root, the metapage
        // (pg_relation_size of the real index: 2745 pages)
        let s = btree(1_000_000.0, &Shape::plain(8, 0));
        assert_eq!(s.pages, 2745.0);
        assert_eq!(s.tree_height, 2);
    }

    #[test]
    fn include_columns_widen_leaves_but_not_pivots() {
        // int4 key + bigint INCLUDE: 24-byte tuples, 261 per leaf (real index: 3853 pages)
        let s = btree(1_000_000.0, &Shape::plain(4, 8));
        assert_eq!(s.pages, 3832.0 + 14.0 + 1.0 + 1.0);
    }

    #[test]
    fn tiny_index_is_one_leaf_and_the_metapage() {
        assert_eq!(
            btree(10.0, &Shape::plain(8, 0)),
            TreeSize {
                pages: 2.0,
                tree_height: 0
            }
        );
    }

    #[test]
    fn wider_keys_take_more_pages() {
        assert!(
            btree(100_000.0, &Shape::plain(40, 0)).pages
                > btree(100_000.0, &Shape::plain(8, 0)).pages * 2.0
        );
    }

    #[test]
    fn posting_tuples_hold_at_most_132_int4_tids() {
        // 16-byte key tuple: MAXALIGN(16 + 132 * 6) = 808 <= 812, 133 would not fit
        assert_eq!(
            posting_tuples(300.0, 16),
            vec![
                LeafTuples {
                    size: 808,
                    posting_bytes: 792,
                    count: 2.0
                },
                LeafTuples {
                    size: 232,
                    posting_bytes: 216,
                    count: 1.0
                },
            ]
        );
        // one entry left over stays a plain tuple
        assert_eq!(
            posting_tuples(133.0, 16),
            vec![
                LeafTuples {
                    size: 808,
                    posting_bytes: 792,
                    count: 1.0
                },
                LeafTuples {
                    size: 16,
                    posting_bytes: 0,
                    count: 1.0
                },
            ]
        );
        assert_eq!(
            posting_tuples(4.0, 16),
            vec![LeafTuples {
                size: 40,
                posting_bytes: 24,
                count: 1.0
            }]
        );
        // a key too wide for two TIDs in a posting tuple is never deduplicated
        assert_eq!(
            posting_tuples(5.0, 800),
            vec![LeafTuples {
                size: 800,
                posting_bytes: 0,
                count: 5.0
            }]
        );
    }

    #[test]
    fn full_posting_tuples_fill_leaves_nine_at_a_time() {
        // 10 posting tuples of 812 bytes with their line pointers fit (the posting list of
        // the last would be truncated away as high key); the 10th moves on: 9 per leaf
        let tuples = [LeafTuples {
            size: 808,
            posting_bytes: 792,
            count: 900.0,
        }];
        assert_eq!(fill_level(&tuples, 819, true), (9.0, 100.0));
    }

    #[test]
    fn a_hundred_values_in_a_million_rows() {
        // 10,000 entries per int4 key: 75 full posting tuples and one of 100 TIDs, 9 a leaf
        // (the real index: 852 pages, its pivots longer by a heap TID)
        let s = btree(1_000_000.0, &deduplicated(4, 100.0, vec![0.01; 100]));
        assert_eq!(s.pages, 850.0);
    }

    #[test]
    fn ten_entries_per_key_shrink_the_index_by_half() {
        // the real index on g / 10 over a million rows: 1157 pages, 2745 without deduplication
        let s = btree(1_000_000.0, &deduplicated(4, 100_000.0, vec![]));
        assert!((1157.0 * 0.95..1157.0 * 1.05).contains(&s.pages), "{s:?}");
    }

    #[test]
    fn distinct_keys_are_plain_tuples_even_when_deduplication_is_possible() {
        let s = btree(1_000_000.0, &deduplicated(4, 1_000_000.0, vec![]));
        assert_eq!(s.pages, btree(1_000_000.0, &Shape::plain(4, 0)).pages);
    }

    #[test]
    fn a_lower_fillfactor_takes_more_leaves() {
        let packed = btree(
            1_000_000.0,
            &Shape {
                leaf_fillfactor: 100,
                ..Shape::plain(8, 0)
            },
        );
        let loose = btree(
            1_000_000.0,
            &Shape {
                leaf_fillfactor: 50,
                ..Shape::plain(8, 0)
            },
        );
        // 406 and 204 entries per leaf
        assert_eq!(packed.pages, 2464.0 + 9.0 + 1.0 + 1.0);
        assert!((4900.0..5000.0).contains(&loose.pages), "{loose:?}");
    }

    fn fixed(width: i64, align: i64) -> ColumnLayout {
        ColumnLayout {
            width: width as f64,
            typlen: width as i16,
            align,
            packable: false,
        }
    }

    fn varlena(width: i64) -> ColumnLayout {
        ColumnLayout {
            width: width as f64,
            typlen: -1,
            align: 4,
            packable: true,
        }
    }

    #[test]
    fn a_bigint_after_a_date_waits_for_its_alignment() {
        // date (4) then bigint: 4 bytes of padding; then int4, and a short numeric unaligned
        let columns = [fixed(4, 4), fixed(8, 8), fixed(4, 4), varlena(5)];
        assert_eq!(entry_widths(&columns, 1), (4, 4 + 4 + 8 + 4 + 5));
        // the same columns with the bigint first need none
        let columns = [fixed(8, 8), fixed(4, 4), fixed(4, 4), varlena(5)];
        assert_eq!(entry_widths(&columns, 2), (12, 21));
    }

    #[test]
    fn after_a_varying_length_a_column_waits_half_its_alignment() {
        // text of 10 bytes on average, then a bigint: 3.5 bytes of padding expected
        let columns = [varlena(10), fixed(8, 8)];
        assert_eq!(entry_widths(&columns, 1), (10, 22));
        // a long varlena has a 4-byte header and is aligned
        let columns = [fixed(2, 2), varlena(300)];
        assert_eq!(entry_widths(&columns, 2), (304, 304));
        // a plain-storage varlena is never packed
        let plain = ColumnLayout {
            packable: false,
            ..varlena(20)
        };
        assert_eq!(entry_widths(&[fixed(1, 1), plain], 1), (1, 24));
    }

    #[test]
    fn padding_makes_an_include_index_wider() {
        // lineitem (l_shipdate) INCLUDE (l_orderkey, l_linenumber, l_quantity, l_discount):
        // the padding before the bigint takes the entry from 44 to 52 bytes with its line pointer
        let columns = [
            fixed(4, 4),
            fixed(8, 8),
            fixed(4, 4),
            varlena(7),
            varlena(7),
        ];
        let (keys, all) = entry_widths(&columns, 1);
        assert_eq!((keys, all), (4, 34));
        let padded = btree(6e6, &Shape::plain(keys, all - keys)).pages;
        let unpadded = btree(6e6, &Shape::plain(4, 26)).pages;
        assert!(
            (padded / unpadded - 52.0 / 44.0).abs() < 0.02,
            "{padded} {unpadded}"
        );
    }

    #[test]
    fn group_sizes_keep_their_mean() {
        for mean in [1.0, 2.0, 4.0, 10.0, 40.0, 1000.0] {
            let sizes = group_sizes(mean);
            let average = sizes.iter().sum::<f64>() / sizes.len() as f64;
            assert!((average - mean).abs() <= 0.05 * mean, "{mean}: {sizes:?}");
            assert!(sizes.iter().all(|s| *s >= 1.0));
        }
        assert_eq!(group_sizes(1.0), vec![1.0; 32]);
    }

    #[test]
    fn one_column_keeps_its_common_values_and_nulls() {
        let stats = ColumnStats {
            null_frac: 0.1,
            n_distinct: -0.05,
            common_freqs: vec![0.5, 0.2],
            correlation: 0.0,
            sampling: None,
        };
        let keys = key_distribution(1_000_000.0, &[Some(stats)], 1.0, None).unwrap();
        // 50,000 values and NULL
        assert_eq!(keys.distinct, 50_001.0);
        assert_eq!(keys.common, vec![0.5, 0.2, 0.1]);
    }

    #[test]
    fn several_columns_multiply_their_distinct_counts_up_to_one_per_row() {
        let column = |n_distinct: f64| {
            Some(ColumnStats {
                null_frac: 0.0,
                n_distinct,
                common_freqs: vec![0.02],
                correlation: 0.0,
                sampling: None,
            })
        };
        let keys =
            key_distribution(1_000_000.0, &[column(100.0), column(37.0)], 1.0, None).unwrap();
        assert_eq!(
            keys,
            KeyDistribution {
                distinct: 3700.0,
                common: vec![]
            }
        );
        let unique =
            key_distribution(1_000_000.0, &[column(100.0), column(-1.0)], 1.0, None).unwrap();
        assert_eq!(unique.distinct, 1_000_000.0);
        // an expression has no statistics
        assert_eq!(
            key_distribution(1_000_000.0, &[column(100.0), None], 1.0, None),
            None
        );
    }

    #[test]
    fn counted_combinations_replace_the_product_within_its_bounds() {
        let column = |n_distinct: f64| {
            Some(ColumnStats {
                null_frac: 0.0,
                n_distinct,
                common_freqs: vec![],
                correlation: 0.0,
                sampling: None,
            })
        };
        // TPC-H's (l_partkey, l_suppkey): 200,000 × 10,000 values, 800,000 pairs
        let rows = 6_001_215.0;
        let pairs = [column(200_000.0), column(10_000.0)];
        let keys = key_distribution(rows, &pairs, 1.0, Some(800_000.0)).unwrap();
        assert_eq!(keys.distinct, 800_000.0);
        // the product, capped at one key per row, when nothing was counted
        assert_eq!(
            key_distribution(rows, &pairs, 1.0, None).unwrap().distinct,
            rows
        );
        // never fewer than the column with the most values, nor more than the product
        assert_eq!(
            key_distribution(rows, &pairs, 1.0, Some(5_000.0))
                .unwrap()
                .distinct,
            200_000.0
        );
        let small = [column(100.0), column(37.0)];
        assert_eq!(
            key_distribution(rows, &small, 1.0, Some(90_000.0))
                .unwrap()
                .distinct,
            3_700.0
        );
        // one column keeps its own statistics
        assert_eq!(
            key_distribution(rows, &[column(100.0)], 1.0, Some(5.0))
                .unwrap()
                .distinct,
            100.0
        );
    }

    #[test]
    fn a_partial_index_keeps_the_values_of_its_rows() {
        let stats = ColumnStats {
            null_frac: 0.0,
            n_distinct: -0.1,
            common_freqs: vec![],
            correlation: 0.0,
            sampling: None,
        };
        // 100,000 values of 10 rows, a tenth of the rows kept: 1 - 0.9^10 of the values
        let keys = key_distribution(1_000_000.0, &[Some(stats)], 0.1, None).unwrap();
        assert!((65_000.0..65_200.0).contains(&keys.distinct), "{keys:?}");
    }

    #[test]
    fn order_lines_stored_by_order_deduplicate_as_their_real_orders_do() {
        // TPC-H SF1's lineitem (l_orderkey): ANALYZE's 407,749 orders, 1,500,000 real; a plain
        // CREATE INDEX is 74.3 MB
        let stats = |correlation: f64| ColumnStats {
            null_frac: 0.0,
            n_distinct: 407_749.0,
            common_freqs: vec![],
            correlation,
            sampling: Some(Sampling {
                target_rows: 30_000.0,
                table_blocks: 112_503.0,
                table_rows: 6_001_215.0,
            }),
        };
        let megabytes = |correlation: f64| {
            let keys = key_distribution(6_001_215.0, &[Some(stats(correlation))], 1.0, None);
            let shape = Shape {
                keys,
                ..Shape::plain(4, 0)
            };
            btree(6_001_215.0, &shape).pages * BLOCK as f64 / 1_048_576.0
        };
        let sorted = megabytes(0.9999997);
        assert!((sorted - 74.3).abs() < 0.10 * 74.3, "{sorted}");
        // the same estimate on a column in no particular order is taken as it is
        let shuffled = megabytes(0.01);
        assert!(shuffled < 55.0, "{shuffled}");
    }
}
