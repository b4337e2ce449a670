//! Making pg_stat_statements' normalized text plannable again.
//!
//! Normalization turns `interval '1 day'` into `interval $2` and `date '2024-01-01'` into
//! `date $1`: a typed literal whose literal became a parameter, which is no longer valid SQL.
//! Working on the tokens of the server's own lexer (see `lexer`), each such `type $n` becomes
//! `$n::type`. Likewise `extract(year FROM d)`, whose field is a constant to the parser, becomes
//! `extract($1 FROM d)`, which only a field name or a string may start: it becomes the function
//! call the parser makes of it, `pg_catalog.extract($1::text, d)`. Nothing else in the statement
//! changes.

/// One token of the server's lexer, with its byte offset in the statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An identifier (downcased unless quoted).
    Ident { at: usize, name: String },
    /// A keyword, downcased.
    Keyword { at: usize, word: String },
    /// `$n`.
    Param { at: usize, number: i32 },
    /// Anything else: operators, punctuation, constants.
    Other { at: usize, text: String },
}

impl Token {
    pub fn at(&self) -> usize {
        match self {
            Token::Ident { at, .. }
            | Token::Keyword { at, .. }
            | Token::Param { at, .. }
            | Token::Other { at, .. } => *at,
        }
    }

    fn keyword(&self) -> Option<&str> {
        match self {
            Token::Keyword { word, .. } => Some(word),
            _ => None,
        }
    }
}

/// Keywords that name a type on their own and may start a typed literal (`ConstTypename`).
const TYPE_KEYWORDS: &[&str] = &[
    "interval",
    "timestamp",
    "time",
    "boolean",
    "numeric",
    "decimal",
    "dec",
    "int",
    "integer",
    "smallint",
    "bigint",
    "real",
    "float",
    "char",
    "character",
    "varchar",
    "bit",
    "nchar",
];

