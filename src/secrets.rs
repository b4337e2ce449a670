//! Keeping the secret settings (`optischema.llm_api_key`, `optischema.sandbox_conninfo`) out
//! of the server log, however they are set.
//!
//! PostgreSQL writes a setting's value to the log in places no setting flag controls: the
//! postmaster's `parameter "..." changed to "..."` at every reload, `log_statement` for an
//! `ALTER SYSTEM SET` or `SET`, the `STATEMENT:` line after an error, bind parameters. A hook
//! on every message (`emit_log_hook`, installed in the postmaster at preload so that every
//! process has it) removes the quoted value that follows a secret setting's name, and any
//! occurrence of the key in force; a statement that names a secret setting is not printed
//! after its messages.

use pgrx::pg_sys;
use std::ffi::{CStr, CString};

/// Settings whose values are secrets.
pub const SECRET_SETTINGS: &[&str] = &["llm_api_key", "sandbox_conninfo"];

pub const REDACTED: &str = "[redacted]";

/// True when `text` names a secret setting.
pub fn names_secret(text: &str) -> bool {
    SECRET_SETTINGS
        .iter()
        .any(|s| find_ignoring_case(text.as_bytes(), s.as_bytes(), 0).is_some())
}

/// Where `needle` (lowercase ASCII) first occurs in `haystack` at or after `from`, ASCII case
/// ignored; without copying the haystack (a message may be hundreds of megabytes).
fn find_ignoring_case(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() || from > haystack.len() - needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len())
        .find(|&i| haystack[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// `text` with every quoted value that follows a secret setting's name (within the next few
/// words: `= '...'`, `TO '...'`, `', '...'`, `changed to "..."`, dollar quotes) and every
/// occurrence of `known` secrets replaced by [`REDACTED`]; None when nothing had to change.
pub fn redact(text: &str, known: &[&str]) -> Option<String> {
    let known: Vec<&str> = known.iter().copied().filter(|s| s.len() >= 4).collect();
    // the common case, nothing to hide, costs a scan and no copy
    if !known.iter().any(|k| text.contains(k)) && !names_secret(text) {
        return None;
    }
    let mut out = text.to_string();
    for secret in &known {
        out = out.replace(secret, REDACTED);
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for name in SECRET_SETTINGS {
        let mut from = 0;
        while let Some(at) = find_ignoring_case(out.as_bytes(), name.as_bytes(), from) {
            let mut after = at + name.len();
            // another setting whose name starts the same (llm_api_key_file: a path, no secret)
            if out
                .as_bytes()
                .get(after)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
            {
                from = after;
                continue;
            }
            // the quote that closes the name itself ("optischema.llm_api_key" changed to ...)
            if matches!(out.as_bytes().get(after), Some(b'"' | b'\'')) {
                after += 1;
            }
            if let Some(span) = quoted_value_after(&out, after) {
                spans.push(span);
            }
            from = at + name.len();
        }
    }
    spans.sort_unstable();
    spans.dedup();
    // from the end, so that earlier offsets stay valid
    for (start, end) in spans.into_iter().rev() {
        out.replace_range(start..end, REDACTED);
    }
    (out != text).then_some(out)
}

/// How far after a setting's name its value may begin.
const VALUE_WITHIN: usize = 48;

/// The byte span of the contents of the first quoted string (single or double quotes, doubled
/// quotes inside) that begins within [`VALUE_WITHIN`] bytes of `from`; to the end of the text
/// when it is not closed.
fn quoted_value_after(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let limit = (from + VALUE_WITHIN).min(bytes.len());
    let open = (from..limit).find(|&i| matches!(bytes[i], b'\'' | b'"' | b'$'))?;
    if bytes[open] == b'$' {
        // $$...$$ or $tag$...$tag$
        let tag_end = (open + 1..bytes.len())
            .find(|&i| !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_'))?;
        if bytes[tag_end] != b'$' {
            return None;
        }
        let delimiter = &text[open..=tag_end];
        let body = tag_end + 1;
        let end = text[body..]
            .find(delimiter)
            .map_or(text.len(), |n| body + n);
        return Some((body, end));
    }
    let quote = bytes[open];
    let mut i = open + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Some((open + 1, i));
        }
        i += 1;
    }
    Some((open + 1, bytes.len()))
}

static mut PREV_EMIT_LOG_HOOK: pg_sys::emit_log_hook_type = None;

/// Installs the hook; call once, from `_PG_init` at preload.
pub fn install() {
    unsafe {
        PREV_EMIT_LOG_HOOK = pg_sys::emit_log_hook;
        pg_sys::emit_log_hook = Some(emit_log);
    }
}

/// The secrets in force in this process, to be removed wherever they appear.
fn known_secrets() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(key) = crate::settings::llm_api_key_in_memory() {
        out.push(key);
    }
    if let Some(conninfo) = crate::settings::SANDBOX_CONNINFO.get() {
        if let Ok(conninfo) = conninfo.into_string() {
            if let Some(password) = conninfo_password(&conninfo) {
                out.push(password);
            }
        }
    }
    out
}

/// The `password=` value of a key/value conninfo, if any.
fn conninfo_password(conninfo: &str) -> Option<String> {
    conninfo.split_whitespace().find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == "password").then(|| value.trim_matches('\'').to_string())
    })
}

