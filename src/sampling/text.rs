//! The text a statement is stored with. pg_stat_statements replaces the constants of the
//! statements it can plan (SELECT, INSERT, UPDATE, DELETE, MERGE) by `$n`, but keeps utility
//! statements as they were sent: `ALTER ROLE app PASSWORD '...'`, `ALTER SYSTEM SET
//! optischema.llm_api_key = '...'`, `COPY ... TO PROGRAM '...'`. It shows them only to their
//! own role and to pg_read_all_stats; OptiSchema's readers see more, so the string literals of
//! utility statements are replaced by `$n` before the text is stored. Pure.

/// First words of the statements pg_stat_statements normalizes itself.
const PLANNABLE: &[&str] = &[
    "select", "insert", "update", "delete", "merge", "with", "values", "table",
];

/// `query` as OptiSchema stores it: unchanged when it is plannable, with every string literal
/// (quoted, E'', U&'', B'', X'', dollar-quoted) replaced by `$n` otherwise.
pub fn stored_text(query: &str) -> String {
    if is_plannable(query) {
        return query.to_string();
    }
    without_literals(query)
}

fn is_plannable(query: &str) -> bool {
    let rest = skip_blanks_and_parens(query);
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    PLANNABLE.contains(&word.as_str())
}

/// `text` after leading white space, comments and opening parentheses.
fn skip_blanks_and_parens(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = trimmed.strip_prefix("--") {
            text = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            text = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return trimmed;
        }
    }
}

/// Numbers given to the literals start after the highest `$n` already in the text.
fn highest_param(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut highest = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'$' && (i == 0 || !is_ident_byte(bytes[i - 1])) {
            let digits: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                highest = highest.max(n);
            }
        }
    }
    highest
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Every string literal of `text` replaced by `$n`; comments and quoted identifiers kept.
pub fn without_literals(text: &str) -> String {
    replace_literals(text, false)
}

/// Every literal of `text`, numbers included, replaced by `$n`, and its comments removed
/// (they may hold anything): what may leave the server when values must not.
pub fn without_any_literal(text: &str) -> String {
    replace_literals(text, true)
}

fn replace_literals(text: &str, numbers_and_comments: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut next = highest_param(text) + 1;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // comments and quoted identifiers are skipped whole
        let comment_end = if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            Some(text[i..].find('\n').map_or(bytes.len(), |n| i + n))
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            Some(
                text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2),
            )
        } else {
            None
        };
        if let Some(end) = comment_end {
            if numbers_and_comments {
                out.push_str(&text[copied..i]);
                copied = end;
            }
            i = end;
            continue;
        }
        if b == b'"' {
            i = closing_quote(bytes, i + 1, b'"', false);
            continue;
        }
        // a literal, with its prefix (E'', U&'', B'', X'', N'')
        let literal = if b == b'\'' {
            let backslashes = i > 0
                && matches!(bytes[i - 1], b'e' | b'E')
                && (i < 2 || !is_ident_byte(bytes[i - 2]));
            let start = if i > 0
                && matches!(
                    bytes[i - 1],
                    b'e' | b'E' | b'b' | b'B' | b'x' | b'X' | b'n' | b'N'
                )
                && (i < 2 || !is_ident_byte(bytes[i - 2]))
            {
                i - 1
            } else if i > 1 && bytes[i - 1] == b'&' && matches!(bytes[i - 2], b'u' | b'U') {
                i - 2
            } else {
                i
            };
            Some((start, closing_quote(bytes, i + 1, b'\'', backslashes)))
        } else if b == b'$' && (i == 0 || !is_ident_byte(bytes[i - 1])) {
            dollar_quoted(text, i).map(|end| (i, end))
        } else if numbers_and_comments
            && b.is_ascii_digit()
            && (i == 0 || !(is_ident_byte(bytes[i - 1]) || matches!(bytes[i - 1], b'$' | b'.')))
        {
            Some((i, number_end(bytes, i)))
        } else {
            None
        };
        match literal {
            Some((start, end)) => {
                out.push_str(&text[copied..start]);
                out.push_str(&format!("${next}"));
                next += 1;
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The index just past a numeric constant starting at `from`: digits, a fraction, an exponent.
fn number_end(bytes: &[u8], from: usize) -> usize {
    let digits = |mut i: usize| {
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'_')
        {
            i += 1;
        }
        i
    };
    let mut i = digits(from);
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i = digits(i + 1);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
        if bytes.get(i + 1 + sign).is_some_and(u8::is_ascii_digit) {
            i = digits(i + 1 + sign);
        }
    }
    i
}

