//! The few libpq calls a sandbox trial needs, as dblink and postgres_fdw use it from inside the
//! server. Calls block: every one is bounded by `connect_timeout` and the sandbox session's
//! `statement_timeout`, and none is made while this server holds a transaction open.

use std::ffi::{c_char, c_int, CStr, CString};

#[repr(C)]
struct PGconn {
    _private: [u8; 0],
}

#[repr(C)]
struct PGresult {
    _private: [u8; 0],
}

const CONNECTION_OK: c_int = 0;
const PGRES_COMMAND_OK: c_int = 1;
const PGRES_TUPLES_OK: c_int = 2;

#[link(name = "pq")]
unsafe extern "C" {
    fn PQconnectdbParams(
        keywords: *const *const c_char,
        values: *const *const c_char,
        expand_dbname: c_int,
    ) -> *mut PGconn;
    fn PQstatus(conn: *const PGconn) -> c_int;
    fn PQerrorMessage(conn: *const PGconn) -> *const c_char;
    fn PQfinish(conn: *mut PGconn);
    fn PQexecParams(
        conn: *mut PGconn,
        command: *const c_char,
        n_params: c_int,
        param_types: *const u32,
        param_values: *const *const c_char,
        param_lengths: *const c_int,
        param_formats: *const c_int,
        result_format: c_int,
    ) -> *mut PGresult;
    fn PQresultStatus(res: *const PGresult) -> c_int;
    fn PQresultErrorMessage(res: *const PGresult) -> *const c_char;
    fn PQntuples(res: *const PGresult) -> c_int;
    fn PQnfields(res: *const PGresult) -> c_int;
    fn PQgetvalue(res: *const PGresult, row: c_int, column: c_int) -> *const c_char;
    fn PQgetisnull(res: *const PGresult, row: c_int, column: c_int) -> c_int;
    fn PQclear(res: *mut PGresult);
}

/// Rows of a result, as text.
pub type Rows = Vec<Vec<Option<String>>>;

/// An open connection, closed when dropped.
pub struct Connection {
    conn: *mut PGconn,
}

fn text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .trim()
        .to_string()
}

fn c_string(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| "text with a zero byte cannot be sent".to_string())
}

impl Connection {
    /// Connects with `conninfo` (a connection string or URI), database `dbname` when given.
    /// A `connect_timeout` of 10 s applies unless the conninfo sets one.
    pub fn open(conninfo: &str, dbname: Option<&str>) -> Result<Connection, String> {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("connect_timeout", "10"),
            ("dbname", conninfo),
            ("application_name", "optischema trial"),
        ];
        if let Some(db) = dbname {
            // a later dbname overrides the one the conninfo expanded to
            pairs.push(("dbname", db));
        }
        let keys: Vec<CString> = pairs
            .iter()
            .map(|(k, _)| c_string(k))
            .collect::<Result<_, _>>()?;
        let values: Vec<CString> = pairs
            .iter()
            .map(|(_, v)| c_string(v))
            .collect::<Result<_, _>>()?;
        let mut key_ptrs: Vec<*const c_char> = keys.iter().map(|k| k.as_ptr()).collect();
        let mut value_ptrs: Vec<*const c_char> = values.iter().map(|v| v.as_ptr()).collect();
        key_ptrs.push(std::ptr::null());
        value_ptrs.push(std::ptr::null());
        let conn = unsafe { PQconnectdbParams(key_ptrs.as_ptr(), value_ptrs.as_ptr(), 1) };
        if conn.is_null() {
            return Err("out of memory connecting to the sandbox".into());
        }
        let connection = Connection { conn };
        if unsafe { PQstatus(conn) } != CONNECTION_OK {
            return Err(format!(
                "cannot connect to the sandbox: {}",
                text(unsafe { PQerrorMessage(conn) })
            ));
        }
        Ok(connection)
    }

    /// Runs `sql` with text parameters; the rows it returns (none for a command).
    pub fn query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows, String> {
        let command = c_string(sql)?;
        let owned: Vec<Option<CString>> = params
            .iter()
            .map(|p| p.map(c_string).transpose())
            .collect::<Result<_, _>>()?;
        let ptrs: Vec<*const c_char> = owned
            .iter()
            .map(|p| p.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
            .collect();
        let res = unsafe {
            PQexecParams(
                self.conn,
                command.as_ptr(),
                ptrs.len() as c_int,
                std::ptr::null(),
                if ptrs.is_empty() {
                    std::ptr::null()
                } else {
                    ptrs.as_ptr()
                },
                std::ptr::null(),
                std::ptr::null(),
                0,
            )
        };
        if res.is_null() {
            return Err(text(unsafe { PQerrorMessage(self.conn) }));
        }
        let outcome = unsafe {
            match PQresultStatus(res) {
                PGRES_COMMAND_OK => Ok(Vec::new()),
                PGRES_TUPLES_OK => {
                    let (n, m) = (PQntuples(res), PQnfields(res));
                    Ok((0..n)
                        .map(|r| {
                            (0..m)
                                .map(|c| {
                                    (PQgetisnull(res, r, c) == 0)
                                        .then(|| text_untrimmed(PQgetvalue(res, r, c)))
                                })
                                .collect()
                        })
                        .collect())
                }
                _ => Err(text(PQresultErrorMessage(res))),
            }
        };
        unsafe { PQclear(res) };
        outcome
    }

    /// Runs `sql`, a command or commands without parameters.
    pub fn run(&mut self, sql: &str) -> Result<(), String> {
        self.query(sql, &[]).map(|_| ())
    }

    /// The first column of the first row.
    pub fn value(&mut self, sql: &str) -> Result<Option<String>, String> {
        Ok(self
            .query(sql, &[])?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten()))
    }
}

fn text_untrimmed(ptr: *const c_char) -> String {
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

impl Drop for Connection {
    fn drop(&mut self) {
        unsafe { PQfinish(self.conn) };
    }
}

/// `items` as the text of a one-dimensional array literal (for a `text[]` parameter).
pub fn array_literal(items: &[String]) -> String {
    let mut out = String::with_capacity(items.iter().map(|i| i.len() + 3).sum::<usize>() + 2);
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for ch in item.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_every_element_and_escape_quotes_and_backslashes() {
        let items = vec![
            "(1,abc)".to_string(),
            r#"(2,"a ""b"" c")"#.to_string(),
            r"(3,a\b)".to_string(),
            String::new(),
        ];
        assert_eq!(
            array_literal(&items),
            r#"{"(1,abc)","(2,\"a \"\"b\"\" c\")","(3,a\\b)",""}"#
        );
        assert_eq!(array_literal(&[]), "{}");
    }
}
