//! `anaconda-emulator`: serves a local stand-in of the Anaconda service until interrupted.
//! The first line on stdout is the base URL; logs go to stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anacondad_tests::emulator::{self, DeviceApproval, EmulatorConfig, Seed};
use anyhow::Context;
use clap::Parser;

/// A local stand-in of the hosted Anaconda service, for tests and demos.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one. The first stdout line is the base URL.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve HTTPS with a certificate for 127.0.0.1 and localhost made at start.
    #[arg(long)]
    tls: bool,
    /// With --tls: write the CA certificate (PEM) that clients must trust to this file.
    #[arg(long, requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Lifetime of issued repo tokens, in seconds.
    #[arg(long, default_value_t = emulator::DEFAULT_LIFETIME_SECS)]
    token_lifetime: u64,
    /// Lifetime of issued API keys, in seconds.
    #[arg(long, default_value_t = emulator::DEFAULT_LIFETIME_SECS)]
    api_key_lifetime: u64,
    /// `auto` approves each device code at once; `manual` waits for POST /_emulator/device/approve.
    #[arg(long, value_enum, default_value_t = DeviceApproval::Auto)]
    device_approval: DeviceApproval,
    /// Polling interval the device flow asks for, in seconds.
    #[arg(long, default_value_t = 5)]
    device_interval: u64,
    /// How long a device code lives, in seconds.
    #[arg(long, default_value_t = 600)]
    device_expires_in: u64,
    /// Seconds to add to the `Date` header of every answer (negative: behind), to stand in for
    /// a service whose clock differs from this machine's.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    date_offset_secs: i64,
    /// JSON seed with users, organizations, subscriptions and tokens (format: `emulator::Seed`).
    #[arg(long)]
    state: Option<PathBuf>,
}

fn load_seed(path: &std::path::Path) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seed file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid seed (see the format in anacondad_tests::emulator::Seed)",
            path.display()
        )
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let seed = match &args.state {
        Some(path) => load_seed(path)?,
        None => Seed::demo(),
    };
    let config = EmulatorConfig {
        port: args.port,
        tls: args.tls,
        token_lifetime: Duration::from_secs(args.token_lifetime),
        api_key_lifetime: Duration::from_secs(args.api_key_lifetime),
        device_approval: args.device_approval,
        device_interval_secs: args.device_interval,
        device_expires_in_secs: args.device_expires_in,
        seed,
        date_offset_secs: args.date_offset_secs,
    };
    let handle = emulator::start(config).await?;
    if let (Some(path), Some(pem)) = (&args.ca_out, &handle.ca_pem) {
        std::fs::write(path, pem)
            .with_context(|| format!("cannot write the CA certificate to {}", path.display()))?;
    }
    // The CA file exists before the URL is printed: readers of the first line may use both.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", handle.base_url).context("cannot write the base URL to stdout")?;
    stdout.flush().context("cannot flush stdout")?;
    drop(stdout);
    tracing::info!("anaconda-emulator serving {}", handle.base_url);

    stop_signal().await?;
    handle.stop().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot listen for SIGTERM")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}
