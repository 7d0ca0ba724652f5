//! SCALE-Sim topology CSVs as models (`tinyaccel run resnet18.csv`).
//!
//! SCALE-Sim (v1 `ARM-software/SCALE-Sim`, v2 `scalesim-project/scale-sim-v2`) describes a
//! workload as a CSV of independent layers in one of two layouts, told apart here by the
//! header line:
//!
//! - convolution: `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
//!   Channels, Num Filter, Strides,` and optionally a 9th column, the stride along the
//!   width (`Strides` is then the stride along the height). Each row becomes a CONV_2D
//!   with VALID padding and SCALE-Sim's output size, `ofmap = ceil((ifmap - filter) /
//!   stride) + 1`: SCALE-Sim rounds up, its last window running past the bottom or
//!   right edge onto addresses it never reads (zero padding). Where that happens the
//!   layer's ifmap tensor is the file's grown to `(ofmap - 1) x stride + filter` rows
//!   and columns, the extra ones zero (see [`TopologyLayer::padded_ifmap_hw`]), so that
//!   ofmap and MACs are SCALE-Sim's exactly. A row whose name contains `DP` (SCALE-Sim's
//!   depthwise marker, which it splits into one single-channel layer per channel)
//!   becomes a DEPTHWISE_CONV_2D with depth multiplier `Num Filter`.
//! - GEMM: `Layer, M, N, K,`. Each row becomes a FULLY_CONNECTED of an `[M, K]` input
//!   (M is the batch) and `N` output features, as SCALE-Sim maps it to an `M x K` ifmap
//!   with `N` filters of `1 x K`.
//!
//! Weights, biases and quantization are synthetic int8, seeded ([`SEED`]): the same file
//! gives the same graph on every machine. SCALE-Sim's layers do not feed each other
//! (each reads its own ifmap), so neither do ours: layer 0 reads the graph input (what
//! `run --input` fills) and every later layer reads its own seeded synthetic ifmap, a
//! constant tensor named `<layer>/ifmap`. Every layer's output is named after its layer;
//! the graph's output is the last layer's. No op is added: the graph's ops are the rows
//! of the file, in order, one to one.
//!
//! Rows may end with a comma (SCALE-Sim's own files do) or not; text after `#` is a
//! comment; blank rows (also rows of commas only) are skipped; a byte-order mark and CRLF
//! line ends are accepted. Everything else that is not a layer is an error naming the
//! file, line, column and reason.

use crate::builder::GraphBuilder;
use crate::graph::{Activation, DType, Graph, Padding, Quantization};
use crate::rng::SplitMix64;
use std::fmt;
use std::path::Path;

/// The seed of the synthetic weights, biases and ifmaps of every topology.
pub const SEED: u64 = 0x5343_414c_4553_494d;

/// Largest topology file read (1 MiB; SCALE-Sim's largest topology is a few KB).
pub const MAX_TOPOLOGY_BYTES: u64 = 1 << 20;

/// Largest total of synthetic constant bytes (weights, biases, ifmaps) a topology may
/// need: [`crate::MAX_MODEL_BYTES`], the limit of a `.tflite` file.
pub const MAX_SYNTHETIC_BYTES: u64 = crate::MAX_MODEL_BYTES;

/// Largest value accepted in a numeric column (a dimension of 1M is far beyond any
/// layer that fits the byte limits).
pub const MAX_DIM: u64 = 1 << 20;

/// The convolution layout's column names, as SCALE-Sim writes them (plus the optional
/// 9th column).
pub const CONV_COLUMNS: [&str; 9] = [
    "Layer name",
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
    "Stride Width",
];

/// The GEMM layout's column names.
pub const GEMM_COLUMNS: [&str; 4] = ["Layer", "M", "N", "K"];

/// Which of SCALE-Sim's two layouts a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Conv,
    Gemm,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Conv => "convolution",
            Layout::Gemm => "GEMM (M, N, K)",
        }
    }
}

