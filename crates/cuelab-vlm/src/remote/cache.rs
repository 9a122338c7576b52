//! The SQLite response cache: request key → answer JSON.
//!
//! One connection behind a mutex (one writer per process); WAL journaling and a busy timeout so
//! that several processes (shards of one run) can share a file. Only answers are stored, never
//! failures.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::answer::Answer;

/// A response cache file.
pub struct ResponseCache {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl ResponseCache {
    /// Opens (creating if needed) the cache at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| format!("cannot open response cache {}: {e}", path.display()))?;
        let setup = || -> rusqlite::Result<()> {
            conn.busy_timeout(Duration::from_secs(30))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS responses (
                     key TEXT PRIMARY KEY,
                     answer TEXT NOT NULL,
                     created INTEGER NOT NULL DEFAULT (strftime('%s','now'))
                 )",
            )
        };
        setup().map_err(|e| format!("cannot set up response cache {}: {e}", path.display()))?;
        Ok(ResponseCache {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached answer of `key`, marked `from_cache`. Unreadable rows count as misses.
    pub fn get(&self, key: &str) -> Result<Option<Answer>, String> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| "response cache lock poisoned".to_string())?;
        let row: Option<String> = conn
            .query_row(
                "SELECT answer FROM responses WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| format!("response cache read failed: {e}"))?;
        Ok(row
            .and_then(|json| serde_json::from_str::<Answer>(&json).ok())
            .map(|mut a| {
                a.from_cache = true;
                a
            }))
    }

    /// Stores `answer` under `key` (replacing any earlier one).
    pub fn put(&self, key: &str, answer: &Answer) -> Result<(), String> {
        let mut stored = answer.clone();
        stored.from_cache = false;
        let json = serde_json::to_string(&stored).map_err(|e| e.to_string())?;
        let conn = self
            .conn
            .lock()
            .map_err(|_| "response cache lock poisoned".to_string())?;
        conn.execute(
            "INSERT OR REPLACE INTO responses (key, answer) VALUES (?1, ?2)",
            params![key, json],
        )
        .map_err(|e| format!("response cache write failed: {e}"))?;
        Ok(())
    }

    /// Number of stored answers.
    pub fn len(&self) -> Result<usize, String> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| "response cache lock poisoned".to_string())?;
        conn.query_row("SELECT COUNT(*) FROM responses", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| format!("response cache read failed: {e}"))
    }

    /// Whether the cache holds no answer.
    pub fn is_empty(&self) -> Result<bool, String> {
        Ok(self.len()? == 0)
    }
}
