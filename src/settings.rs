//! Every `optischema.*` setting, registered once from `_PG_init`.
//!
//! Units and ranges are the ones documented in the README; PostgreSQL enforces them when a
//! value is set, so the rest of the code can read them without re-checking.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

pub static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
/// Seconds between two samples of pg_stat_statements.
pub static SAMPLE_INTERVAL_S: GucSetting<i32> = GucSetting::<i32>::new(10);
/// Minutes of history kept.
pub static RETENTION_MIN: GucSetting<i32> = GucSetting::<i32>::new(7 * 24 * 60);
pub static HOT_TOP_N: GucSetting<i32> = GucSetting::<i32>::new(20);
pub static MAX_DATABASE_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(2);

pub const SAMPLE_INTERVAL_MIN_S: i32 = 1;
pub const SAMPLE_INTERVAL_MAX_S: i32 = 3600;

pub fn register() {
    GucRegistry::define_bool_guc(
        c"optischema.enabled",
        c"Enables sampling of pg_stat_statements by the OptiSchema worker.",
        c"When off, the worker stays idle and keeps its stored history.",
        &ENABLED,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"optischema.database",
        c"Database the OptiSchema worker connects to.",
        c"The optischema extension must be created in this database.",
        &DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"optischema.sample_interval",
        c"Time between two samples of pg_stat_statements.",
        c"Each sample turns cumulative counters into per-statement deltas.",
        &SAMPLE_INTERVAL_S,
        SAMPLE_INTERVAL_MIN_S,
        SAMPLE_INTERVAL_MAX_S,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"optischema.retention",
        c"How long statement history is kept.",
        c"Older history rows are pruned in small batches by the worker.",
        &RETENTION_MIN,
        60,
        366 * 24 * 60,
        GucContext::Sighup,
        GucFlags::UNIT_MIN,
    );
    GucRegistry::define_int_guc(
        c"optischema.hot_top_n",
        c"Number of statements that count as hot.",
        c"A hot_query notification is sent when a statement enters this top list by total time over the last 5 minutes.",
        &HOT_TOP_N,
        1,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"optischema.max_database_workers",
        c"Workers serving the other databases of the server at once.",
        c"Databases with the extension take turns in proportion to their share of statement time; also bounded by max_worker_processes.",
        &MAX_DATABASE_WORKERS,
        0,
        64,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"optischema.min_improvement_pct",
        c"Smallest share of a statement's planned cost an index must save to be proposed.",
        c"Checked with the planner, the index in place hypothetically.",
        &MIN_IMPROVEMENT_PCT,
        0.0,
        100.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"optischema.index_budget_mb",
        c"Total size the indexes the advisor proposes may take together, in megabytes.",
        c"Sizes are the estimated sizes of the indexes once built.",
        &INDEX_BUDGET_MB,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"optischema.realize_window",
        c"How long after applying a fix its real saving is measured, against as long before.",
        c"From the history: the helped statements' mean time and calls in each window.",
        &REALIZE_WINDOW_MIN,
        1,
        24 * 60,
        GucContext::Sighup,
        GucFlags::UNIT_MIN,
    );
    GucRegistry::define_bool_guc(
        c"optischema.auto_revert",
        c"Reverts an applied fix when its statements got slower, or its table's writes slowed too much.",
        c"Checked when the real saving is measured, after optischema.realize_window.",
        &AUTO_REVERT,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"optischema.auto_revert_write_slowdown_pct",
        c"Slowdown of the table's writes, in percent of their mean time, that makes auto_revert undo an index.",
        c"Compared over the same windows as the real saving.",
        &AUTO_REVERT_WRITE_SLOWDOWN_PCT,
        0.0,
        10_000.0,
        GucContext::Sighup,
        GucFlags::default(),
    );
    register_capture();
    register_llm();
    register_sandbox();
    // any other optischema.* name is a typo: warn about it instead of accepting it silently
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"optischema".as_ptr()) };
}

pub fn database() -> String {
    DATABASE
        .get()
        .and_then(|c| c.into_string().ok())
        .unwrap_or_else(|| "postgres".to_string())
}

pub fn sample_interval_s() -> i32 {
    SAMPLE_INTERVAL_S.get()
}

