//! `tinyaccel run MODEL`: one inference on the CPU reference kernels, with a per-layer
//! table (or one JSON object) and the output.
//!
//! Layout, for flags added later (`--cpu PROFILE`, `--accel CONFIG`): [`execute`] loads and
//! runs the model and returns a [`RunReport`] whose [`LayerRecord`]s carry an `extra` list
//! of named columns; a flag adds its columns there (and whole-run values to
//! `RunReport::extra`), and both [`print_table`] and [`to_json`] show them unchanged.

use anyhow::{bail, Context, Result};
use clap::Args;
use models::{DType, Graph};
use runtime::Interpreter;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Built-in model (kws, vww, ic, ad), a .tflite file or a SCALE-Sim topology (.csv).
    pub model: String,
    /// Input file: raw bytes in the model's input dtype, NHWC (default: all zeros).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Write the output tensor's raw bytes to this file (never the model or input file).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Print every value of the output tensor (table and JSON `output`). Without it an
    /// output of more than PRINT_OUTPUT_MAX_ELEMENTS (64) values is summarised: shape,
    /// min/max and an FNV-1a checksum of its bytes (JSON `output_summary`).
    #[arg(long)]
    pub print_output: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Add the pure-CPU baseline: per-layer cycles, us and uJ on a CPU profile,
    /// NAME[@CLOCK][:LIBRARY] or FILE.toml (see `tinyaccel cpus`).
    #[arg(long, value_name = "PROFILE")]
    pub cpu: Option<String>,
    /// Offload conv/depthwise/FC layers to a simulated accelerator: a config file or a
    /// preset name (see `tinyaccel config show`).
    #[arg(long)]
    pub accel: Option<String>,
    /// Offload policy with --accel: auto (offload where faster), all, none.
    #[arg(long, default_value = "auto")]
    pub policy: driver::delegate::Policy,
    /// Simulator model with --accel: cycle (timing + values) or functional (values only).
    #[arg(long, default_value = "cycle")]
    pub sim: String,
    /// What executes the offloaded layers with --accel: `sim` (the simulator, see --sim)
    /// or `rtl` (the whole accelerator's RTL in Verilator, one process per command buffer).
    #[arg(long, default_value = "sim")]
    pub backend: String,
    #[command(flatten)]
    pub budget: super::budget::BudgetArgs,
    /// The input's raw bytes given by a caller of the library (the Python package) instead
    /// of a file; checked like `--input`. Not a flag.
    #[arg(skip)]
    pub input_bytes: Option<Vec<u8>>,
}

/// One row of the per-layer table.
#[derive(Debug, Clone)]
pub struct LayerRecord {
    pub index: usize,
    pub op: String,
    pub input_shape: Vec<usize>,
    pub weight_shape: Option<Vec<usize>>,
    pub output_shape: Vec<usize>,
    pub macs: u64,
    pub options: String,
    /// Extra columns `(header, value)`, in order; numbers are right-aligned in the table.
    pub extra: Vec<(String, Value)>,
}

/// Everything `run` prints.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub model: String,
    pub description: String,
    pub input_shape: Vec<usize>,
    pub input_dtype: DType,
    pub output_shape: Vec<usize>,
    pub output_dtype: DType,
    pub macs: u64,
    pub arena_bytes: usize,
    pub planner: String,
    pub output_bytes: Vec<u8>,
    /// Print every output value (`--print-output`, or an output of at most
    /// [`PRINT_OUTPUT_MAX_ELEMENTS`] values); otherwise an [`OutputSummary`].
    pub print_output: bool,
    pub layers: Vec<LayerRecord>,
    /// Whole-run values added by other flags (e.g. total CPU latency).
    pub extra: Vec<(String, Value)>,
}

/// Loads a built-in model or a .tflite file.
pub fn load_model(spec: &str) -> Result<Graph> {
    Ok(models::resolve(spec)?)
}

