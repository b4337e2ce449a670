//! Capturing the parameter values statements really run with.
//!
//! The first executions of each statement (`optischema.param_capture_first`), then a sampled
//! share (`optischema.param_sample_rate`), record their values, keyed by queryid, in a small
//! ring in shared memory: bound parameters at `ExecutorStart` (extended protocol, `EXECUTE`),
//! and the constants pg_stat_statements turns into `$n` after parse analysis (simple
//! protocol). Which executions: see [`capture_gate`](super::capture_gate). The worker drains
//! the ring into `optischema.captured_params`.
//! Values are stored as SQL literals, in pg_stat_statements' `$n` order, so that
//! `EXECUTE probe(v1, v2, ...)` plans the statement with them. Capture never raises: a value it
//! cannot read skips that execution.

use super::capture_gate::{Capture, Gate};
use super::lexer;
use super::repair::{self, Token};
use crate::clock::epoch_s;
use crate::settings;
use crate::shmem::Shared;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

const SLOTS: usize = 512;
/// Longest encoded value set kept; longer ones are skipped, never cut.
pub const TEXT_BYTES: usize = 496;
const SHMEM_NAME: &CStr = c"optischema parameter capture";

#[repr(C)]
struct Slot {
    queryid: i64,
    /// The database the statement ran in: its values are handed to that database only.
    dbid: u32,
    seq: u64,
    len: u32,
    text: [u8; TEXT_BYTES],
}

#[repr(C)]
struct Ring {
    /// Sets written so far; the next goes to slot `written % SLOTS`.
    written: u64,
    /// Sets the worker has drained.
    drained: u64,
    slots: [Slot; SLOTS],
    /// Read and written without the lock, by every backend.
    gate: Gate,
}

static RING: Shared<Ring> = unsafe {
    // counters, slots of numbers and bytes, and the gate's atomics
    Shared::new(SHMEM_NAME, |ring| ring.gate.refill(epoch_s()))
};
static mut PREV_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREV_POST_PARSE: pg_sys::post_parse_analyze_hook_type = None;

/// Installs the shared memory and executor hooks. Called from `_PG_init` while preloading.
pub fn install() {
    RING.install();
    unsafe {
        PREV_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
        PREV_POST_PARSE = pg_sys::post_parse_analyze_hook;
        pg_sys::post_parse_analyze_hook = Some(post_parse_analyze);
    }
}

/// The capture gate, shared by every backend without a lock.
fn gate() -> Option<&'static Gate> {
    RING.unlocked().map(|ring| &ring.gate)
}

/// Records one value set, paid from the budget it was admitted under. The budgets keep the
/// worker from falling behind; if it still does, the oldest set is overwritten.
fn push(queryid: i64, encoded: &str, capture: Capture) {
    let Some(gate) = gate() else { return };
    if encoded.len() > TEXT_BYTES || !gate.pay(capture) {
        return;
    }
    let dbid = unsafe { pg_sys::MyDatabaseId }.to_u32();
    RING.exclusive(|ring| {
        let seq = ring.written + 1;
        let slot = &mut ring.slots[(ring.written % SLOTS as u64) as usize];
        slot.queryid = queryid;
        slot.dbid = dbid;
        slot.seq = seq;
        slot.len = encoded.len() as u32;
        slot.text[..encoded.len()].copy_from_slice(encoded.as_bytes());
        ring.written = seq;
    });
}

/// Takes every set recorded since the last drain (at most the ring's size), and gives the
/// capture budgets back.
pub fn drain() -> Vec<(i64, String)> {
    drain_with_databases()
        .into_iter()
        .map(|(queryid, _, set)| (queryid, set))
        .collect()
}

/// [`drain`], with the database each set was captured in.
pub fn drain_with_databases() -> Vec<(i64, u32, String)> {
    RING.exclusive(|ring| {
        let mut out = Vec::new();
        let from = ring.drained.max(ring.written.saturating_sub(SLOTS as u64));
        for seq in from + 1..=ring.written {
            let slot = &ring.slots[((seq - 1) % SLOTS as u64) as usize];
            if slot.seq == seq {
                out.push((
                    slot.queryid,
                    slot.dbid,
                    String::from_utf8_lossy(&slot.text[..slot.len as usize]).into_owned(),
                ));
            }
        }
        ring.drained = ring.written;
        ring.gate.refill(epoch_s());
        out
    })
    .unwrap_or_default()
}

