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