/// One layer of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerKind {
    /// A convolution row (also a depthwise one, `depthwise`).
    Conv {
        ifmap_h: usize,
        ifmap_w: usize,
        filter_h: usize,
        filter_w: usize,
        channels: usize,
        num_filter: usize,
        stride_h: usize,
        stride_w: usize,
        /// The name contains `DP`: SCALE-Sim's depthwise layer.
        depthwise: bool,
    },
    /// A GEMM row: `[M, K] x [K, N]`.
    Gemm { m: usize, n: usize, k: usize },
}

/// One row of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyLayer {
    /// 1-based line in the file.
    pub line: usize,
    /// The `Layer name` column (`layer<index>` when empty).
    pub name: String,
    pub kind: LayerKind,
}

impl TopologyLayer {
    /// Output height and width, SCALE-Sim's `ceil((ifmap - filter + stride) / stride)`
    /// (rounded up: a last window that runs past the bottom or right edge still counts);
    /// a GEMM's output is `M x 1`.
    pub fn ofmap_hw(&self) -> (usize, usize) {
        match self.kind {
            LayerKind::Conv {
                ifmap_h,
                ifmap_w,
                filter_h,
                filter_w,
                stride_h,
                stride_w,
                ..
            } => (
                (ifmap_h - filter_h + stride_h).div_ceil(stride_h),
                (ifmap_w - filter_w + stride_w).div_ceil(stride_w),
            ),
            LayerKind::Gemm { m, .. } => (m, 1),
        }
    }

    /// The ifmap height and width of the graph's layer: SCALE-Sim's, grown at the bottom
    /// and right to `(ofmap - 1) x stride + filter` when its rounding up makes the last
    /// window run past the edge (SCALE-Sim reads nothing there: zero padding). Equal to
    /// the file's when `(ifmap - filter)` is a multiple of the stride. A GEMM's is `M x K`.
    pub fn padded_ifmap_hw(&self) -> (usize, usize) {
        let (oh, ow) = self.ofmap_hw();
        match self.kind {
            LayerKind::Conv {
                filter_h,
                filter_w,
                stride_h,
                stride_w,
                ..
            } => (
                (oh - 1) * stride_h + filter_h,
                (ow - 1) * stride_w + filter_w,
            ),
            LayerKind::Gemm { m, k, .. } => (m, k),
        }
    }

    /// Multiply-accumulates, as SCALE-Sim counts them (`ofmap pixels x window x filters`).
    pub fn macs(&self) -> u64 {
        let (oh, ow) = self.ofmap_hw();
        match self.kind {
            LayerKind::Conv {
                filter_h,
                filter_w,
                channels,
                num_filter,
                ..
            } => prod(&[oh, ow, filter_h, filter_w, channels, num_filter]),
            LayerKind::Gemm { m, n, k } => prod(&[m, n, k]),
        }
    }
}

/// The product of `v` in u64, saturating (a bound check follows every use).
fn prod(v: &[usize]) -> u64 {
    v.iter().fold(1u64, |a, &x| a.saturating_mul(x as u64))
}

/// A parsed topology file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub layout: Layout,
    pub layers: Vec<TopologyLayer>,
}

/// Why a topology file was refused: the file, where (line, column and its name when the
/// problem is in one cell) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TopologyError {
    pub origin: String,
    pub line: Option<usize>,
    /// 1-based column (CSV field).
    pub column: Option<usize>,
    /// The column's name in SCALE-Sim's layout.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        if let Some(l) = self.line {
            write!(f, "line {l}")?;
            if let Some(c) = self.column {
                write!(f, ", column {c}")?;
                if let Some(n) = &self.field {
                    write!(f, " ({n})")?;
                }
            }
            write!(f, ": ")?;
        }
        write!(f, "SCALE-Sim topology: {}", self.reason)
    }
}

