//! A rewrite is offered only once it is shown to be equivalent and cheaper: it must parse with
//! the server's parser as one read-only SELECT, plan cheaper than the original, and return the
//! same rows (as a multiset) for the captured parameter values, both run in a read-only
//! subtransaction that is rolled back, within the worker's statement timeout.

use crate::acting::{act_as, Actor};
use crate::errors;
use crate::plans::explain::{self, in_rolled_back_subtransaction};
use crate::whatif::planner;
use pgrx::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Verified {
        cost_before: f64,
        cost_after: f64,
        /// Value sets both statements were run with.
        compared: usize,
    },
    Unverified {
        reason: String,
        cost_before: Option<f64>,
        cost_after: Option<f64>,
    },
}

/// A rewrite's text as it can be embedded: no trailing semicolon or blanks.
pub fn cleaned(rewrite: &str) -> String {
    rewrite.trim().trim_end_matches(';').trim_end().to_string()
}

fn unverified(reason: String, before: Option<f64>, after: Option<f64>) -> Verdict {
    Verdict::Unverified {
        reason,
        cost_before: before,
        cost_after: after,
    }
}

/// Mean planned cost of `sql` over `sets` (generic when empty), and whether it only reads.
fn planned(
    sql: &str,
    sets: &[Vec<Option<String>>],
    actor: Actor<'_>,
) -> Result<(f64, bool), String> {
    let variants: Vec<Option<&[Option<String>]>> = if sets.is_empty() {
        vec![None]
    } else {
        sets.iter().map(|s| Some(s.as_slice())).collect()
    };
    let mut total = 0.0;
    let mut read_only = true;
    for values in &variants {
        let (cost, ro) = planner::with_statement(sql, *values, actor, |st| {
            (st.plan(&[]).total_cost, st.is_read_only_select())
        })?;
        total += cost;
        read_only &= ro;
    }
    Ok((total / variants.len() as f64, read_only))
}

/// Rows one statement returns that the other does not, counting duplicates, for one value set.
fn difference(
    query: &str,
    rewrite: &str,
    values: &[Option<String>],
    actor: Actor<'_>,
) -> Result<i64, String> {
    in_rolled_back_subtransaction(|| {
        explain::set_local(c"transaction_read_only", c"on");
        act_as(actor);
        let q = planner::with_values(query, values);
        let r = planner::with_values(rewrite, values);
        Spi::get_one::<i64>(&format!(
            "SELECT (SELECT count(*) FROM (({q}) EXCEPT ALL ({r})) a)
                  + (SELECT count(*) FROM (({r}) EXCEPT ALL ({q})) b)"
        ))
        .unwrap_or_else(|e| errors::internal("comparing the rows", e))
        .unwrap_or(0)
    })
    .map_err(|(message, _)| message)
}

/// Checks `rewrite` against `query`, planned and run as `actor`, with the captured value `sets`
/// (needed when the statement has parameters).
pub fn check(
    query: &str,
    rewrite: &str,
    actor: Actor<'_>,
    sets: &[Vec<Option<String>>],
) -> Verdict {
    let rewrite = cleaned(rewrite);
    let (before, _) = match planned(query, sets, actor) {
        Ok(p) => p,
        Err(e) => return unverified(format!("the original cannot be planned: {e}"), None, None),
    };
    let (after, read_only) = match planned(&rewrite, sets, actor) {
        Ok(p) => p,
        Err(e) => {
            return unverified(
                format!("the rewrite does not parse or plan: {e}"),
                Some(before),
                None,
            )
        }
    };
    if !read_only {
        return unverified(
            "the rewrite is not a read-only SELECT".into(),
            Some(before),
            Some(after),
        );
    }
    if after >= before {
        return unverified(
            format!("the rewrite is not cheaper: planned cost {after:.1} against {before:.1}"),
            Some(before),
            Some(after),
        );
    }
    let has_params = query.contains('$');
    if has_params && sets.is_empty() {
        return unverified(
            "no captured parameter values to compare the results with".into(),
            Some(before),
            Some(after),
        );
    }
    let runs: Vec<Vec<Option<String>>> = if has_params {
        sets.to_vec()
    } else {
        vec![Vec::new()]
    };
    for (i, values) in runs.iter().enumerate() {
        match difference(query, &rewrite, values, actor) {
            Ok(0) => {}
            Ok(n) => {
                return unverified(
                    format!(
                        "the rewrite returns different rows ({n} differ) for captured value set {}",
                        i + 1
                    ),
                    Some(before),
                    Some(after),
                )
            }
            Err(e) => {
                return unverified(
                    format!("running the two to compare their rows failed: {e}"),
                    Some(before),
                    Some(after),
                )
            }
        }
    }
    Verdict::Verified {
        cost_before: before,
        cost_after: after,
        compared: runs.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_loses_its_trailing_semicolon() {
        assert_eq!(cleaned("  SELECT 1 ;\n"), "SELECT 1");
        assert_eq!(cleaned("SELECT ';'"), "SELECT ';'");
    }
}
