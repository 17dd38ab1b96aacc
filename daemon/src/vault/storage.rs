//! What `status` and the CLI say about where a vault's secrets live.

use super::Vault;
use crate::store::BackendKind;

#[derive(Debug, Clone, Default)]
pub struct StorageView {
    pub backend: Option<BackendKind>,
    pub location: String,
    pub warning: String,
    pub configured: String,
    pub notices: Vec<String>,
    /// True for the first view since the daemon started that carries `warning`.
    pub warning_is_new: bool,
}

impl Vault {
    /// Where secrets live, or what is configured while the store is not open yet.
    pub fn storage_view(&self) -> StorageView {
        let configured = self.shared.store_options.mode.as_str().to_owned();
        let Some(store) = self.shared.store.get() else {
            return StorageView {
                configured,
                ..StorageView::default()
            };
        };
        let kind = store.backend_kind();
        let location = match kind {
            BackendKind::File => self.shared.store_options.keyring_path.display().to_string(),
            BackendKind::System => "OS keychain".to_owned(),
            BackendKind::Memory => "memory".to_owned(),
        };
        StorageView {
            backend: Some(kind),
            location,
            warning: store.warning().unwrap_or_default().to_owned(),
            configured,
            notices: store.notices(),
            warning_is_new: store.take_warning_news(),
        }
    }

    /// [`Vault::storage_view`] with only the notices no answer has carried yet: for the
    /// answers of commands that store a secret, so each notice reaches the user once.
    pub fn storage_view_news(&self) -> StorageView {
        let mut view = self.storage_view();
        let mut reported = self
            .notices_reported
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let all = std::mem::take(&mut view.notices);
        view.notices = all.iter().skip(*reported).cloned().collect();
        *reported = all.len();
        view
    }
}