/// Whether `spec` names a SCALE-Sim topology by its extension (`.csv`, any case): the
/// model resolver's rule.
pub fn is_topology_path(spec: &str) -> bool {
    Path::new(spec)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

struct Ctx<'a> {
    origin: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        line: Option<usize>,
        column: Option<usize>,
        field: Option<&str>,
        reason: impl Into<String>,
    ) -> TopologyError {
        TopologyError {
            origin: self.origin.to_string(),
            line,
            column,
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }
}

/// Splits a row into trimmed fields: text after `#` is dropped, then trailing empty
/// fields (a row's final comma, and the padding of spreadsheet exports).
fn fields(line: &str) -> Vec<&str> {
    let line = line.split('#').next().unwrap_or("");
    let mut f: Vec<&str> = line.split(',').map(str::trim).collect();
    while f.last().is_some_and(|s| s.is_empty()) {
        f.pop();
    }
    f
}

fn detect_layout(header: &[&str]) -> Option<Layout> {
    let low: Vec<String> = header.iter().map(|s| s.to_ascii_lowercase()).collect();
    if low.len() >= 4 && low[1] == "m" && low[2] == "n" && low[3] == "k" {
        return Some(Layout::Gemm);
    }
    if low.len() >= 8 && low[1].contains("ifmap") {
        return Some(Layout::Conv);
    }
    None
}

/// Parses a topology's text. `origin` (the file) is named in errors.
pub fn parse(text: &str, origin: &str) -> Result<Topology, TopologyError> {
    let cx = Ctx { origin };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (header_line, header) = loop {
        match lines.next() {
            None => {
                return Err(cx.err(
                    None,
                    None,
                    None,
                    "the file is empty (expected a header line and one row per layer)",
                ))
            }
            Some((n, l)) if !l.trim().is_empty() => break (n, l),
            Some(_) => {}
        }
    };
    let layout = detect_layout(&fields(header)).ok_or_else(|| {
        cx.err(
            Some(header_line),
            None,
            None,
            format!(
                "header {:?} is neither the convolution layout (`{},`) nor the GEMM layout \
                 (`{},`); SCALE-Sim's own files start with one of these lines",
                header.trim(),
                CONV_COLUMNS[..8].join(", "),
                GEMM_COLUMNS.join(", ")
            ),
        )
    })?;
    let columns: &[&str] = match layout {
        Layout::Conv => &CONV_COLUMNS,
        Layout::Gemm => &GEMM_COLUMNS,
    };
    let required = match layout {
        Layout::Conv => 8,
        Layout::Gemm => 4,
    };
    let mut layers = Vec::new();
    for (n, line) in lines {
        let f = fields(line);
        if f.iter().all(|s| s.is_empty()) {
            continue;
        }
        if f.len() < required {
            return Err(cx.err(
                Some(n),
                Some(f.len() + 1),
                Some(columns[f.len()]),
                format!(
                    "missing: a {} row has {required} columns ({}), this one {}",
                    layout.name(),
                    columns[..required].join(", "),
                    f.len()
                ),
            ));
        }
        if f.len() > columns.len() {
            let c = columns.len();
            return Err(cx.err(
                Some(n),
                Some(c + 1),
                None,
                format!(
                    "unexpected value {:?}: a {} row has at most {} columns ({})",
                    f[c],
                    layout.name(),
                    columns.len(),
                    columns.join(", ")
                ),
            ));
        }
        let num = |c: usize| -> Result<usize, TopologyError> {
            let s = f[c];
            let bad = |reason: String| cx.err(Some(n), Some(c + 1), Some(columns[c]), reason);
            if s.is_empty() {
                return Err(bad("empty (expected a positive integer)".into()));
            }
            let v: u64 = s
                .parse()
                .map_err(|_| bad(format!("{s:?} is not a positive integer")))?;
            if v == 0 {
                return Err(bad("0: must be at least 1".into()));
            }
            if v > MAX_DIM {
                return Err(bad(format!("{v} is larger than the limit of {MAX_DIM}")));
            }
            Ok(v as usize)
        };
        let name = if f[0].is_empty() {
            format!("layer{}", layers.len())
        } else {
            f[0].to_string()
        };
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(cx.err(
                Some(n),
                Some(1),
                Some(columns[0]),
                format!("the name contains the control character U+{:04X}", c as u32),
            ));
        }
        let kind = match layout {
            Layout::Conv => {
                let [ifmap_h, ifmap_w, filter_h, filter_w, channels, num_filter, stride_h] = [
                    num(1)?,
                    num(2)?,
                    num(3)?,
                    num(4)?,
                    num(5)?,
                    num(6)?,
                    num(7)?,
                ];
                let stride_w = if f.len() > 8 { num(8)? } else { stride_h };
                for (c, filter, ifmap) in [(3, filter_h, ifmap_h), (4, filter_w, ifmap_w)] {
                    if filter > ifmap {
                        return Err(cx.err(
                            Some(n),
                            Some(c + 1),
                            Some(columns[c]),
                            format!(
                                "{filter} is larger than the {} {ifmap} (SCALE-Sim's \
                                 convolutions are unpadded: ofmap = (ifmap - filter) / stride + 1)",
                                columns[c - 2]
                            ),
                        ));
                    }
                }
                LayerKind::Conv {
                    ifmap_h,
                    ifmap_w,
                    filter_h,
                    filter_w,
                    channels,
                    num_filter,
                    stride_h,
                    stride_w,
                    depthwise: name.contains("DP"),
                }
            }
            Layout::Gemm => LayerKind::Gemm {
                m: num(1)?,
                n: num(2)?,
                k: num(3)?,
            },
        };
        layers.push(TopologyLayer {
            line: n,
            name,
            kind,
        });
    }
    if layers.is_empty() {
        return Err(cx.err(
            Some(header_line),
            None,
            None,
            "no layers: the header is not followed by any row",
        ));
    }
    let topo = Topology { layout, layers };
    check_sizes(&topo, &cx)?;
    Ok(topo)
}

