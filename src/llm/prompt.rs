//! What OptiSchema sends: a versioned system prompt (in its own file), the statement's context
//! as JSON, and a JSON schema the answer must follow. Pure.

use serde_json::{json, Value};

/// Part of the cache key: a new prompt asks again.
pub const PROMPT_VERSION: i32 = 1;
pub const SYSTEM_PROMPT: &str = include_str!("prompt_v1.txt");

/// The answer's shape, sent as structured output.
pub fn answer_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["explanation", "rewritten_sql", "index_suggestions", "risks"],
        "properties": {
            "explanation": { "type": "string" },
            "rewritten_sql": { "type": ["string", "null"] },
            "index_suggestions": { "type": "array", "items": { "type": "string" } },
            "risks": { "type": "array", "items": { "type": "string" } }
        }
    })
}

/// The chat-completions request body for `context` (the statement, its plan, tables and
/// findings, as `context::gather` builds it).
pub fn request_body(model: &str, max_tokens: i32, context: &Value) -> Value {
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "temperature": 0,
        "messages": [
            { "role": "system", "content": SYSTEM_PROMPT },
            { "role": "user", "content": context.to_string() }
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": { "name": "optischema_advice", "strict": true, "schema": answer_schema() }
        }
    })
}

/// A plan reduced to what the model needs: node types, relations, indexes, conditions, row
/// estimates and costs, children. Everything else EXPLAIN says (widths, output lists, settings)
/// is left out to keep the prompt short.
pub fn trim_plan(node: &Value) -> Value {
    const KEEP: &[&str] = &[
        "Node Type",
        "Relation Name",
        "Schema",
        "Alias",
        "Index Name",
        "Join Type",
        "Strategy",
        "Filter",
        "Index Cond",
        "Recheck Cond",
        "Join Filter",
        "Hash Cond",
        "Merge Cond",
        "Sort Key",
        "Group Key",
        "Plan Rows",
        "Total Cost",
        "Startup Cost",
        "Workers Planned",
    ];
    let mut out = serde_json::Map::new();
    if let Some(map) = node.as_object() {
        for key in KEEP {
            if let Some(v) = map.get(*key) {
                out.insert((*key).to_string(), v.clone());
            }
        }
        if let Some(children) = map.get("Plans").and_then(Value::as_array) {
            out.insert(
                "Plans".into(),
                Value::Array(children.iter().map(trim_plan).collect()),
            );
        }
    }
    Value::Object(out)
}

/// A stable fingerprint of a plan's shape (node types, relations, indexes, conditions; not
/// costs or row estimates): the cache asks again when the plan changes, not when numbers drift.
pub fn plan_fingerprint(plan: &Value) -> String {
    fn shape(node: &Value, out: &mut String) {
        let Some(map) = node.as_object() else { return };
        for key in [
            "Node Type",
            "Relation Name",
            "Index Name",
            "Join Type",
            "Filter",
            "Index Cond",
            "Hash Cond",
            "Merge Cond",
        ] {
            if let Some(v) = map.get(key) {
                out.push_str(key);
                out.push('=');
                out.push_str(&v.to_string());
                out.push(';');
            }
        }
        out.push('(');
        if let Some(children) = map.get("Plans").and_then(Value::as_array) {
            for c in children {
                shape(c, out);
            }
        }
        out.push(')');
    }
    let mut text = String::new();
    shape(plan, &mut text);
    fnv64(&text)
}

