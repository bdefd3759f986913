//! The shared backend: PostgreSQL, for several servers on one database.
//!
//! The URL may carry `?schema=NAME`; the store then lives in that schema (created if
//! missing), which lets test runs and tenants share one database. Conditional batches lock
//! the rows they check (`FOR UPDATE`) and create with plain `INSERT`, so two servers racing
//! for the same key see exactly one winner.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{NoTls, Socket};

use crate::migrations::MIGRATIONS;
use crate::pg_tls::Transport;
use crate::{check_batch, satisfied, Item, Op, Start, Store, StoreError};

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
}

fn backend(e: impl std::error::Error) -> StoreError {
    // tokio-postgres puts the server's message in the source, not in Display.
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    StoreError::Backend(text)
}

/// A pool of connections made with `tls`, in `schema` (created first if missing).
async fn pool<T>(mut config: tokio_postgres::Config, tls: T, schema: Option<&str>) -> Result<Pool, StoreError>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    if let Some(schema) = schema {
        let (client, conn) = config.connect(tls.clone()).await.map_err(backend)?;
        let driver = tokio::spawn(conn);
        client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.map_err(backend)?;
        drop(client);
        let _ = driver.await;
        config.options(format!("-c search_path={schema}"));
    }
    let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager).max_size(16).build().map_err(backend)
}

/// Splits `schema=NAME` off the URL's query, returning the rest of the URL and the schema.
fn split_schema(url: &str) -> Result<(String, Option<String>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("schema=") {
            Some(name) => {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(StoreError::Config(format!("schema name {name:?} must be letters, digits and _")));
                }
                schema = Some(name.to_owned());
            }
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    Ok((url, schema))
}