/// Refuses a topology whose synthetic constants (weights, biases, the ifmaps of layers
/// 1..) or any one tensor would exceed [`MAX_SYNTHETIC_BYTES`].
fn check_sizes(t: &Topology, cx: &Ctx) -> Result<(), TopologyError> {
    let mut total: u64 = 0;
    for (i, l) in t.layers.iter().enumerate() {
        let (oh, ow) = l.ofmap_hw();
        let (ph, pw) = l.padded_ifmap_hw();
        let (ifmap, weights, bias, ofmap) = match l.kind {
            LayerKind::Conv {
                filter_h,
                filter_w,
                channels,
                num_filter,
                depthwise,
                ..
            } => {
                let oc = if depthwise {
                    prod(&[channels, num_filter])
                } else {
                    num_filter as u64
                };
                (
                    prod(&[ph, pw, channels]),
                    prod(&[filter_h, filter_w, channels, num_filter]),
                    4 * oc,
                    prod(&[oh, ow]).saturating_mul(oc),
                )
            }
            LayerKind::Gemm { m, n, k } => {
                (prod(&[m, k]), prod(&[n, k]), 4 * n as u64, prod(&[m, n]))
            }
        };
        for (what, bytes) in [("ifmap", ifmap), ("filter", weights), ("ofmap", ofmap)] {
            if bytes > MAX_SYNTHETIC_BYTES {
                return Err(cx.err(
                    Some(l.line),
                    None,
                    None,
                    format!(
                        "layer {:?}: its {what} is {bytes} bytes of int8, over the limit of \
                         {MAX_SYNTHETIC_BYTES} bytes (MAX_MODEL_BYTES): not a TinyML-sized layer",
                        l.name
                    ),
                ));
            }
        }
        total = total
            .saturating_add(weights + bias)
            .saturating_add(if i > 0 { ifmap } else { 0 });
        if total > MAX_SYNTHETIC_BYTES {
            return Err(cx.err(
                Some(l.line),
                None,
                None,
                format!(
                    "the synthetic weights and ifmaps up to layer {:?} are {total} bytes, over \
                     the limit of {MAX_SYNTHETIC_BYTES} bytes (MAX_MODEL_BYTES); run a part of \
                     the topology",
                    l.name
                ),
            ));
        }
    }
    Ok(())
}

