//! Parameter policies driven by a manual clock: the sweeper acts when a policy is due and
//! never before, and each notification fires once.

use std::sync::Arc;

use steward_api::ssm::parameters::{GetParameterRequest, PutParameterRequest};
use steward_core::clock::{Clock, ManualClock};
use steward_server::dispatch::Ctx;
use steward_server::parameters::{get, policy, put};
use steward_server::state::{AppState, Principal};
use steward_store::{prefix_end, Start, Store};

const T0: i64 = 1_900_000_000_000;

struct Fixture {
    ctx: Ctx,
    clock: Arc<ManualClock>,
    dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("steward-policy-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = steward_store::open(&format!("sqlite://{}", dir.join("db").display())).await.unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let key = [7u8; 32];
    let state = Arc::new(AppState {
        store: store.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        credentials: steward_server::auth::Credentials::new(store.clone(), key, None),
        kms: steward_server::kms::Keyring::new(store.clone(), key),
        events: steward_server::events::Events::new(Vec::new()),
        fleet: steward_server::fleet::Fleet::new(30),
        blobs: Arc::new(steward_store::blob::LocalBlobs::new(dir.join("blobs"))),
        secure_transport: false,
        audit: steward_server::audit::Audit::start(store.clone()),
        fallback_account: "123456789012".into(),
        scheduler: Default::default(),
        sessions: Default::default(),
        #[cfg(feature = "test-clock")]
        test_clock: None,
        policy_cache: Default::default(),
    });
    let principal = Principal::root("123456789012", "us-east-1");
    Fixture { ctx: Ctx { state, principal }, clock, dir }
}

fn put_request(name: &str, policies: &str) -> PutParameterRequest {
    serde_json::from_value(serde_json::json!({
        "Name": name, "Value": "v", "Type": "String", "Tier": "Advanced", "Policies": policies,
    }))
    .unwrap()
}

async fn policy_events(store: &Arc<dyn Store>) -> Vec<String> {
    let prefix = "event/123456789012/us-east-1/";
    let items = store.range(Start::At(prefix), &prefix_end(prefix), 1000).await.unwrap();
    items
        .iter()
        .map(|i| serde_json::from_slice::<serde_json::Value>(&i.value).unwrap())
        .filter(|e| e["detail-type"] == "Parameter Store Policy Action")
        .map(|e| e["detail"]["policy-type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn no_change_notification_fires_once_when_due() {
    let f = fixture().await;
    let policies = r#"[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Hours"}}]"#;
    put::put_parameter(f.ctx.clone(), put_request("/p/quiet", policies)).await.unwrap();
    f.clock.advance(2 * 3_600_000 - 1000);
    assert_eq!(policy::sweep(&f.ctx.state).await.unwrap(), 0, "not due yet");
    f.clock.advance(2000);
    assert_eq!(policy::sweep(&f.ctx.state).await.unwrap(), 1);
    assert_eq!(policy::sweep(&f.ctx.state).await.unwrap(), 0, "fires once");
    assert_eq!(policy_events(&f.ctx.state.store).await, ["NoChangeNotification"]);
}

#[tokio::test]
async fn a_change_postpones_the_no_change_notification() {
    let f = fixture().await;
    let policies = r#"[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"1","Unit":"Days"}}]"#;
    put::put_parameter(f.ctx.clone(), put_request("/p/busy", policies)).await.unwrap();
    f.clock.advance(20 * 3_600_000);
    let mut again: PutParameterRequest =
        serde_json::from_value(serde_json::json!({"Name": "/p/busy", "Value": "w", "Overwrite": true})).unwrap();
    again.policies = None; // policies carry over
    put::put_parameter(f.ctx.clone(), again).await.unwrap();
    f.clock.advance(5 * 3_600_000);
    assert_eq!(policy::sweep(&f.ctx.state).await.unwrap(), 0, "the overwrite restarted the wait");
    f.clock.advance(20 * 3_600_000);
    assert_eq!(policy::sweep(&f.ctx.state).await.unwrap(), 1);
}

#[tokio::test]
async fn expiration_and_its_notification() {
    let f = fixture().await;
    let expires = steward_api::time::format_iso8601((T0 + 3 * 86_400_000) / 1000);
    let policies = format!(
        r#"[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{expires}"}}}},
            {{"Type":"ExpirationNotification","Version":"1.0","Attributes":{{"Before":"1","Unit":"Days"}}}}]"#
    );
    put::put_parameter(f.ctx.clone(), put_request("/p/temp", &policies)).await.unwrap();
    f.clock.advance(2 * 86_400_000 + 1000);
    assert_eq!(policy::sweep(&f.ctx.state).await.unwrap(), 1);
    let get = |name: &str| GetParameterRequest { name: name.into(), with_decryption: None };
    assert!(get::get_parameter(f.ctx.clone(), get("/p/temp")).await.is_ok(), "a notification does not delete");
    f.clock.advance(86_400_000);
    assert_eq!(policy::sweep(&f.ctx.state).await.unwrap(), 1);
    let gone = get::get_parameter(f.ctx.clone(), get("/p/temp")).await.unwrap_err();
    assert_eq!(gone.code(), "ParameterNotFound");
    assert_eq!(policy_events(&f.ctx.state.store).await, ["ExpirationNotification", "Expiration"]);
}
