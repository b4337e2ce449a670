//! The server's own SQL lexer (`core_yylex`), as a list of [`Token`]s. Needs a backend.

use super::repair::Token;
use pgrx::pg_sys;
use std::ffi::{CStr, CString};

/// Token codes of `parser/gram.h`, found by lexing a known string rather than hard-coded.
fn ident_and_param_codes() -> (i32, i32) {
    static CODES: std::sync::OnceLock<(i32, i32)> = std::sync::OnceLock::new();
    *CODES.get_or_init(|| {
        let codes = raw_tokens("x $1");
        (codes[0].0, codes[1].0)
    })
}

fn raw_tokens(sql: &str) -> Vec<(i32, usize, pg_sys::core_YYSTYPE)> {
    let text = CString::new(sql).unwrap_or_else(|_| CString::new(sql.replace('\0', " ")).unwrap());
    let mut out = Vec::new();
    unsafe {
        let mut extra = pg_sys::core_yy_extra_type::default();
        let scanner = pg_sys::scanner_init(
            text.as_ptr(),
            &mut extra,
            &raw const pg_sys::ScanKeywords,
            (&raw const pg_sys::ScanKeywordTokens).cast(),
        );
        loop {
            let mut value = pg_sys::core_YYSTYPE::default();
            let mut location = 0;
            let code = pg_sys::core_yylex(&mut value, &mut location, scanner);
            if code == 0 {
                break;
            }
            out.push((code, location as usize, value));
        }
        pg_sys::scanner_finish(scanner);
    }
    out
}

/// Tokens of `sql` as the server's lexer sees them. Raises the lexer's ERROR on text it cannot
/// scan (an unterminated quote, say).
pub fn tokens(sql: &str) -> Vec<Token> {
    let (ident, param) = ident_and_param_codes();
    raw_tokens(sql)
        .into_iter()
        .map(|(code, at, value)| unsafe {
            if code == ident {
                Token::Ident {
                    at,
                    name: CStr::from_ptr(value.str_).to_string_lossy().into_owned(),
                }
            } else if code == param {
                Token::Param {
                    at,
                    number: value.ival,
                }
            } else if sql[at..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && code > 255
            {
                // a keyword: its text is the word at that position
                let word: String = sql[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                Token::Keyword {
                    at,
                    word: word.to_ascii_lowercase(),
                }
            } else {
                let text: String = sql[at..].chars().take(1).collect();
                Token::Other { at, text }
            }
        })
        .collect()
}