/// Statements that ran while none of their value sets is stored: their next first executions
/// are captured again.
pub fn rearm(queryids: &[i64]) {
    if let Some(gate) = gate() {
        for queryid in queryids {
            gate.rearm(*queryid as u64);
        }
    }
}

static IN_WORKER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks this process as OptiSchema's worker, whose own statements are never captured.
pub fn mark_worker() {
    IN_WORKER.store(true, Ordering::Relaxed);
}

thread_local! {
    /// Set while OptiSchema parses statements of its own in a user's session.
    static UNOBSERVED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with capture off in this session: the statements OptiSchema itself parses (what-if
/// custom plans carry values as constants) are not the application's.
pub fn unobserved<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            UNOBSERVED.with(|u| u.set(self.0));
        }
    }
    let _restore = Restore(UNOBSERVED.with(|u| u.replace(true)));
    f()
}

fn in_worker() -> bool {
    IN_WORKER.load(Ordering::Relaxed) || UNOBSERVED.with(|u| u.get())
}

/// Whether this execution of `queryid` is captured: its first ones, then a sampled share.
/// Runs on every execution: no lock, no allocation.
fn admitted(queryid: u64) -> Option<Capture> {
    if !settings::PARAM_CAPTURE.get() {
        return None;
    }
    let first_n = settings::PARAM_CAPTURE_FIRST.get().max(0) as u32;
    gate()?.admit(queryid, first_n, sampled)
}

/// xorshift: cheap, and good enough to pick a share of executions.
fn sampled() -> bool {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let rate = settings::PARAM_SAMPLE_RATE.get();
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = (std::process::id() as u64) << 32 | 0x9E37_79B9;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64 <= rate
}

fn role_excluded() -> bool {
    let excluded = settings::param_exclude_roles();
    if excluded.is_empty() {
        return false;
    }
    let name = unsafe { pg_sys::GetUserNameFromId(pg_sys::GetUserId(), true) };
    if name.is_null() {
        return false;
    }
    let name = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    excluded.contains(&name)
}

/// A value set as stored: a JSON array of SQL literals (or nulls), if it fits.
pub fn encode(values: &[Option<String>]) -> Option<String> {
    let text = serde_json::to_string(values).ok()?;
    (text.len() <= TEXT_BYTES).then_some(text)
}

/// Runs `f` and swallows any error: capturing must never fail the user's statement.
fn quietly(f: impl FnOnce()) {
    PgTryBuilder::new(AssertUnwindSafe(f))
        .catch_others(|_| ())
        .execute();
}

#[pg_guard]
unsafe extern "C-unwind" fn executor_start(
    query_desc: *mut pg_sys::QueryDesc,
    eflags: std::ffi::c_int,
) {
    unsafe {
        // EXPLAIN without ANALYZE runs nothing: not an execution (OptiSchema's own plans are made so)
        let explain_only = eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as std::ffi::c_int != 0;
        if !explain_only && !in_worker() {
            if let Some(capture) = bound_params_admitted(query_desc) {
                quietly(|| capture_bound_params(query_desc, capture));
            }
        }
        match PREV_EXECUTOR_START {
            Some(prev) => prev(query_desc, eflags),
            None => pg_sys::standard_ExecutorStart(query_desc, eflags),
        }
    }
}

/// Whether the execution has bound values worth capturing, and is admitted: checked before
/// the gate, so that a statement without values never spends a first capture.
unsafe fn bound_params_admitted(query_desc: *mut pg_sys::QueryDesc) -> Option<Capture> {
    unsafe {
        let qd = query_desc.as_ref()?;
        let (stmt, params) = (qd.plannedstmt.as_ref()?, qd.params.as_ref()?);
        // lists filled on demand (PL/pgSQL variables) are not the application's values
        if stmt.queryId == 0
            || params.numParams <= 0
            || params.paramFetch.is_some()
            || pg_sys::ParallelWorkerNumber >= 0
        {
            return None;
        }
        admitted(stmt.queryId)
    }
}

