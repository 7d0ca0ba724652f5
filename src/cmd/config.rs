//! `tinyaccel config show|validate|init|import|export`.

use arch::AccelConfig;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the resolved configuration (defaults and overrides applied) and its derived
    /// values. FILE is a TOML file or a preset name; default: the default preset.
    Show {
        /// Config file or preset name (edge-8x8, tiny-4x4, edge-16x16, wide-4x16,
        /// edge-8x8-conv, edge-8x8-tinyml).
        file: Option<String>,
        /// Print JSON instead of TOML.
        #[arg(long)]
        json: bool,
    },
    /// Validate config files: exit 0 when all are valid, 1 with one line per problem.
    Validate {
        /// Config files to check.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Write a complete, commented starting configuration: every field with a one-line
    /// comment (meaning, unit, range), the values of PRESET (or of a config file, its
    /// `base` chain resolved). Prints to stdout unless --out is given.
    Init {
        /// Preset name or config file to start from (default: edge-8x8).
        preset: Option<String>,
        /// Write to FILE (its stem becomes the configuration's name); refuses to
        /// overwrite an existing file unless --force.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// Import a SCALE-Sim configuration (.cfg, v2 or v1 keys) as the equivalent tinyaccel
    /// configuration: array, dataflow, scratchpad sizes, bus width; every setting that
    /// cannot be expressed is named in comment lines of the output and on stderr
    /// (docs/scalesim.md). Prints to stdout unless --out is given.
    Import {
        /// The SCALE-Sim .cfg file.
        file: std::path::PathBuf,
        /// Write the TOML to FILE; refuses to overwrite an existing file unless --force.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// Write a configuration (file or preset) as a SCALE-Sim v2 .cfg, with comment lines
    /// naming what SCALE-Sim cannot express. Prints to stdout unless --out is given.
    Export {
        /// Config file or preset name (default: edge-8x8).
        config: Option<String>,
        /// Write to FILE; refuses to overwrite an existing file unless --force.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
}

/// Writes `text` to `path` atomically, refusing an existing file without `force`.
fn write_new(path: &std::path::Path, text: &str, force: bool) -> anyhow::Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        anyhow::bail!(
            "{}: already exists (use --force to overwrite it)",
            path.display()
        );
    }
    reports::fsutil::atomic_write(path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))
}

/// `config import`: the TOML text of a SCALE-Sim configuration, and the notes.
pub fn import_scalesim(
    file: &std::path::Path,
) -> anyhow::Result<(AccelConfig, String, Vec<String>)> {
    use std::io::Read;
    let origin = file.display().to_string();
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| {
            f.take(arch::config::MAX_CONFIG_BYTES + 1)
                .read_to_string(&mut text)
        })
        .map_err(|e| anyhow::anyhow!("{origin}: cannot read: {e}"))?;
    if text.len() as u64 > arch::config::MAX_CONFIG_BYTES {
        anyhow::bail!(
            "{origin}: larger than {} bytes: not a SCALE-Sim configuration",
            arch::config::MAX_CONFIG_BYTES
        );
    }
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scalesim".into());
    let imp = arch::config::scalesim::import(&text, &origin, &stem)?;
    let cfg = imp.config;
    let file_name = file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| origin.clone());
    let mut header = vec![
        format!(
            "{}: imported from the SCALE-Sim configuration {file_name} (tinyaccel config import).",
            cfg.name
        ),
        "Not expressible in tinyaccel (the nearest values are used, see docs/scalesim.md):".into(),
    ];
    header.extend(imp.notes.iter().map(|n| format!("- {n}")));
    let text = cfg.to_commented_toml(&header);
    let back = AccelConfig::from_toml_str(&text, &format!("{}.toml", cfg.name))?;
    anyhow::ensure!(
        back == cfg,
        "internal: the import of {origin} does not read back to the same configuration"
    );
    Ok((cfg, text, imp.notes))
}

