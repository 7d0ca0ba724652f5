//! `tinyaccel prune`, `tinyaccel quantize` and `tinyaccel compare`: compressed models
//! written as `.tflite` files (models::compress, models::tflite_write), and how often a
//! compressed model's top-1 output agrees with the dense model's.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use models::compress::{LayerReport, Pattern};
use models::{DType, Graph};
use runtime::Interpreter;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// A built-in model (kws, vww, ic, ad) or a .tflite file.
    pub model: String,
    /// 2:4 (keep the 2 largest |w| of every 4 consecutive weights along the reduction),
    /// unstructured (the smallest |w| of every output channel) or channel (whole output
    /// channels of smallest L1 norm).
    #[arg(long)]
    pub pattern: String,
    /// Fraction of weights (unstructured) or output channels (channel) to zero, in [0, 1);
    /// 2:4 is always 0.5.
    #[arg(long)]
    pub sparsity: Option<f64>,
    /// The .tflite file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// A built-in model (kws, vww, ic, ad) or a .tflite file.
    pub model: String,
    /// Weight type: int4 (per-channel, packed two per byte as TFLite's INT4 tensors).
    #[arg(long)]
    pub weights: String,
    /// The .tflite file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The dense model (built-in name or .tflite file).
    pub dense: String,
    /// The compressed model (built-in name or .tflite file) with the same input and output.
    pub compressed: String,
    /// Folder of golden inputs (`input_*.bin`); default: for an MLPerf Tiny reference file,
    /// the `golden/<model>/` folder beside it.
    #[arg(long)]
    pub golden: Option<PathBuf>,
    /// Seeded random inputs (uniform bytes) to compare on, besides the golden ones.
    #[arg(long, default_value_t = 200)]
    pub random: usize,
    /// Seed of the random inputs (SplitMix64).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Refuses to write over the model being read.
fn check_out(model: &str, out: &Path) -> Result<()> {
    if super::same_file(Path::new(model), out) {
        bail!(
            "--out {} is the input model itself: write the compressed model to another file",
            out.display()
        );
    }
    Ok(())
}

/// Serializes `g`, loads the bytes back and prepares them, then writes them to `out`
/// atomically (a temporary file, then a rename): a file tinyaccel cannot run is never
/// written, and an interrupted run leaves no half-written file.
fn write_checked(g: &Graph, out: &Path) -> Result<u64> {
    let bytes = models::tflite_write::write(g).with_context(|| format!("{}: writing", g.name))?;
    let back = models::from_tflite_bytes(&bytes, &g.name).with_context(|| {
        format!(
            "{}: the serialized model does not load back (a bug in the writer)",
            out.display()
        )
    })?;
    if back.tensors != g.tensors || back.ops != g.ops {
        bail!(
            "{}: the serialized model loads back as a different graph (a bug in the writer)",
            out.display()
        );
    }
    Interpreter::new(&back)
        .with_context(|| format!("{}: the written model cannot be prepared", out.display()))?;
    reports::fsutil::atomic_write(out, &bytes)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(bytes.len() as u64)
}

fn layer_json(r: &LayerReport) -> serde_json::Value {
    json!({
        "op": r.op,
        "op_name": r.op_name,
        "tensor": r.tensor,
        "tensor_name": r.tensor_name,
        "shape": r.shape,
        "out_channels": r.view.out_channels,
        "reduction": r.view.reduction,
        "elements": r.elements,
        "zeros_before": r.zeros_before,
        "zeros": r.zeros,
        "sparsity": r.sparsity(),
        "weight_bits": r.weight_bits,
        "two_four": r.two_four,
        "zero_channels": r.zero_channels,
        "note": r.note,
    })
}

fn print_layers(reps: &[LayerReport]) {
    outln!(
        "{:>3}  {:<18} {:<18} {:>9} {:>6}  {:>9} {:>5}  note",
        "op",
        "layer",
        "filter",
        "weights",
        "bits",
        "sparsity",
        "2:4"
    );
    for r in reps {
        outln!(
            "{:>3}  {:<18} {:<18} {:>9} {:>6}  {:>8.2}% {:>5}  {}",
            r.op,
            r.op_name,
            format!("{:?}", r.shape),
            r.elements,
            r.weight_bits,
            100.0 * r.sparsity(),
            if r.two_four { "yes" } else { "no" },
            r.note.as_deref().unwrap_or("")
        );
    }
    let total: usize = reps.iter().map(|r| r.elements).sum();
    let zeros: usize = reps.iter().map(|r| r.zeros).sum();
    outln!(
        "all  {} weight tensors, {total} weights, {zeros} zero ({:.2}%)",
        reps.len(),
        100.0 * zeros as f64 / total.max(1) as f64
    );
}

