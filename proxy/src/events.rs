//! What goes to browsers: JSON made safe for JavaScript, and NOTIFY payloads tagged with the
//! database they came from.

use serde_json::{json, Value};

/// Largest integer a JavaScript number holds exactly.
const JS_SAFE: u64 = (1 << 53) - 1;

/// `value` with every integer beyond ±2^53 as a string: queryids are 64-bit, and a browser
/// would silently change them into other numbers.
pub fn safe_for_js(value: Value) -> Value {
    match value {
        Value::Number(n) => {
            let too_big = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u > JS_SAFE,
                (None, Some(i)) => i.unsigned_abs() > JS_SAFE,
                _ => false,
            };
            if too_big {
                Value::String(n.to_string())
            } else {
                Value::Number(n)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(safe_for_js).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, safe_for_js(v))).collect())
        }
        other => other,
    }
}

/// JSON text from the database, made safe for JavaScript; None when it is not JSON.
pub fn safe_json_text(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(safe_for_js(value).to_string())
}

/// A NOTIFY payload from database `db`, as a WebSocket message: `{"db": ..., "payload": ...}`
/// (a payload that is not JSON is passed as a string).
pub fn notification(db: &str, payload: &str) -> String {
    let payload = serde_json::from_str::<Value>(payload)
        .map(safe_for_js)
        .unwrap_or_else(|_| Value::String(payload.to_string()));
    json!({ "db": db, "payload": payload }).to_string()
}

/// The proxy's own news about database `db`'s connection: `connected` or `reconnecting`.
pub fn connection(db: &str, state: &str, error: Option<&str>) -> String {
    let mut payload = json!({ "type": "proxy", "state": state });
    if let Some(e) = error {
        payload["error"] = Value::String(e.to_string());
    }
    json!({ "db": db, "payload": payload }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queryids_reach_browsers_unchanged_as_strings() {
        let v = safe_for_js(json!({
            "queryid": -9027548059796858541i64,
            "statements": [3537415239853671216i64, 12],
            "calls": 9007199254740991u64,
            "big": 9007199254740992u64,
            "pct": 99.5,
            "nested": {"queryid": 18446744073709551615u64}
        }));
        assert_eq!(v["queryid"], "-9027548059796858541");
        assert_eq!(v["statements"], json!(["3537415239853671216", 12]));
        assert_eq!(v["calls"], 9007199254740991u64);
        assert_eq!(v["big"], "9007199254740992");
        assert_eq!(v["pct"], 99.5);
        assert_eq!(v["nested"]["queryid"], "18446744073709551615");
        assert_eq!(safe_json_text("not json"), None);
    }

    #[test]
    fn notifications_carry_their_database() {
        let m: Value = serde_json::from_str(&notification(
            "shop",
            r#"{"type":"hot_query","queryid":-1558635119741761175,"rank":1}"#,
        ))
        .unwrap();
        assert_eq!(m["db"], "shop");
        assert_eq!(m["payload"]["type"], "hot_query");
        assert_eq!(m["payload"]["queryid"], "-1558635119741761175");
        let m: Value = serde_json::from_str(&notification("shop", "plain text")).unwrap();
        assert_eq!(m["payload"], "plain text");
        let m: Value = serde_json::from_str(&connection(
            "eu",
            "reconnecting",
            Some("connection refused"),
        ))
        .unwrap();
        assert_eq!(
            m,
            json!({"db": "eu", "payload": {"type": "proxy", "state": "reconnecting", "error": "connection refused"}})
        );
    }
}
