//! `tinyaccel report --ablate FEATURE,...`: the accelerator features (hardware im2col,
//! pipelined DMA, the vector unit's depthwise, pooling and eltwise modes) off, each on
//! alone, all on, on every model of the report (`reports::ablation`).

use anyhow::{bail, Context, Result};
use arch::AccelConfig;
use reports::ablation::{Feature, Variant};

/// The features `--ablate` accepts, in the order of the table's columns.
pub const FEATURES: [&str; 6] = [
    "im2col",
    "dma_outstanding",
    "depthwise",
    "pooling",
    "eltwise",
    "cmd_queue_depth",
];

/// `dma_outstanding` "on" when the base configuration has 1 (no pipelining): 4 bursts in
/// flight, the value of the `edge-8x8-conv` preset.
pub const DMA_OUTSTANDING_ON: u32 = 4;

/// `cmd_queue_depth` "on" when the base configuration has the ideal queues (0): 64 entries
/// per queue, the depth docs/architecture.md section 5 measures. Unlike the other features
/// this one costs cycles instead of buying them: "on" is the real fetch unit, "off" the
/// ideal queues of the timing model's default.
pub const CMD_QUEUE_DEPTH_ON: u32 = 64;

/// The features named by `--ablate`, with their off/on values for `base`. Unknown or
/// repeated names are errors that list the accepted ones.
pub fn parse(names: &[String], base: &AccelConfig) -> Result<Vec<Feature>> {
    let accepted = FEATURES.join(", ");
    let mut out: Vec<Feature> = Vec::new();
    for raw in names {
        let name = raw.trim();
        if name.is_empty() {
            bail!("--ablate: empty feature name (accepted: {accepted})");
        }
        if out.iter().any(|f| f.name == name) {
            bail!("--ablate: feature `{name}` is listed twice (accepted: {accepted})");
        }
        let f = match name {
            "im2col" => Feature {
                name: name.into(),
                off: "false".into(),
                on: "true".into(),
                note: "the accelerator's im2col address generator, CONV_GEOM + LOAD_IM2COL, \
                       instead of the CPU im2col"
                    .into(),
            },
            "dma_outstanding" => {
                let on = if base.dma_outstanding > 1 {
                    base.dma_outstanding
                } else {
                    DMA_OUTSTANDING_ON
                };
                Feature {
                    name: name.into(),
                    off: "1".into(),
                    on: on.to_string(),
                    note: if base.dma_outstanding > 1 {
                        format!("DMA bursts in flight: the base configuration's {on}")
                    } else {
                        format!(
                            "DMA bursts in flight: {DMA_OUTSTANDING_ON} (the base configuration \
                             has 1; {DMA_OUTSTANDING_ON} is the edge-8x8-conv preset's value)"
                        )
                    },
                }
            }
            "cmd_queue_depth" => {
                let on = if base.cmd_queue_depth > 0 {
                    base.cmd_queue_depth
                } else {
                    CMD_QUEUE_DEPTH_ON
                };
                Feature {
                    name: name.into(),
                    off: "0".into(),
                    on: on.to_string(),
                    note: format!(
                        "command queues of {on} entries fed by the streaming fetch unit (its \
                         cycles counted) instead of the ideal queues (0): what a real queue \
                         costs{}",
                        if base.cmd_queue_depth > 0 {
                            ", at the base configuration's depth"
                        } else {
                            ""
                        }
                    ),
                }
            }
            "depthwise" | "pooling" | "eltwise" => Feature {
                name: name.into(),
                off: "false".into(),
                on: "true".into(),
                note: match name {
                    "depthwise" => "the vector unit's depthwise MAC lanes instead of one M x taps x 1 GEMM per channel with CPU gathers",
                    "pooling" => "average and max pooling in the vector unit instead of the CPU kernels",
                    _ => "the int8 residual ADD in the vector unit instead of the CPU kernel",
                }
                .into(),
            },
            other => bail!("--ablate: unknown feature `{other}` (accepted: {accepted})"),
        };
        out.push(f);
    }
    if out.is_empty() {
        bail!("--ablate needs at least one feature (accepted: {accepted})");
    }
    Ok(out)
}

