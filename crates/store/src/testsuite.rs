//! The conformance suite every backend must pass.
//!
//! Backends call [`run`] from their own tests. Each case uses its own key prefix so the
//! suite can share a database with other runs. Assertions are on outcomes and error kinds,
//! never on message text.

use std::sync::Arc;

use crate::{prefix_end, Expect, Op, Start, Store, StoreError};

/// Runs every case against `store`.
pub async fn run(store: Arc<dyn Store>) {
    crud(&*store).await;
    conditions(&*store).await;
    atomicity(&*store).await;
    ranges(&*store).await;
    revisions_are_never_reused(&*store).await;
    invalid_batches(&*store).await;
    concurrent_creators_have_one_winner(store.clone()).await;
}

fn unique(case: &str) -> String {
    format!("suite/{case}/{}/", std::process::id())
}

async fn crud(store: &dyn Store) {
    let p = unique("crud");
    let k = format!("{p}a");
    assert_eq!(store.get(&k).await.unwrap(), None);
    store.write(vec![Op::put(&k, b"1".to_vec())]).await.unwrap();
    let item = store.get(&k).await.unwrap().unwrap();
    assert_eq!(item.value, b"1");
    store.write(vec![Op::put(&k, b"2".to_vec())]).await.unwrap();
    let again = store.get(&k).await.unwrap().unwrap();
    assert_eq!(again.value, b"2");
    assert_ne!(again.revision, item.revision);
    let many = store.get_many(&[k.clone(), format!("{p}missing")]).await.unwrap();
    assert_eq!(many.len(), 2);
    assert_eq!(many[0].as_ref().map(|i| i.value.clone()), Some(b"2".to_vec()));
    assert!(many[1].is_none());
    store.write(vec![Op::delete(&k)]).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), None);
    // Deleting what is absent is not an error unless asked.
    store.write(vec![Op::delete(&k)]).await.unwrap();
}

async fn conditions(store: &dyn Store) {
    let p = unique("conditions");
    let k = format!("{p}a");
    store.write(vec![Op::put(&k, b"1".to_vec()).if_absent()]).await.unwrap();
    let err = store.write(vec![Op::put(&k, b"x".to_vec()).if_absent()]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let rev = store.get(&k).await.unwrap().unwrap().revision;
    assert!(matches!(
        store.write(vec![Op::put(&k, b"x".to_vec()).if_revision(rev + 1000)]).await,
        Err(StoreError::Conflict { .. })
    ));
    store.write(vec![Op::put(&k, b"2".to_vec()).if_revision(rev)]).await.unwrap();
    assert!(matches!(
        store.write(vec![Op::delete(format!("{p}none")).expecting(Expect::Present)]).await,
        Err(StoreError::Conflict { .. })
    ));
    let check = Op::Check { key: format!("{p}none"), expect: Expect::Absent };
    store.write(vec![check, Op::put(format!("{p}b"), b"b".to_vec())]).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap().unwrap().value, b"2");
}

async fn atomicity(store: &dyn Store) {
    let p = unique("atomicity");
    store.write(vec![Op::put(format!("{p}exists"), b"e".to_vec())]).await.unwrap();
    let batch =
        vec![Op::put(format!("{p}new"), b"n".to_vec()), Op::put(format!("{p}exists"), b"changed".to_vec()).if_absent()];
    assert!(matches!(store.write(batch).await, Err(StoreError::Conflict { .. })));
    assert_eq!(store.get(&format!("{p}new")).await.unwrap(), None, "a failed batch applied part of itself");
    assert_eq!(store.get(&format!("{p}exists")).await.unwrap().unwrap().value, b"e");
}

async fn ranges(store: &dyn Store) {
    let p = unique("ranges");
    let keys = ["a", "a/b", "a/b/c", "b", "ab", "é", "Z"];
    let ops = keys.iter().map(|k| Op::put(format!("{p}{k}"), k.as_bytes().to_vec())).collect();
    store.write(ops).await.unwrap();
    let all = store.range(Start::At(&p), &prefix_end(&p), 100).await.unwrap();
    let got: Vec<&str> = all.iter().map(|i| &i.key[p.len()..]).collect();
    assert_eq!(got, ["Z", "a", "a/b", "a/b/c", "ab", "b", "é"], "byte order");
    let under_a = format!("{p}a/");
    let sub = store.range(Start::At(&under_a), &prefix_end(&under_a), 100).await.unwrap();
    assert_eq!(sub.len(), 2);
    let limited = store.range(Start::At(&p), &prefix_end(&p), 3).await.unwrap();
    assert_eq!(limited.len(), 3);
    let rest = store.range(Start::After(&limited[2].key), &prefix_end(&p), 100).await.unwrap();
    assert_eq!(rest.len(), 4, "paging by last key sees every key once");
}

async fn revisions_are_never_reused(store: &dyn Store) {
    let p = unique("revisions");
    let k = format!("{p}a");
    store.write(vec![Op::put(&k, b"1".to_vec())]).await.unwrap();
    let first = store.get(&k).await.unwrap().unwrap().revision;
    store.write(vec![Op::delete(&k)]).await.unwrap();
    store.write(vec![Op::put(&k, b"1".to_vec())]).await.unwrap();
    let second = store.get(&k).await.unwrap().unwrap().revision;
    assert!(second > first, "re-created key got revision {second} after {first}");
}

async fn invalid_batches(store: &dyn Store) {
    let p = unique("invalid");
    assert!(matches!(store.write(vec![]).await, Err(StoreError::InvalidBatch(_))));
    let twice = vec![Op::put(format!("{p}a"), vec![]), Op::delete(format!("{p}a"))];
    assert!(matches!(store.write(twice).await, Err(StoreError::InvalidBatch(_))));
}

async fn concurrent_creators_have_one_winner(store: Arc<dyn Store>) {
    let p = unique("race");
    let k = format!("{p}a");
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let (store, k) = (store.clone(), k.clone());
        tasks.push(tokio::spawn(async move { store.write(vec![Op::put(k, vec![i]).if_absent()]).await.is_ok() }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
}