/// Rewrites one field of a message in place when it holds a secret.
unsafe fn scrub(field: *mut *mut std::ffi::c_char, known: &[&str]) {
    unsafe {
        if (*field).is_null() {
            return;
        }
        let text = CStr::from_ptr(*field).to_string_lossy();
        if let Some(clean) = redact(&text, known) {
            if let Ok(clean) = CString::new(clean) {
                // allocated in the current context, ErrorContext, as the field was
                *field = pg_sys::pstrdup(clean.as_ptr());
            }
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn emit_log(edata: *mut pg_sys::ErrorData) {
    unsafe {
        // nothing here may raise: a panic is caught and the message left as it was
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let secrets = known_secrets();
            let known: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let e = &mut *edata;
            for field in [
                &mut e.message,
                &mut e.detail,
                &mut e.detail_log,
                &mut e.hint,
                &mut e.context,
                &mut e.internalquery,
            ] {
                scrub(field, &known);
            }
            // the "STATEMENT:" line is printed from the query string itself
            let query = pg_sys::debug_query_string;
            if !query.is_null() && names_secret(&CStr::from_ptr(query).to_string_lossy()) {
                e.hide_stmt = true;
            }
        }));
        if let Some(prev) = PREV_EMIT_LOG_HOOK {
            prev(edata);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_whose_name_only_starts_like_a_secret_is_left_alone() {
        let text = r#"must be superuser or have privileges of pg_read_all_settings to examine "optischema.llm_api_key_file""#;
        assert_eq!(redact(text, &[]), None);
        assert_eq!(
            redact(
                "SET optischema.llm_api_key_file = '/etc/k'; SET optischema.llm_api_key = 'sk-x'",
                &[]
            )
            .as_deref(),
            Some("SET optischema.llm_api_key_file = '/etc/k'; SET optischema.llm_api_key = '[redacted]'")
        );
    }

    #[test]
    fn the_reload_message_loses_the_value() {
        assert_eq!(
            redact(
                r#"parameter "optischema.llm_api_key" changed to "sk-live-123456""#,
                &[]
            )
            .unwrap(),
            r#"parameter "optischema.llm_api_key" changed to "[redacted]""#
        );
    }

    #[test]
    fn statements_setting_a_secret_lose_the_value() {
        for (text, want) in [
            (
                "statement: ALTER SYSTEM SET optischema.llm_api_key = 'sk-a''b'",
                "statement: ALTER SYSTEM SET optischema.llm_api_key = '[redacted]'",
            ),
            (
                "statement: SET optischema.LLM_API_KEY TO 'k1234'",
                "statement: SET optischema.LLM_API_KEY TO '[redacted]'",
            ),
            (
                "statement: SELECT set_config('optischema.llm_api_key', 'k1234', false)",
                "statement: SELECT set_config('optischema.llm_api_key', '[redacted]', false)",
            ),
            (
                "ALTER SYSTEM SET optischema.sandbox_conninfo = 'host=h password=p'",
                "ALTER SYSTEM SET optischema.sandbox_conninfo = '[redacted]'",
            ),
            (
                "ALTER SYSTEM SET optischema.llm_api_key = $$sk-dollar$$",
                "ALTER SYSTEM SET optischema.llm_api_key = $$[redacted]$$",
            ),
            (
                "SET optischema.llm_api_key = $k$sk-tagged$k$",
                "SET optischema.llm_api_key = $k$[redacted]$k$",
            ),
            // not closed: to the end
            (
                "SET optischema.llm_api_key = 'sk-trunc",
                "SET optischema.llm_api_key = '[redacted]",
            ),
        ] {
            assert_eq!(redact(text, &[]).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn a_known_secret_is_removed_anywhere_and_other_text_is_left_alone() {
        assert_eq!(
            redact("calling with sk-known-key failed", &["sk-known-key"]).unwrap(),
            "calling with [redacted] failed"
        );
        assert_eq!(redact("SELECT 'hello'", &["sk-known-key"]), None);
        // a setting named far before an unrelated literal keeps the literal
        let far = format!("optischema.llm_api_key is set;{} 'x'", " ".repeat(60));
        assert_eq!(redact(&far, &[]), None);
        // short "secrets" are not searched for (they would blank every word)
        assert_eq!(redact("a b c", &["a"]), None);
    }

    #[test]
    fn statements_naming_a_secret_are_recognised() {
        assert!(names_secret("ALTER SYSTEM SET optischema.LLM_API_KEY = $1"));
        assert!(names_secret("show optischema.sandbox_conninfo"));
        assert!(!names_secret("SELECT 1"));
    }

    #[test]
    fn the_password_of_a_conninfo_is_found() {
        assert_eq!(
            conninfo_password("host=h password=s3cret user=u").as_deref(),
            Some("s3cret")
        );
        assert_eq!(conninfo_password("host=h user=u"), None);
    }
}
