//! `anacondactl export --for pixi|mamba [--dry-run] [--off]`: turns an export on or off and
//! shows what it writes (`--for pip|uv`: export_index.rs).

use anacondad_proto::v1::{ExportTarget, SetExportRequest};

use super::Output;
use crate::cli::ExportArgs;
use crate::connection::Target;
use crate::exit::CliError;
use crate::json;
use crate::render;

pub async fn run(args: ExportArgs, target: &Target, out: Output) -> Result<(), CliError> {
    if matches!(args.tool.as_str(), "pip" | "uv") {
        return super::export_index::run(args, target, out).await;
    }
    let export_target = match args.tool.as_str() {
        "mamba" | "micromamba" => ExportTarget::Mamba,
        _ => ExportTarget::Rattler,
    };
    let client = target.connect_or_start().await?;
    let answer = client
        .export()
        .set_export(SetExportRequest {
            target: export_target.into(),
            enabled: !args.off,
            dry_run: args.dry_run,
        })
        .await?
        .into_inner();
    let Some(export) = answer.export else {
        return Err(CliError::failed(
            "the daemon answered without the export's state; run `anacondactl daemon status`",
        ));
    };
    if out.json {
        out.print_json(&json::commands::ExportDone {
            dry_run: args.dry_run,
            export: json::daemon::Export::from(&export),
        });
        return Ok(());
    }
    let tool = render::export_tool(&export);
    let location = render::terminal_safe(&export.location);
    match (args.dry_run, args.off) {
        (true, false) => crate::outln!("Would write to {location}:"),
        (true, true) => crate::outln!("Would remove what anacondad wrote to {location}."),
        (false, false) => crate::outln!(
            "Exporting for {tool} to {location}; kept current on every change (turn it off with \
             `anacondactl export --for {tool} --off`):"
        ),
        (false, true) => crate::outln!(
            "No longer exporting for {tool}; what anacondad wrote to {location} is removed."
        ),
    }
    if !args.off {
        if export.entries.is_empty() {
            crate::outln!("  nothing yet: log in or install a token, and it is written at once");
        }
        for entry in &export.entries {
            crate::outln!("  {} {} ({})", entry.key, entry.kind, entry.credential);
        }
    }
    if !export.last_error.is_empty() {
        return Err(CliError::failed(format!(
            "the export could not be written: {}",
            export.last_error
        )));
    }
    Ok(())
}