pub fn run(cmd: ConfigCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCmd::Show { file, json } => {
            let cfg = match file {
                Some(f) => AccelConfig::resolve(&f)?,
                None => AccelConfig::default(),
            };
            let e = cfg.energy_table();
            let a = cfg.area_table();
            if json {
                let v = serde_json::json!({
                    "config": cfg,
                    "hash": cfg.hash(),
                    "derived": {
                        "peak_macs_per_cycle": cfg.peak_macs_per_cycle(),
                        "peak_gops": cfg.peak_gops(),
                        "total_sram_kib": cfg.total_sram_kib(),
                        "area_mm2": cfg.area_mm2(),
                        "feature_area_um2": cfg.feature_area_um2(),
                        "leakage_uw": cfg.leakage_uw(),
                        "energy_table": e,
                        "area_table": a,
                    }
                });
                outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            outln!("# {} (hash {})", cfg.name, cfg.hash());
            out!("{}", cfg.to_toml());
            outln!();
            outln!("# derived");
            outln!("# peak MACs/cycle      {}", cfg.peak_macs_per_cycle());
            outln!("# peak GOPS            {:.1}", cfg.peak_gops());
            outln!("# total SRAM           {} KiB", cfg.total_sram_kib());
            outln!("# area estimate        {:.4} mm^2", cfg.area_mm2());
            outln!("# leakage              {:.1} uW", cfg.leakage_uw());
            outln!(
                "# energy table ({} nm, see arch::tables for sources)",
                cfg.tech_node_nm
            );
            outln!("#   MAC                {:.4} pJ", e.mac_pj);
            let [isp, wsp, asp] = cfg.scratchpad_macros();
            outln!(
                "#   input SRAM read    {:.4} pJ/B   write {:.4} pJ/B",
                e.sram_read_pj_per_byte(&isp),
                e.sram_write_pj_per_byte(&isp)
            );
            outln!(
                "#   weight SRAM read   {:.4} pJ/B   write {:.4} pJ/B",
                e.sram_read_pj_per_byte(&wsp),
                e.sram_write_pj_per_byte(&wsp)
            );
            outln!(
                "#   acc SRAM read      {:.4} pJ/B   write {:.4} pJ/B",
                e.sram_read_pj_per_byte(&asp),
                e.sram_write_pj_per_byte(&asp)
            );
            outln!("#   bus                {:.4} pJ/B", e.bus_pj_per_byte);
            outln!(
                "#   main memory        {} ({:.4} pJ/B)",
                cfg.main_memory.as_str(),
                match cfg.main_memory {
                    arch::config::MainMemory::Sram => e.main_memory_pj_per_byte,
                    arch::config::MainMemory::Lpddr4 => e.lpddr4_pj_per_byte,
                    arch::config::MainMemory::QspiFlash => e.qspi_flash_pj_per_byte,
                }
            );
            outln!(
                "#   clock              {:.5} pJ per flip-flop and working cycle, {} flip-flops, clock gating {}",
                e.ff_active_pj(),
                arch::device::FlipFlops::of(&cfg).total(),
                cfg.clock_gating
            );
            outln!(
                "#   im2col AGU         {:.4} pJ/piece{}",
                e.agu_pj_per_piece,
                if cfg.im2col {
                    ""
                } else {
                    " (unused: im2col = false)"
                }
            );
            outln!(
                "#   DMA tracking       {:.4} pJ/burst{}",
                e.dma_slot_pj_per_burst,
                if cfg.dma_outstanding > 1 {
                    ""
                } else {
                    " (unused: dma_outstanding = 1)"
                }
            );
            outln!(
                "#   vector unit        {:.4} pJ/SUM-MAX lane op, {:.4} pJ/ADD lane op{}",
                e.vpu_reduce_pj_per_op,
                e.vpu_add_pj_per_op,
                if cfg.has_vpu() {
                    " (depthwise lanes: MAC above)"
                } else {
                    " (unused: no vector unit)"
                }
            );
            outln!(
                "# area table: PE {:.1} um^2, PPU lane {:.1} um^2/column, SRAM {:.1} um^2/KiB, control {:.0} um^2",
                a.pe_um2, a.ppu_um2_per_col, a.sram_um2_per_kib, a.control_um2
            );
            outln!(
                "#   im2col AGU {:.0} um^2{}, DMA tracking {:.0} um^2/slot{}",
                a.agu_um2,
                if cfg.im2col {
                    " (present)"
                } else {
                    " (absent)"
                },
                a.dma_slot_um2,
                if cfg.dma_outstanding > 1 {
                    format!(" x {} slots (present)", cfg.dma_outstanding)
                } else {
                    " (absent)".to_string()
                }
            );
            outln!(
                "#   vector unit lanes: MAC {:.0} um^2{}, SUM/MAX {:.0} um^2{}, ADD {:.0} um^2{}; {} lanes = {:.0} um^2",
                a.vpu_mac_lane_um2,
                if cfg.depthwise { " (present)" } else { " (absent)" },
                a.vpu_pool_lane_um2,
                if cfg.pooling { " (present)" } else { " (absent)" },
                a.vpu_add_lane_um2,
                if cfg.eltwise { " (present)" } else { " (absent)" },
                cfg.vpu_lanes(),
                cfg.vpu_area_um2()
            );
            outln!(
                "#   command queues: {}",
                if cfg.cmd_queue_depth == 0 {
                    "ideal (cmd_queue_depth = 0: no fetch cycles counted, no storage)".to_string()
                } else {
                    format!(
                        "3 x {} entries x 128 bits, streaming fetch counted = {:.0} um^2",
                        cfg.cmd_queue_depth,
                        cfg.cmd_queue_area_um2()
                    )
                }
            );
            outln!(
                "# feature area          {:.0} um^2 (im2col, DMA tracking, vector unit, command queues; included in the area estimate)",
                cfg.feature_area_um2()
            );
            Ok(ExitCode::SUCCESS)
        }
        ConfigCmd::Init { preset, out, force } => {
            let spec = preset.unwrap_or_else(|| arch::config::DEFAULT_PRESET.to_string());
            let mut cfg = AccelConfig::resolve(&spec)?;
            if let Some(stem) = out
                .as_ref()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
            {
                cfg.name = stem;
            }
            let header = vec![
                format!(
                    "{}: accelerator configuration for tinyaccel, started from `{spec}` \
                     (tinyaccel config init).",
                    cfg.name
                ),
                "Check it with `tinyaccel config validate FILE`; see the resolved values and \
                 derived numbers with `tinyaccel config show FILE`."
                    .to_string(),
            ];
            let text = cfg.to_commented_toml(&header);
            // The written text must mean exactly this configuration.
            let back = AccelConfig::from_toml_str(&text, &format!("{}.toml", cfg.name))?;
            anyhow::ensure!(
                back == cfg,
                "internal: the commented form of `{spec}` does not read back to the same configuration"
            );
            match out {
                None => out!("{text}"),
                Some(path) => {
                    // Written atomically (temporary file + rename); never over an
                    // existing file without --force.
                    write_new(&path, &text, force)?;
                    outln!(
                        "wrote {} (from `{spec}`, hash {})",
                        path.display(),
                        cfg.hash()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCmd::Import { file, out, force } => {
            let (cfg, text, notes) = import_scalesim(&file)?;
            for n in &notes {
                eprintln!("tinyaccel: note: {}: {n}", file.display());
            }
            match out {
                None => out!("{text}"),
                Some(path) => {
                    write_new(&path, &text, force)?;
                    outln!(
                        "wrote {} (from SCALE-Sim {}, hash {}; {} settings not expressible, named in its comments)",
                        path.display(),
                        file.display(),
                        cfg.hash(),
                        notes.len()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCmd::Export { config, out, force } => {
            let cfg = match config {
                Some(c) => AccelConfig::resolve(&c)?,
                None => AccelConfig::default(),
            };
            let text = cfg.to_scalesim_cfg();
            match out {
                None => out!("{text}"),
                Some(path) => {
                    write_new(&path, &text, force)?;
                    outln!(
                        "wrote {} (SCALE-Sim configuration of {})",
                        path.display(),
                        cfg.name
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCmd::Validate { files } => {
            let mut ok = true;
            for f in &files {
                match AccelConfig::load(std::path::Path::new(f)) {
                    Ok(_) => outln!("{f}: ok"),
                    Err(e) => {
                        ok = false;
                        for line in e.lines() {
                            eprintln!("{line}");
                        }
                    }
                }
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
