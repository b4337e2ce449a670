//! The what-if advisor: hypothetical indexes inside the planner.

pub mod columns;
pub mod distinct;
pub mod groups;
pub mod hypo;
pub mod planner;
pub mod size;

/// `read` of `relid`'s pg_class row (from the syscache), or None when there is no such row.
pub(crate) fn with_pg_class<R>(
    relid: pgrx::pg_sys::Oid,
    read: impl FnOnce(&pgrx::pg_sys::FormData_pg_class) -> R,
) -> Option<R> {
    use pgrx::pg_sys;
    unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::RELOID as std::ffi::c_int,
            pg_sys::Datum::from(relid),
        );
        if tuple.is_null() {
            return None;
        }
        let result = read(&*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple));
        pg_sys::ReleaseSysCache(tuple);
        Some(result)
    }
}

/// `relid`'s schema-qualified name, quoted, to build a statement with; None when the relation
/// is gone or a name is not valid UTF-8 (rewriting it lossily could name another relation).
pub(crate) fn qualified_name(relid: pgrx::pg_sys::Oid) -> Option<String> {
    use pgrx::pg_sys;
    use pgrx::spi::quote_identifier;
    unsafe {
        let namespace = utf8(pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid)))?;
        let relname = utf8(pg_sys::get_rel_name(relid))?;
        Some(format!(
            "{}.{}",
            quote_identifier(namespace),
            quote_identifier(relname)
        ))
    }
}

/// A C string PostgreSQL returned, when there is one and it is valid UTF-8.
pub(crate) unsafe fn utf8(p: *const std::ffi::c_char) -> Option<String> {
    unsafe {
        (!p.is_null())
            .then(|| {
                std::ffi::CStr::from_ptr(p)
                    .to_str()
                    .ok()
                    .map(str::to_string)
            })
            .flatten()
    }
}

/// Whether an EXPLAIN (FORMAT JSON) output uses the index called `name` anywhere.
pub fn uses_index(plan: &serde_json::Value, name: &str) -> bool {
    match plan {
        serde_json::Value::Object(map) => {
            map.get("Index Name").and_then(|v| v.as_str()) == Some(name)
                || map.values().any(|v| uses_index(v, name))
        }
        serde_json::Value::Array(items) => items.iter().any(|v| uses_index(v, name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_index_anywhere_in_the_plan() {
        let plan = serde_json::json!([{"Plan": {"Node Type": "Limit", "Plans": [
            {"Node Type": "Index Scan", "Index Name": "<hypothetical 1>"}]}}]);
        assert!(uses_index(&plan, "<hypothetical 1>"));
        assert!(!uses_index(&plan, "<hypothetical 2>"));
    }
}