pub fn prune(args: PruneArgs) -> Result<ExitCode> {
    let pattern: Pattern = args.pattern.parse()?;
    if let Some(s) = args.sparsity {
        if !s.is_finite() {
            bail!("--sparsity {s} is not a number in [0, 1)");
        }
    } else if pattern != Pattern::TwoFour {
        bail!(
            "--sparsity is required for --pattern {} (a fraction in [0, 1))",
            pattern.name()
        );
    }
    check_out(&args.model, &args.out)?;
    let g = models::resolve(&args.model)?;
    let (p, reps) = models::compress::prune(&g, pattern, args.sparsity)
        .with_context(|| format!("{}: pruning", args.model))?;
    let size = write_checked(&p, &args.out)?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "model": args.model,
                "pattern": pattern.name(),
                "sparsity": args.sparsity.unwrap_or(0.5),
                "out": args.out.display().to_string(),
                "bytes": size,
                "layers": reps.iter().map(layer_json).collect::<Vec<_>>(),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{}: magnitude pruning, pattern {}{} (weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED only; biases untouched)",
        args.model,
        pattern.name(),
        args.sparsity
            .map(|s| format!(", sparsity {s}"))
            .unwrap_or_default()
    );
    print_layers(&reps);
    outln!(
        "wrote {} ({size} bytes; loads back and prepares)",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn quantize(args: QuantizeArgs) -> Result<ExitCode> {
    if args.weights != "int4" {
        bail!(
            "--weights {:?} is not supported: the only weight type is int4",
            args.weights
        );
    }
    check_out(&args.model, &args.out)?;
    let g = models::resolve(&args.model)?;
    let (q, reps) = models::compress::quantize_int4(&g)
        .with_context(|| format!("{}: int4 quantization", args.model))?;
    let size = write_checked(&q, &args.out)?;
    let before = g.const_bytes();
    let after = q.const_bytes();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "model": args.model,
                "weights": "int4",
                "out": args.out.display().to_string(),
                "bytes": size,
                "const_bytes_before": before,
                "const_bytes_after": after,
                "layers": reps.iter().map(layer_json).collect::<Vec<_>>(),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{}: per-channel int4 weights (scale' = scale x max|w| / 7, w' = round(7 w / max|w|), halves away from zero; biases rescaled)",
        args.model
    );
    print_layers(&reps);
    outln!("constant bytes {before} -> {after}");
    outln!(
        "wrote {} ({size} bytes; loads back and prepares)",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Index of the largest output value (the first on ties), reading the output bytes in the
/// output tensor's type.
pub fn top1(bytes: &[u8], dtype: DType) -> Result<usize> {
    let v: Vec<i64> = match dtype {
        DType::I8 => bytes.iter().map(|&b| b as i8 as i64).collect(),
        DType::U8 => bytes.iter().map(|&b| b as i64).collect(),
        d => bail!("top-1 of a {d} output is not supported (int8 or uint8 outputs only)"),
    };
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    Ok(best)
}

/// The golden inputs of an MLPerf Tiny reference file: `golden/<model>/` beside it.
fn default_golden(dense: &str) -> Option<PathBuf> {
    let p = Path::new(dense);
    let file = p.file_name()?.to_str()?;
    let (name, _) = models::mlperf_tiny::REFERENCE_FILES
        .iter()
        .find(|(_, f)| *f == file)?;
    let d = p.parent()?.join("golden").join(name);
    d.is_dir().then_some(d)
}

#[derive(Default)]
struct Tally {
    n: usize,
    agree: usize,
    /// How often each class is the top-1 of the dense and of the compressed model.
    dense_top: std::collections::BTreeMap<usize, usize>,
    comp_top: std::collections::BTreeMap<usize, usize>,
    sum_abs: f64,
    max_abs: i64,
    values: usize,
}

impl Tally {
    fn add(&mut self, a: &[u8], b: &[u8], dtype: DType) -> Result<()> {
        self.n += 1;
        let (ta, tb) = (top1(a, dtype)?, top1(b, dtype)?);
        if ta == tb {
            self.agree += 1;
        }
        *self.dense_top.entry(ta).or_default() += 1;
        *self.comp_top.entry(tb).or_default() += 1;
        for (&x, &y) in a.iter().zip(b) {
            let d = match dtype {
                DType::U8 => (x as i64 - y as i64).abs(),
                _ => (x as i8 as i64 - y as i8 as i64).abs(),
            };
            self.sum_abs += d as f64;
            self.max_abs = self.max_abs.max(d);
            self.values += 1;
        }
        Ok(())
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "inputs": self.n,
            "top1_agree": self.agree,
            "top1_agreement": self.rate(),
            "mean_abs_output_diff": self.sum_abs / self.values.max(1) as f64,
            "max_abs_output_diff": self.max_abs,
            "dense_top1_mode": Self::mode(&self.dense_top),
            "compressed_top1_mode": Self::mode(&self.comp_top),
        })
    }

    /// The most frequent top-1 class and how often it is the top-1 (`[class, count]`).
    fn mode(m: &std::collections::BTreeMap<usize, usize>) -> Option<(usize, usize)> {
        m.iter()
            .max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)))
            .map(|(c, n)| (*c, *n))
    }

    fn rate(&self) -> f64 {
        self.agree as f64 / self.n.max(1) as f64
    }
}