/// Outputs of at most this many values are printed whole by `run` (table and JSON);
/// larger ones only with `--print-output`, otherwise as an [`OutputSummary`].
pub const PRINT_OUTPUT_MAX_ELEMENTS: usize = 64;

/// Reads the input file (checked against the model's input size) or returns zeros. The
/// read is capped at the model's input size (at most the 256 MiB tensor arena): a larger
/// file, `/dev/zero` included, is refused after `want + 1` bytes.
pub fn load_input(interp: &Interpreter, path: Option<&PathBuf>) -> Result<Vec<u8>> {
    load_input_from(interp, path, None)
}

/// [`load_input`], or the given bytes (checked against the model's input size) when
/// `bytes` is `Some` (the library's [`RunArgs::input_bytes`]).
pub fn load_input_from(
    interp: &Interpreter,
    path: Option<&PathBuf>,
    bytes: Option<&[u8]>,
) -> Result<Vec<u8>> {
    let want = interp.input_len();
    if let Some(b) = bytes {
        if b.len() != want {
            let t = interp
                .graph()
                .input()
                .map(|t| format!("{:?} {}", t.shape, t.dtype))
                .unwrap_or_default();
            bail!(
                "input is {} bytes; model {} expects {want} bytes ({t}, NHWC raw bytes)",
                b.len(),
                interp.graph().name
            );
        }
        return Ok(b.to_vec());
    }
    let Some(p) = path else {
        return Ok(vec![0; want]);
    };
    let bytes = models::read_capped(p, want as u64)
        .with_context(|| format!("cannot read input file {}", p.display()))?
        .with_context(|| {
            format!(
                "input file {} is larger than the {want} bytes model {} expects (read capped at the model's input size)",
                p.display(),
                interp.graph().name
            )
        })?;
    if bytes.len() != want {
        let t = interp
            .graph()
            .input()
            .map(|t| format!("{:?} {}", t.shape, t.dtype))
            .unwrap_or_default();
        bail!(
            "input file {} is {} bytes; model {} expects {want} bytes ({t}, NHWC raw bytes)",
            p.display(),
            bytes.len(),
            interp.graph().name
        );
    }
    Ok(bytes)
}

