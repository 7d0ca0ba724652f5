//! `tinyaccel models`: the built-in MLPerf Tiny models.

use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ModelsArgs) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for &name in models::BUILTIN_NAMES {
        let g = models::builtin(name)
            .ok_or_else(|| anyhow::anyhow!("built-in model {name} missing"))?;
        let shape = |t: Option<&models::Tensor>| t.map(|t| t.shape.clone()).unwrap_or_default();
        rows.push(json!({
            "name": name,
            "description": g.description,
            "input_shape": shape(g.input()),
            "output_shape": shape(g.output()),
            "macs": g.macs(),
            "ops": g.ops.len(),
            "weight_bytes": g.const_bytes(),
        }));
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let s = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    outln!(
        "{:<5} {:<16} {:<10} {:>11} {:>4} {:>8}  description",
        "name",
        "input",
        "output",
        "MACs",
        "ops",
        "weights"
    );
    for r in &rows {
        outln!(
            "{:<5} {:<16} {:<10} {:>11} {:>4} {:>8}  {}",
            s(&r["name"]),
            s(&r["input_shape"]),
            s(&r["output_shape"]),
            s(&r["macs"]),
            s(&r["ops"]),
            s(&r["weight_bytes"]),
            s(&r["description"])
        );
    }
    outln!("\nRun one with `tinyaccel run NAME` (or give a .tflite path instead of a name).");
    Ok(ExitCode::SUCCESS)
}