/// How many tokens before `param_index` form a type name, if they do.
fn type_before(tokens: &[Token], param_index: usize) -> Option<usize> {
    let before = |n: usize| param_index.checked_sub(n).map(|i| &tokens[i]);
    match before(1)? {
        // `date $1`, `uuid $1`, `pg_catalog.date $1`: an identifier then a parameter is never
        // valid SQL except as a typed literal
        Token::Ident { .. } => {
            let mut len = 1;
            while let (Some(Token::Other { text, .. }), Some(Token::Ident { .. })) =
                (before(len + 1), before(len + 2))
            {
                if text != "." {
                    break;
                }
                len += 2;
            }
            Some(len)
        }
        Token::Keyword { word, .. } => {
            let words = |n: usize| -> Option<Vec<&str>> {
                (1..=n)
                    .rev()
                    .map(|k| before(k).and_then(Token::keyword))
                    .collect()
            };
            match word.as_str() {
                // `timestamp with time zone $1`, but not `AT TIME ZONE $1`
                "zone" => match words(4)?.as_slice() {
                    ["timestamp" | "time", "with" | "without", "time", "zone"] => Some(4),
                    _ => None,
                },
                "precision" => (words(2)?.as_slice() == ["double", "precision"]).then_some(2),
                "varying" => match words(2)?.as_slice() {
                    ["character" | "char" | "bit", "varying"] => Some(2),
                    _ => None,
                },
                w if TYPE_KEYWORDS.contains(&w) => Some(1),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether token `i` stands where `extract(field FROM x)` has its field: after `extract (` and
/// before `FROM`. Normalization makes that field `$n`; a captured statement has a word there.
pub fn is_extract_field(tokens: &[Token], i: usize) -> bool {
    let Some(before) = i.checked_sub(2) else {
        return false;
    };
    matches!(tokens.get(before), Some(Token::Keyword { word, .. }) if word == "extract")
        && matches!(tokens.get(i - 1), Some(Token::Other { text, .. }) if text == "(")
        && matches!(tokens.get(i + 1), Some(Token::Keyword { word, .. }) if word == "from")
}

/// `extract ( $n FROM` around the parameter at token `i`: the byte range it spans and its
/// replacement.
fn extract_field_at(tokens: &[Token], i: usize) -> Option<(usize, usize, String)> {
    let Token::Param { number, .. } = tokens.get(i)? else {
        return None;
    };
    if !is_extract_field(tokens, i) {
        return None;
    }
    let from = &tokens[i + 1];
    Some((
        tokens[i - 2].at(),
        from.at() + "from".len(),
        format!("pg_catalog.extract(${number}::text,"),
    ))
}

/// The statement with every `type $n` rewritten as `$n::type` and every `extract($n FROM x)` as
/// `pg_catalog.extract($n::text, x)`, or None when there is neither.
pub fn repair_typed_params(sql: &str, tokens: &[Token]) -> Option<String> {
    // (start, end, replacement) in the order of the statement
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if let Some(edit) = extract_field_at(tokens, i) {
            edits.push(edit);
            continue;
        }
        let Token::Param { at, number } = token else {
            continue;
        };
        let Some(len) = type_before(tokens, i) else {
            continue;
        };
        let type_start = tokens[i - len].at();
        let type_text = sql[type_start..*at].trim_end();
        let param_end = at + 1 + number.to_string().len();
        edits.push((type_start, param_end, format!("${number}::{type_text}")));
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(sql.len() + 16 * edits.len());
    let mut copied_to = 0;
    for (start, end, replacement) in edits {
        if start < copied_to {
            continue; // inside an edit already made
        }
        out.push_str(&sql[copied_to..start]);
        out.push_str(&replacement);
        copied_to = end;
    }
    out.push_str(&sql[copied_to..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny stand-in for the server's lexer, enough for these statements: words, `$n`,
    /// and one-character punctuation. The real one is used in the backend tests.
    fn lex(sql: &str) -> Vec<Token> {
        const KEYWORDS: &[&str] = &[
            "select",
            "from",
            "where",
            "and",
            "interval",
            "timestamp",
            "time",
            "with",
            "without",
            "zone",
            "at",
            "double",
            "precision",
            "character",
            "varying",
            "limit",
            "now",
            "as",
            "extract",
        ];
        let b = sql.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i] as char;
            if c.is_whitespace() {
                i += 1;
            } else if c == '$' {
                let s = i;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(Token::Param {
                    at: s,
                    number: sql[s + 1..i].parse().unwrap(),
                });
            } else if c.is_alphabetic() || c == '_' {
                let s = i;
                while i < b.len() && ((b[i] as char).is_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let w = sql[s..i].to_lowercase();
                out.push(if KEYWORDS.contains(&w.as_str()) {
                    Token::Keyword { at: s, word: w }
                } else {
                    Token::Ident { at: s, name: w }
                });
            } else {
                out.push(Token::Other {
                    at: i,
                    text: c.to_string(),
                });
                i += 1;
            }
        }
        out
    }

    fn repair(sql: &str) -> Option<String> {
        repair_typed_params(sql, &lex(sql))
    }

    #[test]
    fn interval_and_date_literals_become_casts() {
        assert_eq!(
            repair("SELECT * FROM t WHERE at > now() - interval $2 AND d = date $1").as_deref(),
            Some("SELECT * FROM t WHERE at > now() - $2::interval AND d = $1::date")
        );
    }

    #[test]
    fn multiword_and_qualified_types() {
        assert_eq!(
            repair("SELECT timestamp with time zone $1, double precision $2, pg_catalog.date $3")
                .as_deref(),
            Some("SELECT $1::timestamp with time zone, $2::double precision, $3::pg_catalog.date")
        );
        assert_eq!(
            repair("SELECT character varying $1").as_deref(),
            Some("SELECT $1::character varying")
        );
    }

    #[test]
    fn valid_statements_are_left_alone() {
        assert_eq!(repair("SELECT a FROM t WHERE b = $1 LIMIT $2"), None);
        assert_eq!(repair("SELECT x AT TIME ZONE $1 FROM t"), None);
        assert_eq!(repair("SELECT $1::interval"), None);
    }

    #[test]
    fn an_extract_field_that_became_a_parameter_becomes_the_function_call() {
        assert_eq!(
            repair("SELECT extract($1 FROM o_orderdate) AS y, x FROM t WHERE d < date $2")
                .as_deref(),
            Some(
                "SELECT pg_catalog.extract($1::text, o_orderdate) AS y, x FROM t WHERE d < $2::date"
            )
        );
        assert_eq!(
            repair("SELECT EXTRACT ( $12  from d) FROM t").as_deref(),
            Some("SELECT pg_catalog.extract($12::text, d) FROM t")
        );
        // a field name is valid as it is
        assert_eq!(repair("SELECT extract(year FROM d) FROM t"), None);
    }

    #[test]
    fn two_digit_parameters_are_cut_whole() {
        assert_eq!(
            repair("SELECT interval $12 AS x").as_deref(),
            Some("SELECT $12::interval AS x")
        );
    }
}
