//! [`CondarcWatcher`]: notices when conda's configuration changes under us. It watches the
//! parent directories of every user `.condarc` on conda's search path (editors replace files by
//! rename, which a watch on the file itself would miss), and on each change reports drift from
//! what we configured, a file that no longer parses, and org channels that have no token. With
//! a channel check it also asks the repository, at start, on each change and every
//! [`CHANNEL_RECHECK_SECS`], whether each org channel conda is configured with can still be
//! read, and reports every one that cannot (removed, access revoked): conda itself would only
//! fail on it, or skip it, at the next install.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use futures::future::BoxFuture;

use super::{Conda, CondarcStatusView, CondarcTarget};
use crate::condarc_text::CondarcState;
use crate::events::EventBus;
use crate::vault::Vault;
use anacondad_proto::v1::EventKind;

/// Changes closer together than this are handled as one (an editor's save is several events).
const SETTLE_MILLIS: u64 = 200;
/// How often org channels are checked again without a change: access can be taken away on
/// the service at any time.
pub const CHANNEL_RECHECK_SECS: u64 = 6 * 3600;

fn is_change(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::ModifyKind;
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// What the watcher asks of a site's org channels: one finding per org channel in `target`'s
/// effective `channels` that cannot be read, as (org, the line that says what to run).
/// `channels::OrgChannels` answers it; the trait keeps conda below the channels in the
/// daemon's import order.
pub trait ChannelCheck: std::fmt::Debug + Send + Sync {
    fn unreadable_findings<'a>(
        &'a self,
        target: &'a CondarcTarget,
    ) -> BoxFuture<'a, Vec<(String, String)>>;
}

/// Watches the user's conda configuration until shutdown.
#[derive(Debug)]
pub struct CondarcWatcher {
    conda: Arc<Conda>,
    vault: Arc<Vault>,
    events: EventBus,
    shutdown: CancellationToken,
    channels: Option<Box<dyn ChannelCheck>>,
}

impl CondarcWatcher {
    pub fn new(
        conda: Arc<Conda>,
        vault: Arc<Vault>,
        events: EventBus,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            conda,
            vault,
            events,
            shutdown,
            channels: None,
        }
    }

    /// Also checks that conda's org channels can be read (see the module's doc).
    pub fn with_channel_check(mut self, channels: impl ChannelCheck + 'static) -> Self {
        self.channels = Some(Box::new(channels));
        self
    }

    /// Runs until shutdown. A platform without file notifications logs why and returns.
    pub async fn run(self) {
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let config = self.conda.user_config().clone();
        let mut watcher =
            match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Only changes count: our own reads of the file (access events, atime) must not
                // look like edits.
                if let Ok(event) = event
                    && is_change(&event.kind)
                    && event.paths.iter().any(|p| config.covers(p))
                {
                    let _closed_is_fine = tx.send(());
                }
            }) {
                Ok(watcher) => watcher,
                Err(e) => {
                    tracing::warn!("cannot watch conda's configuration: {e}");
                    return;
                }
            };
        for dir in self
            .conda
            .user_config()
            .watched_dirs()
            .iter()
            .filter(|d| d.is_dir())
        {
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %dir.display(), "cannot watch: {e}");
            }
        }
        let first = self.look().await;
        self.conda.set_baseline(Some(first.state));
        self.check_channels().await;
        let recheck = Duration::from_secs(CHANNEL_RECHECK_SECS);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = tokio::time::sleep(recheck) => {
                    self.check_channels().await;
                    continue;
                }
                got = rx.recv() => if got.is_none() { return },
            }
            // Let the burst of one save settle, then look once.
            if !settle(&self.shutdown, &mut rx).await {
                return;
            }
            let now = self.look().await;
            let before = self.conda.set_baseline(Some(now.state));
            self.report(before, &now);
            self.check_channels().await;
        }
    }

    /// One event per org channel in conda's configuration that cannot be read.
    async fn check_channels(&self) {
        let Some(channels) = &self.channels else {
            return;
        };
        let target = self.conda.target(&super::TargetRequest::default());
        let path = target.path.display().to_string();
        for (org, finding) in channels.unreadable_findings(&target).await {
            self.events
                .publish(EventKind::OrgChannelUnreadable, &org, &path, finding);
        }
    }

    async fn look(&self) -> CondarcStatusView {
        let stored: BTreeSet<String> = match self.vault.snapshot().await {
            Ok(snapshot) => snapshot.tokens.keys().cloned().collect(),
            Err(_) => BTreeSet::new(),
        };
        self.conda.status(&stored).await
    }

    fn report(&self, was: Option<CondarcState>, now: &CondarcStatusView) {
        let path = now.path.display().to_string();
        self.events.publish(
            EventKind::CondarcChanged,
            "",
            &path,
            "conda's configuration changed",
        );
        let detail = now.findings.join("; ");
        match now.state {
            CondarcState::Malformed => self.events.publish(
                EventKind::CondarcMalformed,
                "",
                &path,
                format!("{path} no longer parses: {detail}"),
            ),
            CondarcState::Drifted | CondarcState::NotConfigured
                if was == Some(CondarcState::Configured) =>
            {
                self.events.publish(
                    EventKind::CondarcDrifted,
                    "",
                    &path,
                    format!(
                        "{path} no longer routes the repository through anacondad ({detail}); \
                         run `anacondactl condarc apply` to restore it"
                    ),
                )
            }
            _ => {}
        }
        for org in &now.orgs_without_token {
            self.events.publish(
                EventKind::OrgWithoutToken,
                org,
                &path,
                format!(
                    "conda is configured with channels of {org}, which has no token: run \
                     `anacondactl token install --org {org}`"
                ),
            );
        }
    }
}

/// Waits until `rx` has been quiet for `SETTLE_MILLIS`, so that the burst of events of one
/// save is looked at once; `false` when the watch should end (shutdown, or the channel closed).
pub(crate) async fn settle(
    shutdown: &CancellationToken,
    rx: &mut mpsc::UnboundedReceiver<()>,
) -> bool {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(Duration::from_millis(SETTLE_MILLIS)) => return true,
            got = rx.recv() => if got.is_none() { return false },
        }
    }
}