/// The index just past the quote closing a quoted text whose contents start at `from`.
fn closing_quote(bytes: &[u8], from: usize, quote: u8, backslashes: bool) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if backslashes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The end of a dollar-quoted string starting at `at` (`$$...$$` or `$tag$...$tag$`), None when
/// `at` starts a parameter (`$1`) or nothing.
fn dollar_quoted(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at + 1..];
    let tag_len = rest
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    let tag = &rest[..tag_len];
    if tag.starts_with(|c: char| c.is_ascii_digit()) || !rest[tag_len..].starts_with('$') {
        return None;
    }
    let delimiter = format!("${tag}$");
    let body = at + delimiter.len();
    Some(
        text[body..]
            .find(&delimiter)
            .map_or(text.len(), |n| body + n + delimiter.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plannable_statements_are_kept_as_pg_stat_statements_normalized_them() {
        for q in [
            "SELECT id FROM t WHERE a = $1",
            "  (SELECT 1) UNION (SELECT 2)",
            "/* app */ insert INTO t VALUES ($1)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "-- c\nUPDATE t SET a = $1",
        ] {
            assert_eq!(stored_text(q), q);
        }
    }

    #[test]
    fn nothing_of_a_value_is_left_when_values_must_not_leave() {
        assert_eq!(
            without_any_literal(
                "/* user 42 */ SELECT a FROM t2 WHERE b = 'x''y' AND c > 1.5e3 AND d = $1 -- 7\nLIMIT 10"
            ),
            " SELECT a FROM t2 WHERE b = $2 AND c > $3 AND d = $1 \nLIMIT $4"
        );
        assert_eq!(
            without_any_literal("(status = 'shipped'::text) AND (qty > '-5'::integer)"),
            "(status = $1::text) AND (qty > $2::integer)"
        );
        // names keep their digits
        assert_eq!(
            without_any_literal("t1.col2 = \"3x\".a"),
            "t1.col2 = \"3x\".a"
        );
    }

    #[test]
    fn utility_statements_lose_their_string_literals() {
        for (q, want) in [
            (
                "ALTER ROLE app PASSWORD 'secret'",
                "ALTER ROLE app PASSWORD $1",
            ),
            (
                "ALTER SYSTEM SET optischema.llm_api_key = 'sk-a''b'",
                "ALTER SYSTEM SET optischema.llm_api_key = $1",
            ),
            (
                "CREATE USER u WITH PASSWORD E'a\\'b' VALID UNTIL '2030-01-01'",
                "CREATE USER u WITH PASSWORD $1 VALID UNTIL $2",
            ),
            (
                "COPY (SELECT 1) TO PROGRAM 'curl http://x'",
                "COPY (SELECT 1) TO PROGRAM $1",
            ),
            ("DO $body$ BEGIN PERFORM 'x'; END $body$", "DO $1"),
            ("DO $$ SELECT 1 $$ LANGUAGE sql", "DO $1 LANGUAGE sql"),
            (
                "CREATE TABLE \"it's\" (a varchar(20) DEFAULT 'x') -- don't",
                "CREATE TABLE \"it's\" (a varchar(20) DEFAULT $1) -- don't",
            ),
            (
                "EXPLAIN SELECT * FROM t WHERE a = $1 AND b = U&'d\\0061t'",
                "EXPLAIN SELECT * FROM t WHERE a = $1 AND b = $2",
            ),
            ("VACUUM ANALYZE t", "VACUUM ANALYZE t"),
            // an unterminated literal is cut to the end
            ("ALTER ROLE a PASSWORD 'trunc", "ALTER ROLE a PASSWORD $1"),
        ] {
            assert_eq!(stored_text(q), want, "{q}");
        }
    }

    #[test]
    fn identifiers_ending_in_a_prefix_letter_are_not_taken_for_one() {
        assert_eq!(
            without_literals("SET search_path = 'x'"),
            "SET search_path = $1"
        );
        assert_eq!(without_literals("SET time zone 'UTC'"), "SET time zone $1");
        assert_eq!(without_literals("SELECT a$1 FROM b"), "SELECT a$1 FROM b");
    }
}
