//! Compiles `anacondad/v1/*.proto` with protox, so no system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let dir = root.join("anacondad/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "proto"));
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let fds = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        .skip_protoc_run()
        // RPCs whose issue has not landed answer UNIMPLEMENTED instead of failing to build.
        .generate_default_stubs(true)
        // Messages that carry secrets get a redacting Debug (src/redact.rs) instead.
        .skip_debug([
            "anacondad.v1.SetApiKeyRequest",
            "anacondad.v1.InstallTokenRequest",
            "anacondad.v1.GetCredentialResponse",
            "anacondad.v1.RevealCredentialResponse",
            "anacondad.v1.MintApiKeyResponse",
            "anacondad.v1.GetKeyringEntryResponse",
            "anacondad.v1.SetKeyringEntryRequest",
        ])
        .compile_fds(fds)?;
    Ok(())
}