/// Scale of the synthetic ifmaps (zero point 0).
const IFMAP_SCALE: f32 = 0.05;

/// Builds the graph of a parsed topology (see the module documentation).
pub fn build(t: &Topology, name: &str) -> Graph {
    let count = |f: &dyn Fn(&LayerKind) -> bool| t.layers.iter().filter(|l| f(&l.kind)).count();
    let convs = count(&|k| {
        matches!(
            k,
            LayerKind::Conv {
                depthwise: false,
                ..
            }
        )
    });
    let dws = count(&|k| {
        matches!(
            k,
            LayerKind::Conv {
                depthwise: true,
                ..
            }
        )
    });
    let gemms = count(&|k| matches!(k, LayerKind::Gemm { .. }));
    let mut parts = Vec::new();
    for (n, op) in [
        (convs, "CONV_2D"),
        (dws, "DEPTHWISE_CONV_2D"),
        (gemms, "FULLY_CONNECTED"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {op}"));
        }
    }
    let desc = format!(
        "SCALE-Sim topology ({} layout): {} independent layers ({}), synthetic int8 weights \
         and ifmaps (seeded)",
        t.layout.name(),
        t.layers.len(),
        parts.join(", ")
    );
    let mut b = GraphBuilder::new(name, &desc, SEED);
    let mut rng = SplitMix64::new(SEED.rotate_left(17));
    let mut names = Vec::new();
    let mut last = 0;
    for (i, l) in t.layers.iter().enumerate() {
        let (ph, pw) = l.padded_ifmap_hw();
        // The tensor's (rows, bytes per row) and the file's part of them; outside it, the
        // zero padding (zero point 0).
        let (shape, rows, row_len, real) = match l.kind {
            LayerKind::Conv {
                ifmap_h,
                ifmap_w,
                channels,
                ..
            } => (
                vec![1, ph, pw, channels],
                ph,
                pw * channels,
                (ifmap_h, ifmap_w * channels),
            ),
            LayerKind::Gemm { m, k, .. } => (vec![m, k], m, k, (m, k)),
        };
        let x = if i == 0 {
            b.input(&shape, IFMAP_SCALE, 0)
        } else {
            let mut data = vec![0u8; rows * row_len];
            for r in 0..real.0 {
                for v in &mut data[r * row_len..r * row_len + real.1] {
                    *v = ((rng.normal() * 45.0).round().clamp(-128.0, 127.0) as i8) as u8;
                }
            }
            b.tensor(
                String::new(),
                shape,
                DType::I8,
                Some(Quantization::per_tensor(IFMAP_SCALE, 0)),
                Some(data),
            )
        };
        let y = match l.kind {
            LayerKind::Conv {
                filter_h,
                filter_w,
                num_filter,
                stride_h,
                stride_w,
                depthwise: false,
                ..
            } => b.conv_hw(
                x,
                num_filter,
                filter_h,
                filter_w,
                stride_h,
                stride_w,
                Padding::Valid,
                Activation::None,
            ),
            LayerKind::Conv {
                filter_h,
                filter_w,
                num_filter,
                stride_h,
                stride_w,
                depthwise: true,
                ..
            } => b.depthwise_hw(
                x,
                filter_h,
                filter_w,
                stride_h,
                stride_w,
                num_filter,
                Padding::Valid,
                Activation::None,
            ),
            LayerKind::Gemm { n, .. } => b.fully_connected(x, n, Activation::None),
        };
        names.push((x, format!("{}/ifmap", l.name)));
        names.push((y, l.name.clone()));
        last = y;
    }
    let mut g = b.finish(&[last]);
    for (t, n) in names {
        g.tensors[t].name = n;
    }
    g
}

