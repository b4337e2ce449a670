//! A small model of the planner's costs, for rules whose fix the planner has not seen yet.
//!
//! It mirrors `cost_index` with default settings (random_page_cost 4, cpu_tuple_cost 0.01,
//! cpu_index_tuple_cost 0.005, cpu_operator_cost 0.0025) in the pessimistic case of one heap page
//! per matching row. The what-if advisor replaces these figures with the planner's own.

const RANDOM_PAGE_COST: f64 = 4.0;
const CPU_TUPLE_COST: f64 = 0.01;
const CPU_INDEX_TUPLE_COST: f64 = 0.005;
const CPU_OPERATOR_COST: f64 = 0.0025;

use super::TableInfo;

/// Cost of a B-tree index scan returning `rows` rows of `table`.
pub fn index_scan_cost(table: &TableInfo, rows: f64) -> f64 {
    let rows = rows.max(1.0);
    let heap_pages = rows.min(table.relpages.max(1.0));
    // descending the tree: about one comparison per level, plus the leaf page
    let descent = table.reltuples.max(2.0).log2().ceil() * CPU_OPERATOR_COST + RANDOM_PAGE_COST;
    descent
        + RANDOM_PAGE_COST * heap_pages
        + rows * (CPU_INDEX_TUPLE_COST + CPU_TUPLE_COST + CPU_OPERATOR_COST)
}

/// The statement's total cost once a part of its plan costing `part` is replaced by one
/// costing `replacement`.
pub fn with_part_replaced(total: f64, part: f64, replacement: f64) -> f64 {
    (total - part + replacement).max(replacement).min(total)
}

#[cfg(test)]
mod tests {
    use super::super::testing::table;
    use super::*;

    #[test]
    fn a_few_rows_cost_a_few_random_pages() {
        let t = table("t", 1_000_000.0, &[], &[]);
        let c = index_scan_cost(&t, 5.0);
        assert!(c > 20.0 && c < 30.0, "{c}");
        // never more pages than the table has
        let all = index_scan_cost(&t, 1e9);
        assert!(all < RANDOM_PAGE_COST * (t.relpages + 2.0) + 1e9 * 0.02);
    }

    #[test]
    fn replacing_never_raises_the_cost() {
        assert_eq!(with_part_replaced(100.0, 90.0, 10.0), 20.0);
        assert_eq!(with_part_replaced(100.0, 10.0, 500.0), 100.0);
    }
}
