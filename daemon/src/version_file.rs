//! The version file beside the socket's lock (`anacondad_proto::socket::version_path`): this
//! daemon's version, written once the socket is ours and before the first call is served,
//! removed when the daemon stops. The CLI reads it to find a daemon older than the installed
//! one (an upgrade while the daemon ran) without a call.

use std::path::{Path, PathBuf};

use anacondad_proto::socket::version_path;

/// The written file; dropping it removes the file.
#[derive(Debug)]
pub struct VersionFile {
    path: PathBuf,
}

impl VersionFile {
    /// Writes [`anacondad_proto::build_version`] for the daemon serving `socket` (atomically:
    /// a reader never sees half a version).
    pub fn write(socket: &Path) -> std::io::Result<Self> {
        let path = version_path(socket);
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut file, anacondad_proto::build_version().as_bytes())?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(Self { path })
    }
}

impl Drop for VersionFile {
    fn drop(&mut self) {
        let _already_gone_is_fine = std::fs::remove_file(&self.path);
    }
}
