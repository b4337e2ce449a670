//! Validation of the SQL API's arguments: pure, so each rule is unit-tested.
//!
//! Every failure becomes SQLSTATE 22023 (invalid_parameter_value) with a message and a hint.

/// Microseconds in a day; intervals count a month as 30 days, as PostgreSQL compares them.
const DAY_US: i128 = 86_400_000_000;
pub const MAX_ROWS_LIMIT: i32 = 10_000;
pub const MAX_BUCKETS: i128 = 100_000;
/// History is stored in buckets of this width; finer buckets cannot be answered.
pub const STORAGE_BUCKET_S: i64 = 60;

pub use crate::errors::ArgError;

fn fail<T>(message: impl Into<String>, hint: impl Into<String>) -> Result<T, ArgError> {
    Err(ArgError {
        message: message.into(),
        hint: hint.into(),
    })
}

/// An interval as PostgreSQL stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Span {
    pub fn total_micros(&self) -> i128 {
        self.months as i128 * 30 * DAY_US + self.days as i128 * DAY_US + self.micros as i128
    }
}

/// A window such as `since`: present and strictly positive.
pub fn positive_span(name: &str, value: Option<Span>) -> Result<Span, ArgError> {
    let Some(span) = value else {
        return fail(
            format!("{name} must not be NULL"),
            format!(
                "Pass a positive interval, for example '1 hour', or omit {name} for its default."
            ),
        );
    };
    if span.total_micros() <= 0 {
        return fail(
            format!("{name} must be a positive interval"),
            "Use an interval greater than zero, for example '15 minutes'.",
        );
    }
    Ok(span)
}

pub fn max_rows(value: Option<i32>) -> Result<i32, ArgError> {
    match value {
        Some(n) if (1..=MAX_ROWS_LIMIT).contains(&n) => Ok(n),
        Some(n) => fail(
            format!("max_rows must be between 1 and {MAX_ROWS_LIMIT}, not {n}"),
            "Ask for fewer rows, or narrow the window with since.",
        ),
        None => fail(
            "max_rows must not be NULL",
            format!("Pass a number between 1 and {MAX_ROWS_LIMIT}."),
        ),
    }
}

/// A yes/no switch `name`, which must not be NULL.
pub fn switch(name: &str, value: Option<bool>) -> Result<bool, ArgError> {
    value.ok_or_else(|| ArgError {
        message: format!("{name} must not be NULL"),
        hint: "Pass true or false.".into(),
    })
}

pub fn queryid(value: Option<i64>) -> Result<i64, ArgError> {
    value.ok_or_else(|| ArgError {
        message: "queryid must not be NULL".into(),
        hint: "Take a queryid from optischema.hot_queries() or pg_stat_statements.".into(),
    })
}

/// A statement's text: present and not blank.
pub fn statement_text(name: &str, value: Option<String>) -> Result<String, ArgError> {
    match value {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ => fail(
            format!("{name} must be a statement, not NULL or blank"),
            "Pass the SQL text of one statement.",
        ),
    }
}

/// The `indexes` of `whatif`: at least one, none NULL or blank.
pub fn index_list(value: Option<Vec<Option<String>>>) -> Result<Vec<String>, ArgError> {
    let hint =
        "Pass an array of CREATE INDEX statements, for example ARRAY['CREATE INDEX ON t (a)'].";
    let Some(list) = value.filter(|l| !l.is_empty()) else {
        return fail("indexes must be a non-empty array", hint);
    };
    list.into_iter()
        .map(|item| match item {
            Some(sql) if !sql.trim().is_empty() => Ok(sql),
            _ => fail("indexes must not contain NULL or blank elements", hint),
        })
        .collect()
}

