//! One JSON line per event on the worker's console (Workers Logs / `wrangler tail`).
//! Callers pass values that are safe to log: ids, short hashes, error kinds; never a token or key.

pub fn event(level: &str, name: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({ "level": level, "event": name });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    worker::console_log!("{line}");
}