impl PostgresStore {
    /// Connects (over TLS when the URL's `sslmode` asks, see [`crate::pg_tls`]), creates the
    /// schema if named, and applies migrations.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let (url, schema) = split_schema(url)?;
        let (url, transport) = crate::pg_tls::transport(&url)?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Config(format!("{e}")))?;
        let pool = match transport {
            Transport::Plain => pool(config, NoTls, schema.as_deref()).await?,
            Transport::Tls(mode, tls) => {
                config.ssl_mode(mode);
                pool(config, tls, schema.as_deref()).await?
            }
        };
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(backend)?;
        let tx = client.transaction().await.map_err(backend)?;
        // One migrator at a time across servers sharing the database.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7717);
             CREATE TABLE IF NOT EXISTS steward_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(backend)?;
        let current: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM steward_migrations", &[])
            .await
            .map_err(backend)?
            .get(0);
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.postgres).await.map_err(backend)?;
            tx.execute("INSERT INTO steward_migrations (version, name) VALUES ($1, $2)", &[&m.version, &m.name])
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn get(&self, key: &str) -> Result<Option<Item>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let stmt = client.prepare_cached("SELECT value, revision FROM kv WHERE key = $1").await.map_err(backend)?;
        let row = client.query_opt(&stmt, &[&key]).await.map_err(backend)?;
        Ok(row.map(|r| Item { key: key.to_owned(), value: r.get(0), revision: r.get(1) }))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let stmt =
            client.prepare_cached("SELECT key, value, revision FROM kv WHERE key = ANY($1)").await.map_err(backend)?;
        let rows = client.query(&stmt, &[&keys]).await.map_err(backend)?;
        let found: std::collections::HashMap<String, Item> = rows
            .into_iter()
            .map(|r| {
                let item = Item { key: r.get(0), value: r.get(1), revision: r.get(2) };
                (item.key.clone(), item)
            })
            .collect();
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn range(&self, start: Start<'_>, end: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        let (start, included) = start.parts();
        let sql = if included {
            "SELECT key, value, revision FROM kv WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3"
        } else {
            "SELECT key, value, revision FROM kv WHERE key > $1 AND key < $2 ORDER BY key LIMIT $3"
        };
        let client = self.pool.get().await.map_err(backend)?;
        let stmt = client.prepare_cached(sql).await.map_err(backend)?;
        let rows = client.query(&stmt, &[&start, &end, &(limit as i64)]).await.map_err(backend)?;
        Ok(rows.into_iter().map(|r| Item { key: r.get(0), value: r.get(1), revision: r.get(2) }).collect())
    }

    async fn write(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        check_batch(&ops)?;
        let mut client = self.pool.get().await.map_err(backend)?;
        let tx = client.transaction().await.map_err(backend)?;
        let revision: i64 = tx.query_one("SELECT nextval('kv_revision')", &[]).await.map_err(backend)?.get(0);
        for op in &ops {
            let key = op.key();
            let current: Option<i64> = tx
                .query_opt("SELECT revision FROM kv WHERE key = $1 FOR UPDATE", &[&key])
                .await
                .map_err(backend)?
                .map(|r| r.get(0));
            if !satisfied(op.expect(), current) {
                return Err(StoreError::Conflict { key: key.to_owned() });
            }
            match op {
                Op::Put { value, .. } if current.is_none() => {
                    // A plain INSERT: a concurrent creator makes this fail instead of overwriting.
                    let inserted = tx
                        .execute(
                            "INSERT INTO kv (key, value, revision) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                            &[&key, value, &revision],
                        )
                        .await
                        .map_err(backend)?;
                    if inserted == 0 && op.expect() != crate::Expect::Any {
                        return Err(StoreError::Conflict { key: key.to_owned() });
                    }
                    if inserted == 0 {
                        tx.execute("UPDATE kv SET value = $2, revision = $3 WHERE key = $1", &[&key, value, &revision])
                            .await
                            .map_err(backend)?;
                    }
                }
                Op::Put { value, .. } => {
                    tx.execute("UPDATE kv SET value = $2, revision = $3 WHERE key = $1", &[&key, value, &revision])
                        .await
                        .map_err(backend)?;
                }
                Op::Delete { .. } => {
                    tx.execute("DELETE FROM kv WHERE key = $1", &[&key]).await.map_err(backend)?;
                }
                Op::Check { .. } => {}
            }
        }
        tx.commit().await.map_err(backend)
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_is_split_from_the_url() {
        let (url, schema) = super::split_schema("postgres://u@h/db?schema=t_1&sslmode=disable").unwrap();
        assert_eq!((url.as_str(), schema.as_deref()), ("postgres://u@h/db?sslmode=disable", Some("t_1")));
        assert!(super::split_schema("postgres://h/db?schema=x;drop").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance() {
        let Ok(base) = std::env::var("STEWARD_TEST_PG_URL") else {
            eprintln!("skipping the PostgreSQL conformance suite: STEWARD_TEST_PG_URL is not set");
            return;
        };
        let schema = format!("store_{}", uuid::Uuid::new_v4().simple());
        let sep = if base.contains('?') { '&' } else { '?' };
        let store = super::PostgresStore::connect(&format!("{base}{sep}schema={schema}")).await.unwrap();
        crate::testsuite::run(std::sync::Arc::new(store)).await;
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    }

    /// Whether the store's connections are encrypted, as the server sees them.
    async fn encrypted(store: &super::PostgresStore) -> bool {
        let client = store.pool.get().await.unwrap();
        let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap();
        row.get::<_, bool>(0)
    }

    /// The server's certificate file, when the test server speaks TLS at all.
    async fn server_certificate(base: &str) -> Option<String> {
        let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.ok()?;
        tokio::spawn(conn);
        let on: String = client.query_one("SHOW ssl", &[]).await.ok()?.get(0);
        let file: String = client.query_one("SHOW ssl_cert_file", &[]).await.ok()?.get(0);
        (on == "on" && std::path::Path::new(&file).exists()).then_some(file)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_modes_against_the_real_server() {
        let Ok(base) = std::env::var("STEWARD_TEST_PG_URL") else {
            eprintln!("skipping PostgreSQL TLS: STEWARD_TEST_PG_URL is not set");
            return;
        };
        let Some(cert) = server_certificate(&base).await else {
            eprintln!("skipping PostgreSQL TLS: the test server has no TLS");
            return;
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        let plain = super::PostgresStore::connect(&base).await.unwrap();
        assert!(!encrypted(&plain).await, "no sslmode: plain, as before");
        let required = super::PostgresStore::connect(&format!("{base}{sep}sslmode=require")).await.unwrap();
        assert!(encrypted(&required).await);
        // The certificate as its own root: the chain holds; the name holds only for a host
        // the certificate names.
        let chain = format!("{base}{sep}sslmode=verify-ca&sslrootcert={cert}");
        assert!(encrypted(&super::PostgresStore::connect(&chain).await.unwrap()).await);
        let full = format!("{base}{sep}sslmode=verify-full&sslrootcert={cert}");
        if base.contains("@127.0.0.1") {
            // The test server's certificate names localhost, not the address.
            let refused = super::PostgresStore::connect(&full).await.err().expect("a certificate for another name");
            assert!(refused.to_string().contains("not valid for name"), "{refused}");
            let by_name = full.replace("@127.0.0.1", "@localhost");
            if let Ok(store) = super::PostgresStore::connect(&by_name).await {
                assert!(encrypted(&store).await);
            }
        }
        // A root that did not sign the server's certificate: refused, never plain.
        let dir = std::env::temp_dir().join(format!("steward-pg-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let other = dir.join("other.pem");
        std::fs::write(&other, OTHER_CA).unwrap();
        let wrong = format!("{base}{sep}sslmode=verify-ca&sslrootcert={}", other.display());
        let refused = super::PostgresStore::connect(&wrong).await.err().expect("an unknown issuer is refused");
        assert!(
            refused.to_string().contains("UnknownIssuer") || refused.to_string().contains("invalid peer certificate"),
            "{refused}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A self-signed CA that signed nothing the test server presents.
    const OTHER_CA: &str = include_str!("testdata/other-ca.pem");
}