/// Reads, parses and builds a topology file; the graph is named after the file stem.
pub fn load(path: &Path) -> Result<Graph, crate::ModelError> {
    let origin = path.display().to_string();
    let bytes = crate::read_capped(path, MAX_TOPOLOGY_BYTES)
        .map_err(|source| crate::ModelError::Io {
            path: origin.clone(),
            source,
        })?
        .ok_or_else(|| {
            crate::ModelError::Topology(TopologyError {
                origin: origin.clone(),
                line: None,
                column: None,
                field: None,
                reason: format!(
                "the file is larger than {MAX_TOPOLOGY_BYTES} bytes (MAX_TOPOLOGY_BYTES): not a \
                 topology"
            ),
            })
        })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        crate::ModelError::Topology(TopologyError {
            origin: origin.clone(),
            line: Some(line),
            column: None,
            field: None,
            reason: format!(
                "not UTF-8 text (invalid byte at offset {}): a topology is a CSV text file",
                e.valid_up_to()
            ),
        })
    })?;
    let topo = parse(text, &origin)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(build(&topo, &name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::OpKind;

    const CONV: &str = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";

    fn err(text: &str) -> TopologyError {
        parse(text, "t.csv").unwrap_err()
    }

    #[test]
    fn conv_rows_with_and_without_trailing_commas() {
        let t = parse(
            &format!("{CONV}Conv1,224,224,7,7,3,64,2,\nFC, 1, 1, 1, 1, 512, 1000, 1\n\n,,,,\n"),
            "t.csv",
        )
        .unwrap();
        assert_eq!(t.layout, Layout::Conv);
        assert_eq!(t.layers.len(), 2);
        // SCALE-Sim rounds up: ceil((224 - 7 + 2) / 2) = 110.
        assert_eq!(t.layers[0].ofmap_hw(), (110, 110));
        assert_eq!(t.layers[0].padded_ifmap_hw(), (225, 225));
        assert_eq!(t.layers[0].macs(), 110 * 110 * 7 * 7 * 3 * 64);
        assert_eq!(t.layers[1].line, 3);
        let g = build(&t, "t");
        assert_eq!(g.ops.len(), 2);
        assert_eq!(g.input().unwrap().shape, [1, 225, 225, 3]);
        assert_eq!(g.tensors[g.ops[0].outputs[0]].shape, [1, 110, 110, 64]);
        assert_eq!(g.tensors[g.ops[0].outputs[0]].name, "Conv1");
        // Layer 1 reads its own constant ifmap, not layer 0's output.
        let x1 = g.ops[1].input(0).unwrap();
        assert!(g.tensors[x1].is_const());
        assert_eq!(g.tensors[x1].shape, [1, 1, 1, 512]);
        assert_eq!(g.outputs, [g.ops[1].outputs[0]]);
        let macs: u64 = t.layers.iter().map(|l| l.macs()).sum();
        assert_eq!(g.macs(), macs);
        // Deterministic.
        assert_eq!(build(&t, "t"), g);
    }

    #[test]
    fn gemm_layout_and_strides_and_depthwise() {
        let t = parse("\u{feff}Layer, M, N, K,\r\nfc1, 8, 16, 32,\r\n", "g.csv").unwrap();
        assert_eq!(t.layout, Layout::Gemm);
        let g = build(&t, "g");
        assert!(matches!(g.ops[0].kind, OpKind::FullyConnected { .. }));
        assert_eq!(g.tensors[g.ops[0].outputs[0]].shape, [8, 16]);
        assert_eq!(g.macs(), 8 * 16 * 32);

        let t = parse(
            &format!("{CONV}a,9,11,3,3,2,4,2,3,\nDP1,8,8,3,3,5,2,1, # dw\n"),
            "c.csv",
        )
        .unwrap();
        let g = build(&t, "c");
        match &g.ops[0].kind {
            OpKind::Conv2d(o) => assert_eq!((o.stride_h, o.stride_w), (2, 3)),
            k => panic!("{k:?}"),
        }
        // ceil((9 - 3 + 2) / 2) = 4 rows, ceil((11 - 3 + 3) / 3) = 4 columns.
        assert_eq!(g.tensors[g.ops[0].outputs[0]].shape, [1, 4, 4, 4]);
        match &g.ops[1].kind {
            OpKind::DepthwiseConv2d(o) => assert_eq!(o.depth_multiplier, 2),
            k => panic!("{k:?}"),
        }
        assert_eq!(g.tensors[g.ops[1].outputs[0]].shape, [1, 6, 6, 10]);
        assert_eq!(g.macs(), t.layers.iter().map(|l| l.macs()).sum::<u64>());
    }

    #[test]
    fn rounded_up_windows_read_zero_padding() {
        // Layer 1: 5x5x2 ifmap, 2x2 filter, stride 2: ofmap 3x3 (SCALE-Sim), ifmap 6x6.
        let t = parse(
            &format!(
                "{CONV}a,4,4,1,1,1,1,1,
b,5,5,2,2,2,3,2,
"
            ),
            "p.csv",
        )
        .unwrap();
        assert_eq!(t.layers[1].ofmap_hw(), (3, 3));
        assert_eq!(t.layers[1].padded_ifmap_hw(), (6, 6));
        let g = build(&t, "p");
        let x = &g.tensors[g.ops[1].input(0).unwrap()];
        assert_eq!(x.shape, [1, 6, 6, 2]);
        let d = x.data.as_ref().unwrap();
        for r in 0..6 {
            for c in 0..6 {
                let px = &d[(r * 6 + c) * 2..(r * 6 + c) * 2 + 2];
                if r == 5 || c == 5 {
                    assert_eq!(px, [0, 0], "padding at {r},{c}");
                }
            }
        }
        assert!(d.iter().any(|&v| v != 0));
        assert_eq!(g.tensors[g.ops[1].outputs[0]].shape, [1, 3, 3, 3]);
        assert_eq!(g.ops[1].macs(&g.tensors), t.layers[1].macs());
    }

    #[test]
    fn errors_name_line_column_and_reason() {
        let e = err(&format!("{CONV}a,8,8,3,3,2,4,1,\nb,8,x,3,3,2,4,1,\n"));
        assert_eq!((e.line, e.column), (Some(3), Some(3)));
        let s = e.to_string();
        assert!(
            s.contains("t.csv: line 3, column 3 (IFMAP Width)") && s.contains("\"x\""),
            "{s}"
        );
        let e = err(&format!("{CONV}a,8,8,9,3,2,4,1,\n"));
        assert_eq!(e.column, Some(4));
        assert!(e.reason.contains("larger than the IFMAP Height 8"), "{e}");
        let e = err(&format!("{CONV}a,8,8,3,3,2,0,1,\n"));
        assert!(
            e.reason.contains("at least 1") && e.column == Some(7),
            "{e}"
        );
        let e = err(&format!("{CONV}a,8,8,3,3,2\n"));
        assert_eq!(e.column, Some(7));
        assert!(e.reason.contains("missing"), "{e}");
        let e = err(&format!("{CONV}a,8,8,3,3,2,2,1,1,5,\n"));
        assert_eq!(e.column, Some(10));
        let e = err("name,a,b\nx,1,2\n");
        assert!(e.reason.contains("neither the convolution layout"), "{e}");
        assert_eq!(e.line, Some(1));
        assert!(err("").reason.contains("empty"));
        assert!(err(CONV).reason.contains("no layers"));
        let e = err("Layer,M,N,K,\nbig,1048576,1048576,1048576,\n");
        assert!(e.reason.contains("over the limit"), "{e}");
        let e = err(&format!("{CONV}a,8,8,3,3,2,4,-1,\n"));
        assert!(e.reason.contains("not a positive integer"), "{e}");
    }

    #[test]
    fn extension_rule() {
        assert!(is_topology_path("x/Resnet18.csv"));
        assert!(is_topology_path("A.CSV"));
        assert!(!is_topology_path("a.tflite"));
        assert!(!is_topology_path("csv"));
    }
}
