//! How many distinct values a column stored in key order really has, from what ANALYZE
//! estimated.
//!
//! ANALYZE samples in two stages (`acquire_sample_rows`): up to `targrows` random blocks, then
//! `targrows` random rows among those blocks' rows. When a column's equal values lie next to each
//! other on disk (order lines stored by order, rows loaded in key order), two sampled rows of
//! one block often share a value, far more often than two rows drawn from the whole table would.
//! The Haas-Stokes estimator ANALYZE applies to the sample reads those repeats as a column with
//! fewer values, several times fewer on a table much larger than the sample (TPC-H's
//! `l_orderkey`: 407,749 estimated, 1,500,000 real), and B-tree deduplication then looks far more
//! effective than it is.
//!
//! Such a sample can be modelled. A value's rows are one run of `L = N / D` rows over
//! `max(1, L / R)` blocks of `R` rows; each of those blocks is among the sampled ones with
//! probability `q = m / B`, and a sampled block gives the sample a Poisson number of the run's
//! rows (a sampled block holds `λ = n / m` sample rows on average). That gives how many values
//! the sample sees, and how many of them once, hence what ANALYZE estimates from a column of `D`
//! values; the column's distinct count is the `D` whose estimate is the one ANALYZE stored.

/// How ANALYZE sampled a table, and the table as it was then (pg_class).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Rows ANALYZE samples: 300 × the largest statistics target of the table's columns.
    pub target_rows: f64,
    pub table_blocks: f64,
    pub table_rows: f64,
}

/// A column counts as stored in key order from this correlation (pg_stats) up, either way.
pub const IN_KEY_ORDER: f64 = 0.9;

/// ANALYZE's estimate (analyze.c, Haas and Stokes' Duj1) from a sample of `n` values, `d` of them
/// distinct and `f1` seen once, out of `total` values.
pub(crate) fn duj1(n: f64, d: f64, f1: f64, total: f64) -> f64 {
    let estimate = n * d / ((n - f1) + f1 * n / total);
    // max and min, not clamp: d may pass total by rounding, and clamp panics on that
    estimate.max(d).min(total)
}

/// What ANALYZE estimates for a column in key order with `distinct` values, `values` non-null
/// ones, `nonnull` the non-null share of its rows.
fn estimated_in_key_order(distinct: f64, values: f64, nonnull: f64, s: &Sampling) -> f64 {
    let blocks = s.table_blocks.max(1.0);
    let sampled_blocks = s.target_rows.min(blocks);
    let n = s.target_rows.min(s.table_rows) * nonnull;
    let q = sampled_blocks / blocks;
    let per_block = values / blocks;
    let per_sampled_block = n / sampled_blocks;
    let run = values / distinct;
    let spans = (run / per_block).max(1.0);
    // sample rows one block of the run gives when it is sampled (Poisson mean)
    let a = per_sampled_block * run / (spans * per_block);
    let missed = 1.0 - q + q * (-a).exp();
    let none = missed.powf(spans);
    let once = spans * q * a * (-a).exp() * missed.powf(spans - 1.0);
    duj1(n, distinct * (1.0 - none), distinct * once, values)
}

/// Distinct non-null values of a column stored in key order, `estimated` by ANALYZE out of
/// `values` non-null values (`nonnull` of the rows). `None` when its sample could not have been
/// misled: ANALYZE read every block, or the estimate is what the model expects of it as it is.
pub fn in_key_order(estimated: f64, values: f64, nonnull: f64, s: &Sampling) -> Option<f64> {
    let usable = estimated >= 1.0 && values > estimated && nonnull > 0.0;
    if !usable || s.table_blocks <= s.target_rows || s.table_rows <= s.target_rows {
        return None;
    }
    let predicted = |distinct: f64| estimated_in_key_order(distinct, values, nonnull, s);
    if predicted(estimated) >= estimated * 0.99 {
        return None;
    }
    if predicted(values) <= estimated {
        return Some(values);
    }
    // the estimate grows with the distinct count: bisect on its logarithm
    let (mut low, mut high) = (estimated.ln(), values.ln());
    for _ in 0..60 {
        let mid = (low + high) / 2.0;
        if predicted(mid.exp()) < estimated {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(((low + high) / 2.0).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TPC-H SF1's lineitem as ANALYZE saw it (default statistics target).
    const LINEITEM: Sampling = Sampling {
        target_rows: 30_000.0,
        table_blocks: 112_503.0,
        table_rows: 6_001_215.0,
    };

    #[test]
    fn order_lines_stored_by_order_have_all_their_orders() {
        // l_orderkey: 1,500,000 orders of 1 to 7 lines; ANALYZE said 407,749
        let distinct = in_key_order(407_749.0, 6_001_215.0, 1.0, &LINEITEM).unwrap();
        assert!((1_300_000.0..1_700_000.0).contains(&distinct), "{distinct}");
    }

    #[test]
    fn the_model_predicts_what_analyze_found() {
        // the forward model on l_orderkey's real count lands near ANALYZE's figure
        let predicted = estimated_in_key_order(1_500_000.0, 6_001_215.0, 1.0, &LINEITEM);
        assert!((300_000.0..500_000.0).contains(&predicted), "{predicted}");
        // values much longer than a block: every value is seen, the estimate is exact
        let dates = estimated_in_key_order(2_500.0, 6_001_215.0, 1.0, &LINEITEM);
        assert!((dates - 2_500.0).abs() < 1.0, "{dates}");
    }

    #[test]
    fn an_estimate_the_sample_could_not_have_misled_is_kept() {
        // every block read (partsupp: 17,451 blocks, 30,000 rows sampled)
        let partsupp = Sampling {
            target_rows: 30_000.0,
            table_blocks: 17_451.0,
            table_rows: 800_000.0,
        };
        assert_eq!(in_key_order(200_640.0, 800_000.0, 1.0, &partsupp), None);
        // a few values, each over many blocks: seen whole
        assert_eq!(in_key_order(2_500.0, 6_001_215.0, 1.0, &LINEITEM), None);
        // unique, or nothing to go on
        assert_eq!(in_key_order(6_001_215.0, 6_001_215.0, 1.0, &LINEITEM), None);
        assert_eq!(in_key_order(0.0, 6_001_215.0, 1.0, &LINEITEM), None);
    }

    #[test]
    fn duj1_stays_within_what_was_seen_and_the_values() {
        // every value seen twice or more: what the sample saw
        assert_eq!(duj1(100.0, 40.0, 0.0, 1000.0), 40.0);
        // a count past the values by rounding does not panic
        assert_eq!(duj1(100.0, 1000.0000000001, 100.0, 1000.0), 1000.0);
    }

    #[test]
    fn the_correction_stays_within_the_values() {
        // an estimate lower than any column of this size could give
        let distinct = in_key_order(40_000.0, 6_001_215.0, 1.0, &LINEITEM).unwrap();
        assert!(distinct > 40_000.0 && distinct <= 6_001_215.0, "{distinct}");
        // NULLs: only the non-null rows hold values
        let half = in_key_order(200_000.0, 3_000_607.0, 0.5, &LINEITEM).unwrap();
        assert!(half > 200_000.0 && half <= 3_000_607.0, "{half}");
    }
}