unsafe fn capture_bound_params(query_desc: *mut pg_sys::QueryDesc, capture: Capture) {
    unsafe {
        let Some(qd) = query_desc.as_ref() else {
            return;
        };
        let (Some(stmt), Some(params)) = (qd.plannedstmt.as_ref(), qd.params.as_ref()) else {
            return;
        };
        if role_excluded() {
            return;
        }
        let list = params.params.as_slice(params.numParams as usize);
        let mut values = Vec::with_capacity(list.len());
        for p in list {
            if p.isnull {
                values.push(None);
                continue;
            }
            if p.ptype == pg_sys::InvalidOid {
                return;
            }
            // the size first: a large value (a document, an image) is never formatted, which
            // would cost the application's backend its whole size in memory and time
            let typlen = pg_sys::get_typlen(p.ptype);
            if typlen == -1 && pg_sys::toast_raw_datum_size(p.value) > TEXT_BYTES {
                return;
            }
            if typlen == -2
                && CStr::from_ptr(p.value.cast_mut_ptr::<std::ffi::c_char>())
                    .to_bytes()
                    .len()
                    > TEXT_BYTES
            {
                return;
            }
            let mut output = pg_sys::InvalidOid;
            let mut varlena = false;
            pg_sys::getTypeOutputInfo(p.ptype, &mut output, &mut varlena);
            let text = pg_sys::OidOutputFunctionCall(output, p.value);
            let literal = pg_sys::quote_literal_cstr(text);
            values.push(Some(CStr::from_ptr(literal).to_string_lossy().into_owned()));
            if values.iter().flatten().map(String::len).sum::<usize>() > TEXT_BYTES {
                return;
            }
        }
        if let Some(encoded) = encode(&values) {
            push(stmt.queryId as i64, &encoded, capture);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn post_parse_analyze(
    pstate: *mut pg_sys::ParseState,
    query: *mut pg_sys::Query,
    jstate: *mut pg_sys::JumbleState,
) {
    unsafe {
        if let Some(prev) = PREV_POST_PARSE {
            prev(pstate, query, jstate);
        }
        if !in_worker() {
            if let Some(capture) = constants_admitted(query, jstate) {
                quietly(|| capture_constants(pstate, query, jstate, capture));
            }
        }
    }
}

/// Whether the statement has constants worth capturing, and is admitted (see
/// [`bound_params_admitted`]). Utility statements and queryid 0 never are.
unsafe fn constants_admitted(
    query: *mut pg_sys::Query,
    jstate: *mut pg_sys::JumbleState,
) -> Option<Capture> {
    unsafe {
        let (query, jstate) = (query.as_ref()?, jstate.as_ref()?);
        // statements mixing `$n` and constants are captured at execution, where both are known
        if jstate.clocations_count <= 0
            || query.queryId == 0
            || !query.utilityStmt.is_null()
            || jstate.highest_extern_param_id > 0
            || pg_sys::ParallelWorkerNumber >= 0
        {
            return None;
        }
        admitted(query.queryId)
    }
}

unsafe fn capture_constants(
    pstate: *mut pg_sys::ParseState,
    query: *mut pg_sys::Query,
    jstate: *mut pg_sys::JumbleState,
    capture: Capture,
) {
    unsafe {
        let (Some(pstate), Some(query), Some(jstate)) =
            (pstate.as_ref(), query.as_ref(), jstate.as_ref())
        else {
            return;
        };
        if pstate.p_sourcetext.is_null() || role_excluded() {
            return;
        }
        let source = CStr::from_ptr(pstate.p_sourcetext).to_string_lossy();
        if source.len() > 64 * 1024 {
            return;
        }
        let locations: Vec<usize> =
            std::slice::from_raw_parts(jstate.clocations, jstate.clocations_count as usize)
                .iter()
                .map(|l| l.location as usize)
                .collect();
        let tokens = lexer::tokens(&source);
        if let Some(values) = constants_at(&source, &tokens, &locations) {
            if let Some(encoded) = encode(&values.into_iter().map(Some).collect::<Vec<_>>()) {
                push(query.queryId as i64, &encoded, capture);
            }
        }
    }
}

/// A literal we accept to put back into SQL: a quoted string (optionally E/B/X/N-prefixed)
/// with nothing after its closing quote, a number, or TRUE/FALSE/NULL. Anything else (a
/// comment after the constant, say) is refused, so a captured value can never carry SQL.
pub fn is_plain_literal(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if ["true", "false", "null"].contains(&lower.as_str()) {
        return true;
    }
    let number = text.strip_prefix('-').unwrap_or(text);
    if !number.is_empty()
        && number.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '-' || c == '_')
    {
        return true;
    }
    let quoted = match text.find('\'') {
        Some(0) => text,
        Some(1) if "eEbBxXnN".contains(&text[..1]) => &text[1..],
        _ => return false,
    };
    // the body may contain doubled quotes only; the literal ends at the last character
    let Some(body) = quoted.strip_prefix('\'').and_then(|b| b.strip_suffix('\'')) else {
        return false;
    };
    body.replace("''", "").find('\'').is_none()
}

/// The type PostgreSQL's parser gives `text` as an unquoted constant in a statement: an integer
/// is int4, or int8 when it does not fit, or numeric; a number with a point or an exponent is
/// numeric; TRUE and FALSE are bool. None for a quoted string (its type comes from where it is
/// used, as for a parameter) and for NULL. Values captured from a statement's own constants
/// keep the typing the application's statement had: `substring(c FROM 1 FOR 2)` is the integer
/// form, while a parameter typed by its use would make it the SIMILAR (text) form.
pub fn literal_type(text: &str) -> Option<&'static str> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "false" => return Some("bool"),
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return Some(if text.parse::<i32>().is_ok() {
            "int4"
        } else if text.parse::<i64>().is_ok() {
            "int8"
        } else {
            "numeric"
        });
    }
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(at) => (&digits[..at], Some(&digits[at + 1..])),
        None => (digits, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    let mut parts = mantissa.splitn(2, '.');
    let (whole, fraction) = (parts.next().unwrap_or(""), parts.next());
    let mantissa_ok = !(whole.is_empty() && fraction.is_none_or(str::is_empty))
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit()));
    (mantissa_ok && exponent_ok && (fraction.is_some() || exponent.is_some())).then_some("numeric")
}