pub fn compare(args: CompareArgs) -> Result<ExitCode> {
    let dense = models::resolve(&args.dense)?;
    let comp = models::resolve(&args.compressed)?;
    let mut a = Interpreter::new(&dense)?;
    let mut b = Interpreter::new(&comp)?;
    let (ia, ib) = (dense.input(), comp.input());
    let (oa, ob) = (dense.output(), comp.output());
    match (ia, ib, oa, ob) {
        (Some(ia), Some(ib), Some(oa), Some(ob))
            if ia.shape == ib.shape
                && ia.dtype == ib.dtype
                && ia.quant == ib.quant
                && oa.shape == ob.shape
                && oa.dtype == ob.dtype => {}
        _ => bail!(
            "{} and {} do not have the same input (shape, type, quantization) and output (shape, type): not a dense model and its compressed form",
            args.dense,
            args.compressed
        ),
    }
    let odt = oa.map(|t| t.dtype).unwrap_or(DType::I8);
    let golden_dir = args.golden.clone().or_else(|| default_golden(&args.dense));
    let mut golden = Tally::default();
    if let Some(d) = &golden_dir {
        let names = models::mlperf_tiny::golden_run_names(d)?;
        for n in names {
            let f = d.join(format!("input_{n}.bin"));
            let x = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
            let ya = a
                .invoke(&x)
                .with_context(|| format!("{}: {}", args.dense, f.display()))?;
            let yb = b
                .invoke(&x)
                .with_context(|| format!("{}: {}", args.compressed, f.display()))?;
            golden.add(&ya, &yb, odt)?;
        }
    }
    let mut random = Tally::default();
    let mut rng = models::rng::SplitMix64::new(args.seed);
    let len = a.input_len();
    for _ in 0..args.random {
        let x: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let ya = a.invoke(&x)?;
        let yb = b.invoke(&x)?;
        random.add(&ya, &yb, odt)?;
    }
    if golden.n + random.n == 0 {
        return Err(anyhow!(
            "no inputs to compare on: no golden folder (--golden) and --random 0"
        ));
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "dense": args.dense,
                "compressed": args.compressed,
                "metric": "top-1 agreement with the dense model (not accuracy: no labels)",
                "golden_dir": golden_dir.map(|d| d.display().to_string()),
                "golden": golden.json(),
                "random": random.json(),
                "seed": args.seed,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "top-1 agreement with the dense model ({} vs {}; agreement, not accuracy: no labels)",
        args.compressed,
        args.dense
    );
    let line = |what: String, t: &Tally| {
        let mode = |m| {
            Tally::mode(m)
                .map(|(c, n)| format!("class {c} on {n}"))
                .unwrap_or_default()
        };
        outln!(
            "  {what:<40} {:>4}/{:<4} {:>6.1}%   output |diff| mean {:.2}, max {}; most frequent top-1: dense {}, compressed {}",
            t.agree,
            t.n,
            100.0 * t.rate(),
            t.sum_abs / t.values.max(1) as f64,
            t.max_abs,
            mode(&t.dense_top),
            mode(&t.comp_top)
        );
    };
    if let Some(d) = &golden_dir {
        line(format!("golden inputs ({})", d.display()), &golden);
    }
    if args.random > 0 {
        line(
            format!("random inputs (SplitMix64 seed {})", args.seed),
            &random,
        );
    }
    Ok(ExitCode::SUCCESS)
}
