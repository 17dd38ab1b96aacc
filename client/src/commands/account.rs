//! `anacondactl login`, `logout`, `whoami`.

use anacondad_proto::v1::{
    LoginMethod, LoginRequest, LogoutRequest, SetApiKeyRequest, WhoamiRequest,
    login_response::Event,
};

use super::Output;
use crate::cli::LoginArgs;
use crate::connection::{DaemonClient, Target};
use crate::exit::CliError;
use crate::json;
use crate::progress::{Progress, RequestId};
use crate::prompt::Prompter;
use crate::render;

pub async fn login(
    args: LoginArgs,
    target: &Target,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    let yes = args.yes;
    login_with(args, &client, out).await?;
    let conda = super::config::CondaUse {
        configures: false,
        auth_handler: None,
    };
    super::config::offer_alignment(&client, conda, yes, out, prompter).await
}

async fn login_with(args: LoginArgs, client: &DaemonClient, out: Output) -> Result<(), CliError> {
    if args.api_key_stdin {
        let request = SetApiKeyRequest {
            api_key: super::read_secret_from_stdin(
                "API key",
                "anacondactl login --api-key-stdin < key.txt",
            )?,
        };
        let answer = client.account().set_api_key(request).await?.into_inner();
        if out.json {
            out.print_json(&json::commands::ApiKeySet {
                login: json::daemon::Login::of(answer.login.as_ref()),
                storage: json::daemon::Storage::of(answer.storage.as_ref()),
            });
        } else {
            crate::outln!("{}", render::login_line(answer.login.as_ref()));
        }
        warn_storage(out, answer.storage.as_ref());
        return Ok(());
    }
    let method = if args.browser {
        LoginMethod::Browser
    } else {
        LoginMethod::Device
    };
    let mut stream = client
        .account()
        .login(LoginRequest {
            method: method.into(),
            force: args.force,
        })
        .await?
        .into_inner();
    while let Some(message) = stream.message().await? {
        match message.event {
            Some(Event::Device(device)) => {
                let url = if device.verification_uri_complete.is_empty() {
                    &device.verification_uri
                } else {
                    &device.verification_uri_complete
                };
                out.say(format!(
                    "To log in, open {}\nand confirm the code {} (it expires {}).",
                    render::one_line(url),
                    render::one_line(&device.user_code),
                    render::time(device.expires_at)
                ));
                if !args.no_browser {
                    open_browser(url);
                }
                out.say("Waiting for you to confirm ...");
            }
            Some(Event::Browser(browser)) => {
                out.say(format!(
                    "To log in, open this URL in a browser on this machine:\n{}",
                    browser.authorization_url
                ));
                if !args.no_browser {
                    open_browser(&browser.authorization_url);
                }
            }
            Some(Event::Outcome(outcome)) => {
                if out.json {
                    out.print_json(&json::commands::LoggedIn::from(&outcome));
                } else if outcome.already_logged_in {
                    crate::outln!(
                        "Already logged in as {}; use --force to log in again.",
                        outcome.username
                    );
                } else {
                    crate::outln!(
                        "Logged in as {} ({}). Your API key expires {}.",
                        outcome.username,
                        outcome.email,
                        render::time(outcome.api_key_expires_at)
                    );
                }
                warn_storage(out, outcome.storage.as_ref());
                return Ok(());
            }
            None => {}
        }
    }
    Err(CliError::failed(
        "the daemon ended the login without an outcome; see `anacondactl daemon status`",
    ))
}

/// Tries to open `url` in the user's browser when there is a graphical session; silently
/// does nothing otherwise (the URL is printed anyway).
fn open_browser(url: &str) {
    let graphical = cfg!(target_os = "macos")
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !graphical {
        return;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _no_browser_is_fine = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Says plainly where secrets went when that is not the keychain (once per daemon start: the
/// daemon marks the first answer that carries it; `daemon status` shows it always), and what the
/// store did to its files (each notice once).
pub fn warn_storage(out: Output, storage: Option<&anacondad_proto::v1::StorageStatus>) {
    let Some(storage) = storage else { return };
    // Until the user chooses (storage = "file", or a working keychain), every command that
    // reports storage says it: said once, it is easily missed among a first run's output.
    if !storage.warning.is_empty() {
        out.warn(&storage.warning);
    }
    for notice in &storage.notices {
        crate::errln!("note: {notice}");
    }
}

pub async fn logout(
    args: crate::ci_args::LogoutArgs,
    target: &Target,
    out: Output,
) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    // Revoked while the account's key can still sign the revocations.
    let revoked = if args.revoke {
        super::keys::revoke(&client, None, true).await?
    } else {
        Vec::new()
    };
    if !revoked.is_empty() && !out.json {
        crate::outln!("Revoked at the service: {}.", revoked.join(", "));
    }
    let answer = client
        .account()
        .logout(LogoutRequest {})
        .await?
        .into_inner();
    if out.json {
        out.print_json(&json::commands::LoggedOut {
            removed: answer.removed,
            revoked,
        });
    } else if answer.removed {
        crate::outln!("Logged out: the API key was removed. Installed repo tokens stay in place.");
    } else {
        crate::outln!("You were not logged in.");
    }
    warn_storage(out, answer.storage.as_ref());
    Ok(())
}

pub async fn whoami(target: &Target, out: Output) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    let id = RequestId::new();
    let who = Progress::new(out.json)
        .during(
            &client,
            &id,
            "Asking the service who you are",
            client.account().whoami(id.request(WhoamiRequest {})),
        )
        .await?
        .into_inner();
    if out.json {
        out.print_json(&json::commands::Whoami::from(&who));
    } else {
        let name = format!("{} {}", who.first_name, who.last_name);
        crate::outln!(
            "{} <{}> {}",
            render::one_line(&who.username),
            render::one_line(&who.email),
            render::one_line(name.trim())
        );
        crate::outln!("{}", render::login_line(who.login.as_ref()));
    }
    Ok(())
}
