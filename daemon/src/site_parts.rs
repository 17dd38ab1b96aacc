//! [`SiteParts`]: what every owner of one site's work (the account, the tokens) is built from.
//! It sits just above the vault and the service client so those owners need nothing of the
//! daemon that builds them.

use std::sync::Arc;

use crate::api::AnacondaClient;
use crate::clock::Clock;
use crate::events::EventBus;
use crate::vault::Vault;

/// What every owner of one site's work shares: its vault, the service client, the event bus
/// and the clock.
#[derive(Debug, Clone)]
pub struct SiteParts {
    pub vault: Arc<Vault>,
    pub api: Arc<AnacondaClient>,
    pub events: EventBus,
    pub clock: Arc<dyn Clock>,
}