/// FNV-1a, 64 bits, as 16 hex digits: stable across builds and machines, unlike std's hasher.
pub fn fnv64(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The context with every literal of its SQL texts replaced by `$n` and their comments removed
/// (the statement, the plan's conditions and keys, index keys and predicates, findings' titles
/// and statements): what is sent when `optischema.llm_send_values` is off. Names and numbers
/// that are not SQL (row counts, costs) stay.
pub fn without_values(context: &mut Value) {
    use crate::sampling::text::without_any_literal;
    fn scrub(v: &mut Value) {
        match v {
            Value::String(s) => *s = without_any_literal(s),
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    fn plan(node: &mut Value) {
        const SQL_TEXTS: &[&str] = &[
            "Filter",
            "Index Cond",
            "Recheck Cond",
            "Join Filter",
            "Hash Cond",
            "Merge Cond",
            "Sort Key",
            "Group Key",
        ];
        let Some(map) = node.as_object_mut() else {
            return;
        };
        for key in SQL_TEXTS {
            if let Some(v) = map.get_mut(*key) {
                scrub(v);
            }
        }
        if let Some(Value::Array(children)) = map.get_mut("Plans") {
            children.iter_mut().for_each(plan);
        }
    }
    if let Some(statement) = context.get_mut("statement") {
        scrub(statement);
    }
    if let Some(top) = context.get_mut("plan") {
        plan(top);
    }
    if let Some(Value::Array(tables)) = context.get_mut("tables") {
        for index in tables
            .iter_mut()
            .filter_map(|t| t.get_mut("indexes").and_then(Value::as_array_mut))
            .flatten()
        {
            for key in ["keys", "predicate"] {
                if let Some(v) = index.get_mut(key) {
                    scrub(v);
                }
            }
        }
    }
    if let Some(Value::Array(findings)) = context.get_mut("findings") {
        for finding in findings {
            for key in ["title", "sql"] {
                if let Some(v) = finding.get_mut(key) {
                    scrub(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rows: f64, filter: &str) -> Value {
        json!({"Node Type": "Limit", "Total Cost": 10.0, "Plan Rows": rows, "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "orders", "Filter": filter,
             "Output": ["id", "total"], "Plan Width": 12, "Plan Rows": rows, "Total Cost": 9.0}]})
    }

    #[test]
    fn the_fingerprint_follows_the_shape_not_the_numbers() {
        let a = plan_fingerprint(&plan(10.0, "(customer_id = $1)"));
        assert_eq!(a, plan_fingerprint(&plan(99.0, "(customer_id = $1)")));
        assert_ne!(a, plan_fingerprint(&plan(10.0, "(status = $1)")));
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn a_trimmed_plan_keeps_what_the_model_needs() {
        let t = trim_plan(&plan(10.0, "(customer_id = $1)"));
        assert_eq!(t["Plans"][0]["Filter"], "(customer_id = $1)");
        assert!(t["Plans"][0].get("Output").is_none());
        assert!(t["Plans"][0].get("Plan Width").is_none());
    }

    #[test]
    fn the_request_asks_for_structured_output_with_the_model_and_limit() {
        let body = request_body("gpt-4o", 800, &json!({"statement": "SELECT 1"}));
        assert_eq!(body["model"], "gpt-4o");
        assert_eq!(body["max_tokens"], 800);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(
            body["response_format"]["json_schema"]["schema"]["required"][0],
            "explanation"
        );
        assert!(body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("SELECT 1"));
    }

    #[test]
    fn without_values_no_literal_is_left_in_any_sql_text() {
        let mut context = json!({
            "statement": "SELECT * FROM t WHERE a = $1 /* tenant 'acme' */",
            "plan": {"Node Type": "Seq Scan", "Filter": "(b = 'secret'::text)", "Plan Rows": 5,
                     "Plans": [{"Index Cond": "(c > 42)", "Sort Key": ["(d * 3)"]}]},
            "tables": [{"table": "public.t", "rows": 100.0,
                        "indexes": [{"name": "t_2024", "keys": ["lower(e)", "coalesce(f, 0)"],
                                     "predicate": "(status = 'vip'::text)"}]}],
            "findings": [{"title": "Partial index WHERE kind = 'gold'",
                          "sql": "CREATE INDEX CONCURRENTLY ON public.t (a) WHERE kind = 'gold'"}],
        });
        without_values(&mut context);
        let text = context.to_string();
        for value in [
            "acme",
            "secret",
            "42",
            "vip",
            "gold",
            "(d * 3)",
            "coalesce(f, 0)",
        ] {
            assert!(!text.contains(value), "{value} left in {text}");
        }
        assert_eq!(context["plan"]["Filter"], "(b = $1::text)");
        assert_eq!(context["plan"]["Plan Rows"], 5);
        assert_eq!(context["tables"][0]["indexes"][0]["name"], "t_2024");
        assert_eq!(context["statement"], "SELECT * FROM t WHERE a = $1 ");
    }
}