/// The `bucket` of `query_history`: at least the sample interval and the storage bucket,
/// free of months (buckets are fixed widths), and not so small that `since` yields too many.
pub fn bucket(value: Option<Span>, since: Span, sample_interval_s: i32) -> Result<Span, ArgError> {
    let bucket = positive_span("bucket", value)?;
    if bucket.months != 0 {
        return fail(
            "bucket must not contain months or years",
            "Buckets have a fixed width: use days instead, for example '30 days'.",
        );
    }
    let floor_s = (sample_interval_s as i64).max(STORAGE_BUCKET_S);
    if bucket.total_micros() < floor_s as i128 * 1_000_000 {
        return fail(
            format!("bucket must be at least {floor_s} seconds"),
            format!(
                "History is sampled every {sample_interval_s} s and stored per {STORAGE_BUCKET_S} s: \
                 use a bucket of '{floor_s} seconds' or more."
            ),
        );
    }
    let (since_us, bucket_us) = (since.total_micros(), bucket.total_micros());
    let buckets = (since_us + bucket_us - 1) / bucket_us;
    if buckets > MAX_BUCKETS {
        return fail(
            format!("since and bucket would produce {buckets} buckets, more than {MAX_BUCKETS}"),
            "Use a larger bucket or a shorter since.",
        );
    }
    Ok(bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> Span {
        Span {
            months: 0,
            days: 0,
            micros: s * 1_000_000,
        }
    }

    #[test]
    fn since_rejects_null_zero_and_negative() {
        assert_eq!(
            positive_span("since", None).unwrap_err().message,
            "since must not be NULL"
        );
        assert!(positive_span("since", Some(secs(0))).is_err());
        assert!(positive_span("since", Some(secs(-5))).is_err());
        // a negative day count outweighing positive time is still negative
        let mixed = Span {
            months: 0,
            days: -1,
            micros: 3_600_000_000,
        };
        assert!(positive_span("since", Some(mixed)).is_err());
        let month = Span {
            months: 1,
            days: 0,
            micros: 0,
        };
        assert_eq!(positive_span("since", Some(month)), Ok(month));
    }

    #[test]
    fn whatif_arguments() {
        assert!(statement_text("query", None).is_err());
        assert!(statement_text("query", Some("  ".into())).is_err());
        assert_eq!(
            statement_text("query", Some("SELECT 1".into())),
            Ok("SELECT 1".into())
        );
        assert!(index_list(None).is_err());
        assert!(index_list(Some(vec![])).is_err());
        assert!(index_list(Some(vec![Some("CREATE INDEX ON t (a)".into()), None])).is_err());
        assert_eq!(
            index_list(Some(vec![Some("CREATE INDEX ON t (a)".into())]))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn max_rows_bounds() {
        assert_eq!(max_rows(Some(1)), Ok(1));
        assert_eq!(max_rows(Some(10_000)), Ok(10_000));
        assert!(max_rows(Some(0)).is_err());
        assert!(max_rows(Some(-3)).is_err());
        assert_eq!(
            max_rows(Some(10_001)).unwrap_err().message,
            "max_rows must be between 1 and 10000, not 10001"
        );
        assert!(max_rows(None).is_err());
    }

    #[test]
    fn bucket_must_cover_the_sample_interval_and_storage_width() {
        let hour = secs(3600);
        assert!(bucket(Some(secs(60)), hour, 10).is_ok());
        assert_eq!(
            bucket(Some(secs(30)), hour, 10).unwrap_err().message,
            "bucket must be at least 60 seconds"
        );
        assert_eq!(
            bucket(Some(secs(90)), hour, 120).unwrap_err().message,
            "bucket must be at least 120 seconds"
        );
        assert!(bucket(Some(secs(120)), hour, 120).is_ok());
    }

    #[test]
    fn bucket_rejects_months_null_and_too_many_buckets() {
        assert!(bucket(None, secs(3600), 10).is_err());
        assert!(bucket(
            Some(Span {
                months: 1,
                days: 0,
                micros: 0
            }),
            secs(3600),
            10
        )
        .is_err());
        // 69 days of minutes is 99,360 buckets, 70 days is 100,800
        assert!(bucket(
            Some(secs(60)),
            Span {
                months: 0,
                days: 69,
                micros: 0
            },
            10
        )
        .is_ok());
        assert!(bucket(
            Some(secs(60)),
            Span {
                months: 0,
                days: 70,
                micros: 0
            },
            10
        )
        .is_err());
    }

    #[test]
    fn bucket_count_limit_is_exact() {
        let since = secs(60 * 100_000);
        assert!(bucket(Some(secs(60)), since, 10).is_ok());
        let since = secs(60 * 100_000 + 1);
        let e = bucket(Some(secs(60)), since, 10).unwrap_err();
        assert_eq!(
            e.message,
            "since and bucket would produce 100001 buckets, more than 100000"
        );
    }
}
