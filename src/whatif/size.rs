//! Size of a B-tree that does not exist yet, from its row count and key width.
//!
//! The layout is nbtree's: 8 KB pages with a 24-byte header and 16 bytes of special space, leaf
//! pages filled to the default fillfactor (90 %), internal pages to 70 %, each tuple an 8-byte
//! header plus its MAXALIGN'ed data plus a 4-byte line pointer, and one metapage. Deduplication
//! of equal keys (PostgreSQL 13+) is not modelled: for columns with many duplicates the real
//! index is smaller.

const BLOCK: f64 = 8192.0;
const PAGE_HEADER: f64 = 24.0;
const BTREE_SPECIAL: f64 = 16.0;
const INDEX_TUPLE_HEADER: i64 = 8;
const LINE_POINTER: f64 = 4.0;
const LEAF_FILL: f64 = 0.90;
const INTERNAL_FILL: f64 = 0.70;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeSize {
    pub pages: f64,
    pub tree_height: i32,
}

fn maxalign(n: i64) -> i64 {
    (n + 7) & !7
}

/// `tuples` entries with keys (and INCLUDE columns) `data_width` bytes wide on average.
pub fn btree(tuples: f64, data_width: i64) -> TreeSize {
    let tuple = maxalign(INDEX_TUPLE_HEADER + data_width.max(1)) as f64 + LINE_POINTER;
    let usable = BLOCK - PAGE_HEADER - BTREE_SPECIAL;
    let per_leaf = (usable * LEAF_FILL / tuple).floor().max(2.0);
    let leaves = (tuples.max(1.0) / per_leaf).ceil();
    let per_internal = (usable * INTERNAL_FILL / tuple).floor().max(2.0);
    let mut pages = leaves;
    let mut level = leaves;
    let mut height = 0;
    while level > 1.0 {
        level = (level / per_internal).ceil();
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

    #[test]
    fn a_million_bigints() {
        // 16-byte tuples + 4-byte line pointers: ~366 per 90 %-full leaf page
        let s = btree(1_000_000.0, 8);
        assert!((2700.0..2800.0).contains(&s.pages), "{s:?}");
        assert_eq!(s.tree_height, 2);
    }

    #[test]
    fn tiny_index_is_one_leaf_and_the_metapage() {
        assert_eq!(
            btree(10.0, 8),
            TreeSize {
                pages: 2.0,
                tree_height: 0
            }
        );
    }

    #[test]
    fn wider_keys_take_more_pages() {
        assert!(btree(100_000.0, 40).pages > btree(100_000.0, 8).pages * 2.0);
    }
}
