//! Parameter policies driven by a manual clock: the sweeper acts when a policy is due and
//! never before, and each notification fires once.

use std::sync::Arc;

use steward_api::ssm::parameters::{GetParameterRequest, PutParameterRequest};
use steward_server::parameters;
use steward_store::{prefix_end, Start, Store};

mod common;
use common::{fixture, T0};

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
    let f = fixture("policy").await;
    let policies = r#"[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Hours"}}]"#;
    parameters::put_parameter(f.ctx.clone(), put_request("/p/quiet", policies)).await.unwrap();
    f.clock.advance(2 * 3_600_000 - 1000);
    assert_eq!(parameters::sweep_policies(&f.ctx.env).await.unwrap(), 0, "not due yet");
    f.clock.advance(2000);
    assert_eq!(parameters::sweep_policies(&f.ctx.env).await.unwrap(), 1);
    assert_eq!(parameters::sweep_policies(&f.ctx.env).await.unwrap(), 0, "fires once");
    assert_eq!(policy_events(&f.ctx.env.store).await, ["NoChangeNotification"]);
}

#[tokio::test]
async fn a_change_postpones_the_no_change_notification() {
    let f = fixture("policy").await;
    let policies = r#"[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"1","Unit":"Days"}}]"#;
    parameters::put_parameter(f.ctx.clone(), put_request("/p/busy", policies)).await.unwrap();
    f.clock.advance(20 * 3_600_000);
    let mut again: PutParameterRequest =
        serde_json::from_value(serde_json::json!({"Name": "/p/busy", "Value": "w", "Overwrite": true})).unwrap();
    again.policies = None; // policies carry over
    parameters::put_parameter(f.ctx.clone(), again).await.unwrap();
    f.clock.advance(5 * 3_600_000);
    assert_eq!(parameters::sweep_policies(&f.ctx.env).await.unwrap(), 0, "the overwrite restarted the wait");
    f.clock.advance(20 * 3_600_000);
    assert_eq!(parameters::sweep_policies(&f.ctx.env).await.unwrap(), 1);
}

#[tokio::test]
async fn expiration_and_its_notification() {
    let f = fixture("policy").await;
    let expires = steward_api::time::format_iso8601((T0 + 3 * 86_400_000) / 1000);
    let policies = format!(
        r#"[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{expires}"}}}},
            {{"Type":"ExpirationNotification","Version":"1.0","Attributes":{{"Before":"1","Unit":"Days"}}}}]"#
    );
    parameters::put_parameter(f.ctx.clone(), put_request("/p/temp", &policies)).await.unwrap();
    f.clock.advance(2 * 86_400_000 + 1000);
    assert_eq!(parameters::sweep_policies(&f.ctx.env).await.unwrap(), 1);
    let get = |name: &str| GetParameterRequest { name: name.into(), with_decryption: None };
    assert!(parameters::get_parameter(f.ctx.clone(), get("/p/temp")).await.is_ok(), "a notification does not delete");
    f.clock.advance(86_400_000);
    assert_eq!(parameters::sweep_policies(&f.ctx.env).await.unwrap(), 1);
    let gone = parameters::get_parameter(f.ctx.clone(), get("/p/temp")).await.unwrap_err();
    assert_eq!(gone.code(), "ParameterNotFound");
    assert_eq!(policy_events(&f.ctx.env.store).await, ["ExpirationNotification", "Expiration"]);
}
