//! The what-if advisor: hypothetical indexes inside the planner.

pub mod columns;
pub mod distinct;
pub mod groups;
pub mod hypo;
pub mod planner;
pub mod size;

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