/// Indexes that save less than this share of their statement's cost are not proposed.
pub static MIN_IMPROVEMENT_PCT: GucSetting<f64> = GucSetting::<f64>::new(20.0);

/// Minutes after an apply at which its real saving is measured.
pub static REALIZE_WINDOW_MIN: GucSetting<i32> = GucSetting::<i32>::new(15);

pub static AUTO_REVERT: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static AUTO_REVERT_WRITE_SLOWDOWN_PCT: GucSetting<f64> = GucSetting::<f64>::new(20.0);

/// Total size of the proposed indexes, in MB.
pub static INDEX_BUDGET_MB: GucSetting<i32> = GucSetting::<i32>::new(1024);

pub static PARAM_CAPTURE: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static PARAM_SAMPLE_RATE: GucSetting<f64> = GucSetting::<f64>::new(0.01);
/// Executions of each statement captured, per hour, before the sampling rate applies.
pub static PARAM_CAPTURE_FIRST: GucSetting<i32> = GucSetting::<i32>::new(5);
pub const PARAM_CAPTURE_FIRST_MAX: i32 = 1000;
pub static PARAM_EXCLUDE_ROLES: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);

/// Settings of parameter capture: superusers may change them per session.
fn register_capture() {
    GucRegistry::define_bool_guc(
        c"optischema.param_capture",
        c"Captures a sample of the parameter values statements run with.",
        c"Values are kept in shared memory, then in optischema.captured_params (optischema_admin only).",
        &PARAM_CAPTURE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"optischema.param_sample_rate",
        c"Share of executions whose parameter values are captured, past each statement's first ones.",
        c"0 captures only the first ones (optischema.param_capture_first), 1 every execution.",
        &PARAM_SAMPLE_RATE,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"optischema.param_capture_first",
        c"Executions of each statement whose parameter values are captured before the sampling rate applies.",
        c"Counted per statement and per hour, and again when no value set of a statement that runs is stored. 0: the sampling rate alone.",
        &PARAM_CAPTURE_FIRST,
        0,
        PARAM_CAPTURE_FIRST_MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"optischema.param_exclude_roles",
        c"Roles whose statements' parameter values are never captured (comma-separated).",
        c"For roles whose values are personal or secret.",
        &PARAM_EXCLUDE_ROLES,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The excluded role names, trimmed.
pub fn param_exclude_roles() -> Vec<String> {
    PARAM_EXCLUDE_ROLES
        .get()
        .and_then(|c| c.into_string().ok())
        .map(|s| {
            s.split(',')
                .map(|r| r.trim().trim_matches('"').to_string())
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub static LLM_BASE_URL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"https://api.openai.com/v1"));
pub static LLM_MODEL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"gpt-4o"));
pub static LLM_API_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static LLM_API_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Seconds an LLM call may take.
pub static LLM_TIMEOUT_S: GucSetting<i32> = GucSetting::<i32>::new(30);
pub static LLM_MAX_TOKENS: GucSetting<i32> = GucSetting::<i32>::new(1500);
/// Tokens a day; 0 makes no call.
pub static LLM_DAILY_TOKEN_BUDGET: GucSetting<i32> = GucSetting::<i32>::new(200_000);
pub static LLM_SEND_VALUES: GucSetting<bool> = GucSetting::<bool>::new(false);

/// Settings of the LLM layer: read by the AI worker at each request, so a reload applies.
fn register_llm() {
    GucRegistry::define_string_guc(
        c"optischema.llm_base_url",
        c"Base URL of the OpenAI-compatible API OptiSchema asks for explanations and rewrites.",
        c"Requests go to <base URL>/chat/completions.",
        &LLM_BASE_URL,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"optischema.llm_model",
        c"Model OptiSchema asks.",
        c"Part of the answer cache's key: another model asks again.",
        &LLM_MODEL,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"optischema.llm_api_key",
        c"API key for the LLM endpoint (or the server's OPENAI_API_KEY environment variable).",
        c"Only superusers can see or set it.",
        &LLM_API_KEY,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY | GucFlags::NO_SHOW_ALL,
    );
    GucRegistry::define_string_guc(
        c"optischema.llm_api_key_file",
        c"File holding the API key, read at each request when optischema.llm_api_key is empty.",
        c"It must belong to the server's OS user with mode 600. Only superusers can see or set it.",
        &LLM_API_KEY_FILE,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_int_guc(
        c"optischema.llm_timeout",
        c"Longest time one LLM call may take.",
        c"The call is made by the AI worker, outside any transaction.",
        &LLM_TIMEOUT_S,
        1,
        600,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"optischema.llm_max_tokens",
        c"Most tokens one answer may have.",
        c"Sent as max_tokens with each request.",
        &LLM_MAX_TOKENS,
        64,
        32_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"optischema.llm_daily_token_budget",
        c"Tokens OptiSchema may spend on LLM calls per day (UTC); 0 makes no call.",
        c"Prompt and answer tokens as the endpoint reports them.",
        &LLM_DAILY_TOKEN_BUDGET,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"optischema.llm_send_values",
        c"Lets captured parameter values go to the LLM endpoint.",
        c"Off: prompts carry statement texts with $n placeholders only.",
        &LLM_SEND_VALUES,
        GucContext::Sighup,
        GucFlags::default(),
    );
}

fn text_setting(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .and_then(|c| c.into_string().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn llm_base_url() -> String {
    text_setting(&LLM_BASE_URL).unwrap_or_else(|| "https://api.openai.com/v1".into())
}

pub fn llm_model() -> String {
    text_setting(&LLM_MODEL).unwrap_or_else(|| "gpt-4o".into())
}

/// The API key: the setting, the key file, or the server's OPENAI_API_KEY. Never logged or
/// shown.
pub fn llm_api_key() -> Option<String> {
    text_setting(&LLM_API_KEY)
        .or_else(|| key_file().ok().flatten())
        .or_else(env_api_key)
}

/// The key as the setting or the environment give it (not the file): what the log hook looks
/// for, cheaply, in every message.
pub fn llm_api_key_in_memory() -> Option<String> {
    text_setting(&LLM_API_KEY).or_else(env_api_key)
}

fn env_api_key() -> Option<String> {
    std::env::var("OPENAI_API_KEY")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
}

/// The key read from `optischema.llm_api_key_file`: None when the setting is empty; an error
/// when the file cannot be read or other OS users could read it (it must belong to the
/// server's OS user, with no permissions for group or others, as PostgreSQL asks of
/// ssl_key_file).
pub fn key_file() -> Result<Option<String>, String> {
    let Some(path) = text_setting(&LLM_API_KEY_FILE) else {
        return Ok(None);
    };
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&path)
        .map_err(|e| format!("optischema.llm_api_key_file \"{path}\": {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "optischema.llm_api_key_file \"{path}\" is not a regular file"
        ));
    }
    let me = unsafe { libc_geteuid() };
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "optischema.llm_api_key_file \"{path}\" must belong to the server's OS user and give \
             no access to group or others (chmod 600)"
        ));
    }
    let key = std::fs::read_to_string(&path)
        .map_err(|e| format!("optischema.llm_api_key_file \"{path}\": {e}"))?;
    let key = key.trim().to_string();
    Ok((!key.is_empty()).then_some(key))
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Where trials run: a separate PostgreSQL; none runs them here, rolled back.
pub static SANDBOX_CONNINFO: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Largest share of a table copied to the sandbox, in MB; bigger tables are sampled.
pub static SANDBOX_COPY_LIMIT_MB: GucSetting<i32> = GucSetting::<i32>::new(64);

fn register_sandbox() {
    GucRegistry::define_string_guc(
        c"optischema.sandbox_conninfo",
        c"Connection string of a separate PostgreSQL where trials run on copies of the tables.",
        c"Empty: trials run here, read-only and rolled back. Only superusers can see or set it (it may hold a password).",
        &SANDBOX_CONNINFO,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY | GucFlags::NO_SHOW_ALL,
    );
    GucRegistry::define_int_guc(
        c"optischema.sandbox_copy_limit",
        c"Most of one table a trial copies to the sandbox; a larger table is copied as a sample of its blocks.",
        c"Compared with the table's size on disk.",
        &SANDBOX_COPY_LIMIT_MB,
        1,
        1 << 20,
        GucContext::Sighup,
        GucFlags::UNIT_MB,
    );
}

pub fn sandbox_conninfo() -> Option<String> {
    text_setting(&SANDBOX_CONNINFO)
}
