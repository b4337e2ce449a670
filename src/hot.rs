//! Which statements are hot, and which of them just became so.

/// Statements in `current_top` (ranked, best first) that were not in `previous_top`:
/// they entered the top list or climbed into it from outside. Returned with their 1-based rank.
pub fn newcomers(previous_top: &[i64], current_top: &[i64]) -> Vec<(i64, i32)> {
    current_top
        .iter()
        .enumerate()
        .filter(|(_, queryid)| !previous_top.contains(queryid))
        .map(|(i, queryid)| (*queryid, i as i32 + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_new_the_first_time() {
        assert_eq!(newcomers(&[], &[7, 8]), vec![(7, 1), (8, 2)]);
    }

    #[test]
    fn moving_inside_the_top_is_not_news() {
        assert!(newcomers(&[7, 8, 9], &[9, 7, 8]).is_empty());
    }

    #[test]
    fn climbing_in_from_outside_is_announced_with_its_rank() {
        assert_eq!(newcomers(&[7, 8, 9], &[7, 4, 8]), vec![(4, 2)]);
    }

    #[test]
    fn leaving_and_coming_back_is_announced_again() {
        assert_eq!(newcomers(&[7], &[8]), vec![(8, 1)]);
        assert_eq!(newcomers(&[8], &[7, 8]), vec![(7, 1)]);
    }
}
