//! The embedded backend: one SQLite file in WAL mode.
//!
//! Reads run on pooled connections on the calling thread (point reads take microseconds).
//! Writes go to one writer thread that commits every batch waiting at that moment in a
//! single transaction (group commit), each batch in its own savepoint so a failed
//! precondition undoes only its own batch. `synchronous=FULL` makes every acknowledged
//! batch survive a crash of the process or the machine.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::migrations::MIGRATIONS;
use crate::{check_batch, satisfied, Item, Op, Start, Store, StoreError};

/// Most batches one commit takes; bounds the latency a long queue adds.
const GROUP_LIMIT: usize = 256;

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<mpsc::Sender<(Vec<Op>, Reply)>>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
    )
    .map_err(backend)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS steward_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .map_err(backend)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM steward_migrations", [], |r| r.get(0)).map_err(backend)?;
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sqlite).map_err(backend)?;
        tx.execute(
            "INSERT INTO steward_migrations (version, name, applied_at) VALUES (?1, ?2, strftime('%s','now'))",
            params![m.version, m.name],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore { path: path.to_owned(), readers: Mutex::new(Vec::new()), writer: Mutex::new(tx) })
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.readers.lock().expect("reader pool lock").pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let result = f(&conn);
        self.readers.lock().expect("reader pool lock").push(conn);
        result
    }
}

fn read_item(conn: &Connection, key: &str) -> Result<Option<Item>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT value, revision FROM kv WHERE key = ?1").map_err(backend)?;
    stmt.query_row([key], |r| Ok(Item { key: key.to_owned(), value: r.get(0)?, revision: r.get(1)? }))
        .optional()
        .map_err(backend)
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<Item>, StoreError> {
        self.with_reader(|conn| read_item(conn, key))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>, StoreError> {
        self.with_reader(|conn| keys.iter().map(|k| read_item(conn, k)).collect())
    }

    async fn range(&self, start: Start<'_>, end: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        let (start, included) = start.parts();
        let sql = if included {
            "SELECT key, value, revision FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3"
        } else {
            "SELECT key, value, revision FROM kv WHERE key > ?1 AND key < ?2 ORDER BY key LIMIT ?3"
        };
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
            let rows = stmt
                .query_map(params![start, end, limit as i64], |r| {
                    Ok(Item { key: r.get(0)?, value: r.get(1)?, revision: r.get(2)? })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
    }

    async fn write(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        check_batch(&ops)?;
        let (reply, done) = oneshot::channel();
        self.writer
            .lock()
            .expect("writer lock")
            .send((ops, reply))
            .map_err(|_| StoreError::Backend("the writer thread has stopped".into()))?;
        done.await.map_err(|_| StoreError::Backend("the writer thread dropped a batch".into()))?
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<(Vec<Op>, Reply)>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT {
            match rx.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match commit_group(&mut conn, &group) {
            Ok(outcomes) => {
                for ((_, reply), outcome) in group.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "SQLite commit failed.");
                for (_, reply) in group {
                    let _ = reply.send(Err(StoreError::Backend(e.to_string())));
                }
            }
        }
    }
}

/// Commits a group; the outer error means nothing was committed.
fn commit_group(conn: &mut Connection, group: &[(Vec<Op>, Reply)]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
    let mut revision: i64 =
        tx.query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| r.get(0)).map_err(backend)?;
    let mut outcomes = Vec::with_capacity(group.len());
    for (ops, _) in group {
        tx.execute_batch("SAVEPOINT batch").map_err(backend)?;
        revision += 1;
        match apply(&tx, ops, revision) {
            Ok(()) => {
                tx.execute_batch("RELEASE batch").map_err(backend)?;
                outcomes.push(Ok(()));
            }
            Err(e) => {
                tx.execute_batch("ROLLBACK TO batch; RELEASE batch").map_err(backend)?;
                outcomes.push(Err(e));
            }
        }
    }
    tx.execute("UPDATE meta SET value = ?1 WHERE name = 'revision'", [revision]).map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(outcomes)
}

fn apply(tx: &rusqlite::Transaction<'_>, ops: &[Op], revision: i64) -> Result<(), StoreError> {
    for op in ops {
        let current: Option<i64> = tx
            .prepare_cached("SELECT revision FROM kv WHERE key = ?1")
            .and_then(|mut s| s.query_row([op.key()], |r| r.get(0)).optional())
            .map_err(backend)?;
        if !satisfied(op.expect(), current) {
            return Err(StoreError::Conflict { key: op.key().to_owned() });
        }
        match op {
            Op::Put { key, value, .. } => {
                tx.prepare_cached("INSERT INTO kv (key, value, revision) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value = excluded.value, revision = excluded.revision")
                    .and_then(|mut s| s.execute(params![key, value, revision]))
                    .map_err(backend)?;
            }
            Op::Delete { key, .. } => {
                tx.prepare_cached("DELETE FROM kv WHERE key = ?1")
                    .and_then(|mut s| s.execute([key]))
                    .map_err(backend)?;
            }
            Op::Check { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance() {
        let dir = std::env::temp_dir().join(format!("steward-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = super::SqliteStore::open(&dir.join("test.db")).unwrap();
        crate::testsuite::run(std::sync::Arc::new(store)).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
