//! Who is an admin (`guard::ports::Directory`): the roles record, one row, and the admin keys,
//! one row each, keyed by the key's SHA-256. Both are JSON as the domain writes them.

use serde::Deserialize;

use super::SqlStore;
use crate::domain::admin::key::KeyRecord;
use crate::domain::guard::ports::{Directory, StoreError};

#[derive(Deserialize)]
struct Text {
    record: String,
}

fn key(text: &str) -> Result<KeyRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError(format!("a stored admin key is unreadable: {e}")))
}

fn text(key: &KeyRecord) -> String {
    serde_json::to_string(key).unwrap_or_default()
}

impl Directory for SqlStore {
    fn roles(&self) -> Result<Option<String>, StoreError> {
        let rows: Vec<Text> = self.query("SELECT record FROM admin_roles WHERE k = 1", vec![])?;
        Ok(rows.into_iter().next().map(|r| r.record))
    }

    fn set_roles(&mut self, text: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO admin_roles (k, record) VALUES (1, ?) ON CONFLICT (k) DO UPDATE SET record = excluded.record",
            vec![text.into()],
        )
    }

    fn admin_key(&self, hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        let rows: Vec<Text> = self.query("SELECT record FROM admin_keys WHERE hash = ?", vec![hash.into()])?;
        rows.first().map(|r| key(&r.record)).transpose()
    }

    fn admin_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows: Vec<Text> = self.query("SELECT record FROM admin_keys ORDER BY rowid", vec![])?;
        rows.iter().map(|r| key(&r.record)).collect()
    }

    fn add_admin_key(&mut self, hash: &str, key: &KeyRecord) -> Result<(), StoreError> {
        self.exec("INSERT INTO admin_keys (hash, id, record) VALUES (?, ?, ?)", vec![hash.into(), key.id.as_str().into(), text(key).into()])
    }

    fn update_admin_key(&mut self, key: &KeyRecord) -> Result<(), StoreError> {
        self.exec("UPDATE admin_keys SET record = ? WHERE id = ?", vec![text(key).into(), key.id.as_str().into()])
    }
}
