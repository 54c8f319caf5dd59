//! Upgrades: a database written at schema version 1 (before analysis and
//! the status columns) opens, migrates to the current version, keeps its
//! records readable (verdict absent) and takes new ones with the new
//! filters working.

use super::fixtures::{record, skip_on_pg, TempDir};
use authsense::model::{Reason, Verdict};
use authsense::store::{Filter, Store, StoreOptions, SCHEMA_VERSION};

#[tokio::test]
async fn version_1_database_upgrades_in_place() {
    if skip_on_pg("a schema-1 SQLite file") {
        return;
    }
    let dir = TempDir::new("migrate-v1");
    let old = record("old-1", 5);
    {
        let c = rusqlite::Connection::open(dir.db()).expect("sqlite");
        c.execute_batch(include_str!("../data/store/schema-v1.sql"))
            .expect("v1 schema");
        // The JSON as version 1 wrote it: no verdict, score or reasons keys.
        let mut json = serde_json::to_value(&old).expect("json");
        let obj = json.as_object_mut().expect("object");
        for k in ["verdict", "score", "reasons"] {
            assert!(obj.remove(k).is_some(), "{k} serialised");
        }
        c.execute(
            "INSERT INTO messages (ts, uid, gateway_ip, auth_source, record)
             VALUES (1700000000000, 'old-1', '192.0.2.25', 'x-agari', ?1)",
            [json.to_string()],
        )
        .expect("v1 row");
        c.pragma_update(None, "user_version", 1).expect("version");
    }
    let store = Store::open_url(&dir.db(), StoreOptions::default()).expect("upgrade");
    let c = rusqlite::Connection::open(dir.db()).expect("sqlite");
    let v: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(v, SCHEMA_VERSION);
    let got = store.query(&Filter::default()).expect("query");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].uid, "old-1");
    assert_eq!(got[0].verdict, None);
    assert!(got[0].reasons.is_empty());

    let mut new = record("new-1", 1);
    new.verdict = Some(Verdict::Malicious);
    new.score = Some(9);
    new.reasons = vec![Reason {
        rule: "lookalike-domain".into(),
        points: 6,
        detail: "examp1e.com looks like example.com".into(),
    }];
    store.insert(new.clone()).await.expect("insert");
    let only = |f: Filter| -> Vec<String> {
        store
            .query(&f)
            .expect("query")
            .into_iter()
            .map(|r| r.uid)
            .collect()
    };
    assert_eq!(
        only(Filter {
            verdict: Some(Verdict::Malicious),
            ..Default::default()
        }),
        ["new-1"]
    );
    assert_eq!(
        only(Filter {
            min_score: Some(5),
            ..Default::default()
        }),
        ["new-1"]
    );
    assert_eq!(
        only(Filter {
            dkim: Some("PASS".into()),
            ..Default::default()
        }),
        ["new-1"],
        "the v1 row has no dkim_result column value"
    );
    let back = store.get(store.query(&Filter::default()).unwrap()[0].id.unwrap());
    assert_eq!(back.expect("get").expect("row").reasons, new.reasons);
    store.close().await.expect("close");
}
