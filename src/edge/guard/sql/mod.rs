//! The guard's store in the Durable Object's SQLite: one wrapper over the object's database, one
//! schema, and one file per storage port of `domain::guard::ports`.

mod audit;
mod counters;
mod directory;
mod events;
mod fingerprints;
mod ledger;
mod marks;
mod retention;
mod schema;
mod streams;
mod tokens;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::domain::guard::ports::StoreError;

pub struct SqlStore {
    sql: SqlStorage,
}

impl SqlStore {
    pub fn new(sql: SqlStorage) -> Self {
        Self { sql }
    }

    /// Creates the tables that do not exist yet, and the columns added since.
    pub fn ensure_schema(&self) -> Result<(), StoreError> {
        self.exec(schema::SCHEMA, vec![])?;
        let audit = self.sql.exec("SELECT * FROM audit LIMIT 0", None).map_err(|e| err(&e))?;
        if !audit.column_names().iter().any(|c| c == "actor_id") {
            self.exec(schema::AUDIT_ACTOR_COLUMNS, vec![])?;
        }
        Ok(())
    }

    fn exec(&self, query: &str, values: Vec<SqlStorageValue>) -> Result<(), StoreError> {
        self.sql.exec(query, values).map(|_| ()).map_err(|e| err(&e))
    }

    /// Runs a statement and reports how many rows it wrote (index rows included).
    fn exec_counted(&self, query: &str, values: Vec<SqlStorageValue>) -> Result<u64, StoreError> {
        let cursor = self.sql.exec(query, values).map_err(|e| err(&e))?;
        Ok(cursor.rows_written() as u64)
    }

    fn query<T: DeserializeOwned>(&self, query: &str, values: Vec<SqlStorageValue>) -> Result<Vec<T>, StoreError> {
        self.sql.exec(query, values).and_then(|c| c.to_array()).map_err(|e| err(&e))
    }

    /// The first row's `n` (a `COUNT` or `SUM`), 0 when there is none.
    fn number(&self, query: &str, values: Vec<SqlStorageValue>) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct N {
            n: Option<i64>,
        }
        let rows: Vec<N> = self.query(query, values)?;
        Ok(rows.first().and_then(|r| r.n).map_or(0, unsigned))
    }
}

fn err(e: &worker::Error) -> StoreError {
    StoreError(e.to_string())
}

/// Counts are far below 2^53: they pass through JavaScript numbers unchanged.
fn int(n: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
