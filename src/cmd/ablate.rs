//! `tinyaccel report --ablate FEATURE,...`: the accelerator features of issue 16 (hardware
//! im2col, pipelined DMA) off, each on alone, all on, on every model of the report
//! (`reports::ablation`).

use anyhow::{bail, Context, Result};
use arch::AccelConfig;
use reports::ablation::{Feature, Variant};

/// The features `--ablate` accepts, in the order of the table's columns.
pub const FEATURES: [&str; 2] = ["im2col", "dma_outstanding"];

/// `dma_outstanding` "on" when the base configuration has 1 (no pipelining): 4 bursts in
/// flight, the value of the `edge-8x8-conv` preset.
pub const DMA_OUTSTANDING_ON: u32 = 4;

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
            "dma_outstanding" => {
                cfg.dma_outstanding = if on {
                    f.on.parse().context("dma_outstanding on value")?
                } else {
                    1
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
