//! The shape every housekeeping sweep shares: run on a timer, log what it removed, try again
//! later on failure; and read a prefix of the store a page at a time.

use std::future::Future;
use std::time::Duration;

use steward_store::{prefix_end, Item, Start, Store, StoreError};

/// Runs `sweep` after `first`, then every `every`; `what` names what it removes in the log.
pub async fn run_every<F, Fut>(first: Duration, every: Duration, what: &'static str, mut sweep: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    tokio::time::sleep(first).await;
    loop {
        match sweep().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, what, "Swept."),
            Err(e) => tracing::warn!(what, error = %e, "Sweep failed; will retry."),
        }
        tokio::time::sleep(every).await;
    }
}

/// The items under a prefix, `page` at a time, in key order.
pub struct Pages<'a> {
    store: &'a dyn Store,
    prefix: &'a str,
    end: String,
    after: Option<String>,
    page: usize,
    done: bool,
}

impl<'a> Pages<'a> {
    /// Pages of `page` items under `prefix`.
    pub fn new(store: &'a dyn Store, prefix: &'a str, page: usize) -> Pages<'a> {
        Pages { store, prefix, end: prefix_end(prefix), after: None, page, done: false }
    }

    /// The next page; None after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<Item>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let start = match &self.after {
            Some(key) => Start::After(key),
            None => Start::At(self.prefix),
        };
        let items = self.store.range(start, &self.end, self.page).await?;
        self.done = items.len() < self.page;
        match items.last() {
            Some(last) => self.after = Some(last.key.clone()),
            None => return Ok(None),
        }
        Ok(Some(items))
    }
}
