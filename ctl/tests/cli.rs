//! `frictionctl` as an operator runs it, against a database of its own on the local stack:
//! users and their tokens, and keys checked by the same rules as the admin API.

use std::process::{Command, Output};

use friction_service::config::ClickHouseConfig;
use friction_store::users;
use friction_testkit as kit;

fn ctl(ch: &ClickHouseConfig, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_frictionctl"))
        .args(args)
        .env("FRICTION_CLICKHOUSE_URL", &ch.clickhouse_url)
        .env("FRICTION_CLICKHOUSE_DATABASE", &ch.clickhouse_database)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn users_are_created_listed_disabled_and_given_new_tokens() {
    let ch = kit::fresh_database().await;
    let client = ch.client();
    let token = stdout(&ctl(
        &ch,
        &[
            "users",
            "create",
            "--email",
            "Op@Example.com",
            "--role",
            "admin",
        ],
    ));
    let user = users::authenticate(&client, &token).await.unwrap().unwrap();
    assert_eq!(
        (user.email.as_str(), user.role.as_str(), user.active),
        ("op@example.com", "admin", true)
    );

    let again = ctl(&ch, &["users", "create", "--email", "op@example.com"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let bad_role = ctl(
        &ch,
        &[
            "users",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "root",
        ],
    );
    assert!(!bad_role.status.success());

    let list = stdout(&ctl(&ch, &["users", "list"]));
    assert!(list.contains(&user.user_id.to_string()) && list.contains("op@example.com"));
    assert!(!list.contains(&token), "a listing shows a token");
    let json = stdout(&ctl(&ch, &["users", "list", "--output", "json"]));
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed[0]["user_id"], user.user_id.to_string());
    assert_eq!(listed[0]["email"], "op@example.com");
    assert_eq!(listed[0]["role"], "admin");
    assert!(!json.contains(&token) && !json.contains("hash"), "{json}");

    stdout(&ctl(&ch, &["users", "disable", "op@example.com"]));
    assert!(
        !users::authenticate(&client, &token)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    stdout(&ctl(&ch, &["users", "enable", &user.user_id.to_string()]));
    let fresh = stdout(&ctl(&ch, &["users", "token", "op@example.com"]));
    assert_ne!(fresh, token);
    assert!(
        users::authenticate(&client, &token)
            .await
            .unwrap()
            .is_none(),
        "the old token still works"
    );
    assert!(
        users::authenticate(&client, &fresh)
            .await
            .unwrap()
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn keys_follow_the_same_rules_as_the_admin_api() {
    let ch = kit::fresh_database().await;
    let (_, owner) = users::create(&ch.client(), "o@example.com", users::Role::Member)
        .await
        .unwrap();
    let missing = ctl(
        &ch,
        &[
            "keys",
            "create",
            "--owner",
            "nobody@example.com",
            "--name",
            "s",
        ],
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user"));
    for (args, message) in [
        (
            vec!["--name", "s", "--domains", "https://shop.com"],
            "allowed domain",
        ),
        (
            vec!["--name", "s", "--domains", "*shop.com"],
            "allowed domain",
        ),
        (vec!["--name", "", "--domains", "shop.com"], "name must be"),
        (
            vec!["--name", "s", "--rate-limit", "0"],
            "rate_limit_per_minute",
        ),
    ] {
        let mut full = vec!["keys", "create", "--owner", "o@example.com"];
        full.extend(args);
        let out = ctl(&ch, &full);
        assert!(!out.status.success(), "{full:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{full:?}"
        );
    }
    let key = stdout(&ctl(
        &ch,
        &[
            "keys",
            "create",
            "--owner",
            "o@example.com",
            "--name",
            "shop",
            "--domains",
            "Shop.com,*.shop.com",
        ],
    ));
    assert!(friction_schema::api_key::is_well_formed(&key));
    let owner = owner.user_id.to_string();
    let list = stdout(&ctl(&ch, &["keys", "list", "--owner", &owner]));
    assert!(list.contains("shop.com,*.shop.com"), "{list}");
}

#[tokio::test]
async fn keys_are_listed_as_json_without_secrets() {
    let ch = kit::fresh_database().await;
    let (_, owner) = users::create(&ch.client(), "j@example.com", users::Role::Member)
        .await
        .unwrap();
    let owner_id = owner.user_id.to_string();
    let key = stdout(&ctl(
        &ch,
        &[
            "keys",
            "create",
            "--owner",
            &owner_id,
            "--name",
            "shop",
            "--domains",
            "shop.example.com",
        ],
    ));
    let json = stdout(&ctl(&ch, &["keys", "list", "--output", "json"]));
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys = listed.as_array().unwrap();
    assert_eq!(keys.len(), 1, "{json}");
    assert_eq!(keys[0]["name"], "shop");
    assert_eq!(keys[0]["owner_id"], owner_id.as_str());
    assert_eq!(keys[0]["active"], true);
    assert_eq!(keys[0]["allowed_domains"][0], "shop.example.com");
    assert!(key.starts_with(keys[0]["key_prefix"].as_str().unwrap()));
    assert!(
        !json.contains(&key) && !json.contains("hash") && !json.contains("secret"),
        "{json}"
    );
    assert!(!ctl(&ch, &["keys", "list", "--output", "yaml"])
        .status
        .success());
}

#[test]
fn version_and_bad_configuration_have_their_own_exit() {
    let version = Command::new(env!("CARGO_BIN_EXE_frictionctl"))
        .arg("--version")
        .output()
        .unwrap();
    let printed = stdout(&version);
    assert!(
        printed.starts_with(&format!("frictionctl {}", env!("CARGO_PKG_VERSION"))),
        "{printed}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_frictionctl"))
        .args(["keys", "list"])
        .env("FRICTION_KAFKA_PROPERTIES__NO_SUCH_PROPERTY", "1")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("FRICTION_KAFKA_PROPERTIES__no.such.property"));
}
