//! The `credential_type` edit: written into our `channel_settings` entry when asked for (a new
//! entry, an entry without one, an entry with another), in place and keeping comments; left
//! alone when not asked for.

use anacondad::condarc::{CondarcSettings, plan};
use anacondad::credential_kind::CredentialKind;

fn settings(credential_type: Option<CredentialKind>) -> CondarcSettings {
    let mut settings = CondarcSettings::new("https://repo.example/repo/");
    settings.set_default_channels = false;
    settings.credential_type = credential_type;
    settings
}

#[test]
fn a_new_entry_gets_the_credential_type_after_auth() {
    let planned = plan(
        Some("solver: classic\n"),
        &settings(Some(CredentialKind::ApiKey)),
    )
    .unwrap();
    assert_eq!(
        planned.updated,
        "solver: classic\nchannel_settings:\n  - channel: https://repo.example/*\n    auth: \
         anacondad\n    credential_type: api-key\n"
    );
    assert_eq!(
        planned.changes,
        [
            "channel_settings: add an entry for https://repo.example/* with auth `anacondad` and \
          credential_type `api-key`"
        ]
    );
}

#[test]
fn our_entry_gets_it_in_place_and_another_value_is_replaced_keeping_comments() {
    let original = "channel_settings:\n  # ours\n  - channel: https://repo.example/*  # repo\n    \
                    auth: anacondad  # handler\n    ssl_verify: \"true\"\n  - channel: \
                    https://other.example/*\n    auth: site-sso\n";
    let planned = plan(Some(original), &settings(Some(CredentialKind::RepoToken))).unwrap();
    assert_eq!(
        planned.updated,
        "channel_settings:\n  # ours\n  - channel: https://repo.example/*  # repo\n    auth: \
         anacondad  # handler\n    credential_type: repo-token\n    ssl_verify: \"true\"\n  - \
         channel: https://other.example/*\n    auth: site-sso\n"
    );
    assert_eq!(
        planned.changes,
        [
            "channel_settings: the entry for https://repo.example/* gets credential_type \
          `repo-token`"
        ]
    );

    let planned_again = plan(
        Some(&planned.updated),
        &settings(Some(CredentialKind::ApiKey)),
    )
    .unwrap();
    assert_eq!(
        planned_again.updated,
        planned
            .updated
            .replace("credential_type: repo-token", "credential_type: api-key")
    );
    assert_eq!(
        planned_again.changes,
        [
            "channel_settings: the entry for https://repo.example/* now has credential_type \
          `api-key` instead of `repo-token`"
        ]
    );
}

#[test]
fn an_entry_without_auth_gets_both_and_one_with_the_value_is_left_as_it_is() {
    let original = "channel_settings:\n  - channel: https://repo.example/*\n";
    let planned = plan(Some(original), &settings(Some(CredentialKind::ApiKey))).unwrap();
    assert_eq!(
        planned.updated,
        "channel_settings:\n  - channel: https://repo.example/*\n    auth: anacondad\n    \
         credential_type: api-key\n"
    );
    let again = plan(
        Some(&planned.updated),
        &settings(Some(CredentialKind::ApiKey)),
    )
    .unwrap();
    assert!(!again.changed, "{:?}", again.changes);
    // Not asked for: the entry's own credential_type stays.
    let unasked = plan(Some(&planned.updated), &settings(None)).unwrap();
    assert!(!unasked.changed, "{:?}", unasked.changes);
}