/// The text of the constants at `locations`, in pg_stat_statements' `$n` order (by location,
/// duplicates once). A constant ends where the next token starts; a leading minus sign is
/// part of a number, as pg_stat_statements reads it.
pub fn constants_at(source: &str, tokens: &[Token], locations: &[usize]) -> Option<Vec<String>> {
    let mut locations = locations.to_vec();
    locations.sort_unstable();
    locations.dedup();
    let starts: Vec<usize> = tokens.iter().map(token_start).collect();
    let mut out = Vec::with_capacity(locations.len());
    for at in locations {
        let i = starts.iter().position(|s| *s == at)?;
        if let Some(field) = extract_field(tokens, i) {
            out.push(format!("'{field}'"));
            continue;
        }
        let mut end_index = i + 1;
        if source[at..].starts_with('-') {
            end_index += 1;
        }
        let end = starts.get(end_index).copied().unwrap_or(source.len());
        let text = source
            .get(at..end)?
            .trim_end()
            .trim_end_matches(';')
            .trim_end();
        if !is_plain_literal(text) {
            return None;
        }
        out.push(text.to_string());
    }
    Some(out)
}

/// The field of `extract(field FROM x)` when token `i` is one: the parser makes a string
/// constant of it, which pg_stat_statements normalizes like any other.
fn extract_field(tokens: &[Token], i: usize) -> Option<&str> {
    let field = match tokens.get(i)? {
        Token::Ident { name, .. } => name,
        Token::Keyword { word, .. } => word,
        _ => return None,
    };
    let plain = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (plain && repair::is_extract_field(tokens, i)).then_some(field.as_str())
}