/// The configuration of one variant: `base` with every ablated feature set to its on or
/// off value, named `BASE[VARIANT]`, validated.
pub fn variant_config(
    base: &AccelConfig,
    features: &[Feature],
    v: &Variant,
) -> Result<AccelConfig> {
    let mut cfg = base.clone();
    for f in features {
        let on = v.on.contains(&f.name);
        match f.name.as_str() {
            "im2col" => cfg.im2col = on,
            "depthwise" => cfg.depthwise = on,
            "pooling" => cfg.pooling = on,
            "eltwise" => cfg.eltwise = on,
            "dma_outstanding" => {
                cfg.dma_outstanding = if on {
                    f.on.parse().context("dma_outstanding on value")?
                } else {
                    1
                }
            }
            "cmd_queue_depth" => {
                cfg.cmd_queue_depth = if on {
                    f.on.parse().context("cmd_queue_depth on value")?
                } else {
                    0
                }
            }
            other => bail!("--ablate: unknown feature `{other}`"),
        }
    }
    cfg.name = format!("{}[{}]", base.name, v.name);
    cfg.validate().map_err(|issues| {
        anyhow::anyhow!(
            "--ablate: variant `{}` of {} is not a valid configuration: {}",
            v.name,
            base.name,
            issues
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn on_values_follow_the_base() {
        let base = AccelConfig::preset("edge-8x8").unwrap();
        let f = parse(&names(&["im2col", "dma_outstanding"]), &base).unwrap();
        assert_eq!((f[0].off.as_str(), f[0].on.as_str()), ("false", "true"));
        assert_eq!((f[1].off.as_str(), f[1].on.as_str()), ("1", "4"));
        let mut eight = base.clone();
        eight.dma_outstanding = 8;
        let f = parse(&names(&["dma_outstanding"]), &eight).unwrap();
        assert_eq!(f[0].on, "8");
        let vs = Variant::all(&f);
        let off = variant_config(&eight, &f, &vs[0]).unwrap();
        let on = variant_config(&eight, &f, &vs[1]).unwrap();
        assert_eq!((off.dma_outstanding, on.dma_outstanding), (1, 8));
    }

    #[test]
    fn vector_unit_features_switch_their_field() {
        let base = AccelConfig::preset("edge-8x8-tinyml").unwrap();
        let f = parse(&names(&["depthwise", "pooling", "eltwise"]), &base).unwrap();
        let vs = Variant::all(&f);
        let off = variant_config(&base, &f, &vs[0]).unwrap();
        assert!(!off.has_vpu());
        let dw = variant_config(&base, &f, &vs[1]).unwrap();
        assert!(dw.depthwise && !dw.pooling && !dw.eltwise);
        let all = variant_config(&base, &f, &vs[4]).unwrap();
        assert!(all.depthwise && all.pooling && all.eltwise);
        assert!(all.area_mm2() > dw.area_mm2() && dw.area_mm2() > off.area_mm2());
        // A base whose rows exceed its columns cannot have the unit: a clear error.
        let mut tall = base.clone();
        (tall.rows, tall.cols) = (16, 4);
        tall.depthwise = false;
        tall.pooling = false;
        tall.eltwise = false;
        let e = variant_config(&tall, &f, &vs[1]).unwrap_err().to_string();
        assert!(e.contains("rows <= cols"), "{e}");
    }

    #[test]
    fn cmd_queue_depth_switches_between_ideal_and_real_queues() {
        let base = AccelConfig::preset("edge-8x8").unwrap();
        assert_eq!(base.cmd_queue_depth, 0);
        let f = parse(&names(&["cmd_queue_depth"]), &base).unwrap();
        assert_eq!((f[0].off.as_str(), f[0].on.as_str()), ("0", "64"));
        let vs = Variant::all(&f);
        let off = variant_config(&base, &f, &vs[0]).unwrap();
        let on = variant_config(&base, &f, &vs[1]).unwrap();
        assert_eq!((off.cmd_queue_depth, on.cmd_queue_depth), (0, 64));
        assert!(on.area_mm2() > off.area_mm2());
        let mut eight = base.clone();
        eight.cmd_queue_depth = 8;
        let f = parse(&names(&["cmd_queue_depth"]), &eight).unwrap();
        assert_eq!(f[0].on, "8");
    }

    #[test]
    fn bad_names_list_the_accepted_ones() {
        let base = AccelConfig::preset("edge-8x8").unwrap();
        for bad in [&["im2col", "bogus"][..], &["im2col", "im2col"], &[""]] {
            let e = parse(&names(bad), &base).unwrap_err().to_string();
            assert!(e.contains("accepted: im2col, dma_outstanding"), "{e}");
        }
        let e = parse(&names(&["bogus"]), &base).unwrap_err().to_string();
        assert!(e.contains("`bogus`"), "{e}");
    }
}