/// Decodes raw bytes of `dtype` into numbers.
pub fn decode(bytes: &[u8], dtype: DType) -> Vec<Value> {
    match dtype {
        DType::I8 => bytes.iter().map(|&b| json!(b as i8)).collect(),
        DType::U8 | DType::Bool => bytes.iter().map(|&b| json!(b)).collect(),
        DType::I16 => bytes
            .chunks_exact(2)
            .map(|c| json!(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DType::I32 => bytes
            .chunks_exact(4)
            .map(|c| json!(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| json!(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => bytes.iter().map(|&b| json!(b)).collect(),
    }
}

/// The number of values [`decode`] makes of `len` bytes of `dtype`.
fn decode_len(len: usize, dtype: DType) -> usize {
    match dtype {
        DType::I16 => len / 2,
        DType::I32 | DType::F32 => len / 4,
        _ => len,
    }
}

/// A large output in one line: its values' count, min, max and a checksum of its bytes
/// (FNV-1a 64), computed without decoding the tensor into a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutputSummary {
    pub elements: usize,
    pub min: f64,
    pub max: f64,
    /// FNV-1a 64 of the raw output bytes, `0x` and 16 hex digits.
    pub fnv1a64: String,
}

impl OutputSummary {
    pub fn of(bytes: &[u8], dtype: DType) -> OutputSummary {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        let values: Box<dyn Iterator<Item = f64>> = match dtype {
            DType::I8 => Box::new(bytes.iter().map(|&b| b as i8 as f64)),
            DType::I16 => Box::new(
                bytes
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64),
            ),
            DType::I32 => Box::new(
                bytes
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64),
            ),
            DType::F32 => Box::new(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64),
            ),
            _ => Box::new(bytes.iter().map(|&b| b as f64)),
        };
        let (mut elements, mut min, mut max) = (0usize, f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            elements += 1;
            min = min.min(v);
            max = max.max(v);
        }
        if elements == 0 {
            (min, max) = (0.0, 0.0);
        }
        OutputSummary {
            elements,
            min,
            max,
            fnv1a64: format!("{h:#018x}"),
        }
    }
}

/// Loads the model, runs one inference and collects the report.
pub fn execute(args: &RunArgs) -> Result<(RunReport, Interpreter)> {
    let graph = load_model(&args.model)?;
    let mut interp = Interpreter::new(&graph)?;
    let input = load_input_from(&interp, args.input.as_ref(), args.input_bytes.as_deref())?;
    let output_bytes = interp.invoke(&input)?;
    let (inp, out) = (graph.input(), graph.output());
    let report = RunReport {
        model: graph.name.clone(),
        description: graph.description.clone(),
        input_shape: inp.map(|t| t.shape.clone()).unwrap_or_default(),
        input_dtype: inp.map_or(DType::I8, |t| t.dtype),
        output_shape: out.map(|t| t.shape.clone()).unwrap_or_default(),
        output_dtype: out.map_or(DType::I8, |t| t.dtype),
        macs: interp.macs(),
        arena_bytes: interp.arena_bytes(),
        planner: interp.planner().to_string(),
        print_output: args.print_output
            || decode_len(output_bytes.len(), out.map_or(DType::I8, |t| t.dtype))
                <= PRINT_OUTPUT_MAX_ELEMENTS,
        output_bytes,
        layers: interp
            .layers()
            .iter()
            .map(|l| LayerRecord {
                index: l.index,
                op: l.op.to_string(),
                input_shape: l.input_shape.clone(),
                weight_shape: l.weight_shape.clone(),
                output_shape: l.output_shape.clone(),
                macs: l.macs,
                options: l.options.clone(),
                extra: Vec::new(),
            })
            .collect(),
        extra: Vec::new(),
    };
    Ok((report, interp))
}

fn shape_str(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Renders the per-layer table and a summary.
pub fn print_table(r: &RunReport) -> String {
    let mut headers: Vec<String> = ["#", "op", "input", "weights", "output", "MACs", "options"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(first) = r.layers.first() {
        headers.extend(first.extra.iter().map(|(h, _)| h.clone()));
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for l in &r.layers {
        let mut row = vec![
            l.index.to_string(),
            l.op.clone(),
            shape_str(&l.input_shape),
            l.weight_shape.as_deref().map(shape_str).unwrap_or_default(),
            shape_str(&l.output_shape),
            l.macs.to_string(),
            l.options.clone(),
        ];
        row.extend(l.extra.iter().map(|(_, v)| value_str(v)));
        rows.push(row);
    }
    let mut total = vec![
        String::new(),
        "total".into(),
        String::new(),
        String::new(),
        String::new(),
        r.macs.to_string(),
        String::new(),
    ];
    total.resize(headers.len(), String::new());
    rows.push(total);
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|row| row.get(c).map_or(0, |s| s.len()))
                .max()
                .unwrap_or(0)
                .max(headers[c].len())
        })
        .collect();
    let numeric = |c: usize| c == 0 || c == 5 || c >= 7;
    let fmt_row = |row: &[String]| -> String {
        let cells: Vec<String> = (0..headers.len())
            .map(|c| {
                let s = row.get(c).map_or("", |s| s.as_str());
                if numeric(c) {
                    format!("{s:>w$}", w = widths[c])
                } else {
                    format!("{s:<w$}", w = widths[c])
                }
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&format!("model {}: {}\n", r.model, r.description));
    out.push_str(&format!(
        "input {} {}, output {} {}, {} ops, {} MACs, tensor arena {} bytes ({})\n\n",
        shape_str(&r.input_shape),
        r.input_dtype,
        shape_str(&r.output_shape),
        r.output_dtype,
        r.layers.len(),
        r.macs,
        r.arena_bytes,
        r.planner
    ));
    out.push_str(&fmt_row(&headers));
    out.push('\n');
    for row in &rows {
        out.push_str(&fmt_row(row));
        out.push('\n');
    }
    for (k, v) in &r.extra {
        out.push_str(&format!("{k}: {}\n", value_str(v)));
    }
    if r.print_output {
        let vals: Vec<String> = decode(&r.output_bytes, r.output_dtype)
            .iter()
            .map(value_str)
            .collect();
        out.push_str(&format!(
            "\noutput ({} {}): {}\n",
            shape_str(&r.output_shape),
            r.output_dtype,
            vals.join(" ")
        ));
    } else {
        let s = OutputSummary::of(&r.output_bytes, r.output_dtype);
        out.push_str(&format!(
            "\noutput ({} {}): {} values, min {}, max {}, FNV-1a {} (--print-output prints them)\n",
            shape_str(&r.output_shape),
            r.output_dtype,
            s.elements,
            s.min,
            s.max,
            s.fnv1a64
        ));
    }
    out
}

/// The report as one JSON object, with `"schema"` (docs/results-schema.md).
pub fn to_json(r: &RunReport) -> Value {
    let layers: Vec<Value> = r
        .layers
        .iter()
        .map(|l| {
            let mut o = json!({
                "index": l.index,
                "op": l.op,
                "input_shape": l.input_shape,
                "weight_shape": l.weight_shape,
                "output_shape": l.output_shape,
                "macs": l.macs,
                "options": l.options,
            });
            if let Value::Object(m) = &mut o {
                for (k, v) in &l.extra {
                    m.insert(k.clone(), v.clone());
                }
            }
            o
        })
        .collect();
    let mut o = json!({
        "schema": reports::SCHEMA,
        "model": r.model,
        "description": r.description,
        "input_shape": r.input_shape,
        "input_dtype": r.input_dtype.name(),
        "output_shape": r.output_shape,
        "output_dtype": r.output_dtype.name(),
        "macs": r.macs,
        "arena_bytes": r.arena_bytes,
        "planner": r.planner,
        "layers": layers,
    });
    if let Value::Object(m) = &mut o {
        // `output` (every value) when printed, else `output_summary` (docs/errors.md).
        if r.print_output {
            m.insert(
                "output".into(),
                Value::Array(decode(&r.output_bytes, r.output_dtype)),
            );
        } else {
            m.insert(
                "output_summary".into(),
                serde_json::to_value(OutputSummary::of(&r.output_bytes, r.output_dtype))
                    .unwrap_or(Value::Null),
            );
        }
        for (k, v) in &r.extra {
            m.insert(k.clone(), v.clone());
        }
    }
    o
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    if args.backend != "sim" && args.accel.is_none() {
        bail!("--backend {}: needs --accel CONFIG", args.backend);
    }
    if let Some(out) = &args.output {
        // `--output` truncates its file: never the model's or the input's.
        let model_file = models::builtin_description(&args.model)
            .is_none()
            .then(|| std::path::Path::new(&args.model));
        for (what, p) in [("model", model_file), ("input", args.input.as_deref())] {
            if let Some(p) = p.filter(|p| super::same_file(p, out)) {
                bail!(
                    "--output {}: is the {what} file {}; refusing to overwrite an input",
                    out.display(),
                    p.display()
                );
            }
        }
    }
    let report = match collect(&args)? {
        Collected::Report(r) => r,
        Collected::Mismatch(msg) => {
            eprintln!("tinyaccel: internal error: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(p) = &args.output {
        std::fs::write(p, &report.output_bytes)
            .with_context(|| format!("cannot write output file {}", p.display()))?;
    }
    if args.json {
        outln!("{}", serde_json::to_string(&to_json(&report))?);
    } else {
        out!("{}", print_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// What [`collect`] found: the report, or the message of an offloaded run whose output
/// differs from the CPU kernels' (a bug: the CLI exits 2).
#[derive(Debug)]
pub enum Collected {
    Report(RunReport),
    Mismatch(String),
}

/// Everything `run` computes for `args` (CPU baseline columns with `--cpu`, the offloaded
/// run with `--accel`, budgets), without printing or writing the output file. `args.json`
/// chooses the JSON forms of the extra columns, as for the printed JSON.
pub fn collect(args: &RunArgs) -> Result<Collected> {
    let budget = args.budget.parse()?;
    let (mut report, interp) = execute(args)?;
    if let Some(spec) = &args.cpu {
        let (columns, summary) = super::cpus::cpu_columns(interp.graph(), spec, args.json)?;
        for l in &mut report.layers {
            l.extra
                .extend(columns.get(l.index).cloned().unwrap_or_default());
        }
        report.extra.extend(summary);
    }
    if let Some(spec) = &args.accel {
        let cfg = arch::AccelConfig::resolve(spec)?;
        let cpu = runtime::cost::CpuProfile::resolve(args.cpu.as_deref().unwrap_or("cortex-m4f"))?;
        let input = load_input_from(&interp, args.input.as_ref(), args.input_bytes.as_deref())?;
        let accel_run = match args.backend.as_str() {
            "sim" => {
                let sim_model = super::accel::sim_model(&args.sim)?;
                super::accel::simulate(
                    interp.graph(),
                    &cfg,
                    &cpu,
                    args.policy,
                    sim_model,
                    &input,
                    budget.cmd_streams,
                )?
            }
            "rtl" => {
                if args.sim != "cycle" {
                    bail!(
                        "--sim {}: applies to --backend sim (the RTL is cycle-accurate)",
                        args.sim
                    );
                }
                super::accel::simulate_rtl(
                    interp.graph(),
                    &cfg,
                    &cpu,
                    args.policy,
                    &input,
                    budget.cmd_streams,
                )?
            }
            o => bail!("--backend: unknown backend `{o}` (sim, rtl)"),
        };
        if accel_run.output != report.output_bytes {
            // The accelerator must reproduce the CPU kernels bit for bit: a difference is a
            // bug (exit code 2), never a result.
            return Ok(Collected::Mismatch(format!(
                "the offloaded run's output differs from the CPU kernels' on model {} with {}; please report it",
                report.model, cfg.name
            )));
        }
        // A timed run reports the same per-layer rows as `tinyaccel report`; an untimed
        // one (`--sim functional`) reports values only.
        let timed = !(args.backend == "sim" && args.sim == "functional");
        let model_report = if timed {
            Some(super::report::model_report(
                &report.model,
                &args.model,
                interp.graph(),
                &cfg,
                &cpu,
                &accel_run,
                &budget,
            )?)
        } else {
            None
        };
        let (columns, summary) = super::accel::columns(
            &cfg,
            args.policy,
            &accel_run,
            model_report.as_ref(),
            args.json,
        );
        for l in &mut report.layers {
            l.extra
                .extend(columns.get(l.index).cloned().unwrap_or_default());
        }
        report.extra.extend(summary);
        // Memory fit, deadline, power and battery life of both targets (timed runs).
        if let Some(b) = model_report.as_ref().and_then(|m| m.budget_view()) {
            if args.json {
                report
                    .extra
                    .push(("budget".into(), serde_json::to_value(&b)?));
            } else {
                for (name, t) in [("CPU only", &b.cpu_only), ("offloaded", &b.offloaded)] {
                    report.extra.extend(super::budget::target_lines(name, t));
                }
            }
        }
        report.output_bytes = accel_run.output;
    } else if budget.any_given() {
        // No accelerator: the pure-CPU budget (the profile of --cpu, default cortex-m4f).
        let cpu = runtime::cost::CpuProfile::resolve(args.cpu.as_deref().unwrap_or("cortex-m4f"))?;
        let (settings, t) =
            super::budget::cpu_only_budget(&budget, interp.graph(), &args.model, &cpu)?;
        if args.json {
            report.extra.push((
                "budget".into(),
                json!({"settings": settings, "cpu_only": t}),
            ));
        } else {
            report
                .extra
                .extend(super::budget::target_lines("CPU only", &t));
        }
    }
    Ok(Collected::Report(report))
}