fn token_start(t: &Token) -> usize {
    match t {
        Token::Ident { at, .. }
        | Token::Keyword { at, .. }
        | Token::Param { at, .. }
        | Token::Other { at, .. } => *at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(at: usize, text: &str) -> Token {
        Token::Other {
            at,
            text: text.into(),
        }
    }

    #[test]
    fn an_extract_field_is_captured_as_the_string_the_parser_makes_of_it() {
        let sql = "SELECT extract(year FROM d) FROM t WHERE k = 7";
        let word = |at: usize, w: &str| Token::Keyword { at, word: w.into() };
        let tokens = vec![
            word(0, "select"),
            word(7, "extract"),
            other(14, "("),
            word(15, "year"),
            word(20, "from"),
            Token::Ident {
                at: 25,
                name: "d".into(),
            },
            other(26, ")"),
            word(28, "from"),
            Token::Ident {
                at: 33,
                name: "t".into(),
            },
            word(35, "where"),
            Token::Ident {
                at: 41,
                name: "k".into(),
            },
            other(43, "="),
            other(45, "7"),
        ];
        assert_eq!(
            constants_at(sql, &tokens, &[45, 15]),
            Some(vec!["'year'".to_string(), "7".to_string()])
        );
        // a word anywhere else is not a constant to capture
        assert_eq!(constants_at(sql, &tokens, &[33]), None);
    }

    #[test]
    fn constants_in_location_order_with_negative_numbers() {
        let sql = "SELECT * FROM t WHERE a = 'x''y' AND b > -12.5 AND c IN (1, 2)";
        // tokens as the server's lexer gives them (only starts matter)
        let tokens = vec![
            Token::Keyword {
                at: 0,
                word: "select".into(),
            },
            other(7, "*"),
            Token::Keyword {
                at: 9,
                word: "from".into(),
            },
            Token::Ident {
                at: 14,
                name: "t".into(),
            },
            Token::Keyword {
                at: 16,
                word: "where".into(),
            },
            Token::Ident {
                at: 22,
                name: "a".into(),
            },
            other(24, "="),
            other(26, "'"),
            Token::Keyword {
                at: 33,
                word: "and".into(),
            },
            Token::Ident {
                at: 37,
                name: "b".into(),
            },
            other(39, ">"),
            other(41, "-"),
            other(42, "1"),
            Token::Keyword {
                at: 47,
                word: "and".into(),
            },
            Token::Ident {
                at: 51,
                name: "c".into(),
            },
            Token::Keyword {
                at: 53,
                word: "in".into(),
            },
            other(56, "("),
            other(57, "1"),
            other(58, ","),
            other(60, "2"),
            other(61, ")"),
        ];
        let values = constants_at(sql, &tokens, &[60, 26, 41, 57, 26]).unwrap();
        assert_eq!(values, ["'x''y'", "-12.5", "1", "2"]);
    }

    #[test]
    fn unknown_locations_give_nothing() {
        let tokens = vec![
            Token::Keyword {
                at: 0,
                word: "select".into(),
            },
            other(7, "1"),
        ];
        assert_eq!(constants_at("SELECT 1", &tokens, &[3]), None);
        assert_eq!(constants_at("SELECT 1", &tokens, &[7]).unwrap(), ["1"]);
    }

    #[test]
    fn only_plain_literals_are_accepted() {
        for ok in [
            "'abc'", "'it''s'", "E'a\\n'", "42", "-1.5e3", "TRUE", "null", "B'0101'", "''",
        ] {
            assert!(is_plain_literal(ok), "{ok}");
        }
        for bad in [
            "1 -- ), pg_sleep(1)",
            "'a' /* x */",
            "'a'||'b'",
            "now()",
            "'unterminated",
            "'a' 'b'",
            "",
        ] {
            assert!(!is_plain_literal(bad), "{bad}");
        }
    }

    #[test]
    fn unquoted_constants_are_typed_as_the_parser_types_them() {
        for (text, typed) in [
            ("1", Some("int4")),
            ("-2147483648", Some("int4")),
            ("2147483648", Some("int8")),
            ("-9223372036854775808", Some("int8")),
            ("9223372036854775808", Some("numeric")),
            ("1.5", Some("numeric")),
            ("-.5", Some("numeric")),
            ("5.", Some("numeric")),
            ("1e10", Some("numeric")),
            ("2.5E-3", Some("numeric")),
            ("TRUE", Some("bool")),
            ("false", Some("bool")),
            ("'1'", None),
            ("NULL", None),
            ("E'x'", None),
            ("1e", None),
            (".", None),
            ("-", None),
            ("1.2.3", None),
            ("", None),
        ] {
            assert_eq!(literal_type(text), typed, "{text:?}");
        }
    }

    #[test]
    fn encoded_sets_are_bounded() {
        assert_eq!(
            encode(&[Some("'a'".into()), None]).as_deref(),
            Some("[\"'a'\",null]")
        );
        assert_eq!(encode(&[Some("x".repeat(TEXT_BYTES))]), None);
    }
}
