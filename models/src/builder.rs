//! A small graph builder: adds activation tensors, ops and seeded pseudo-random int8
//! weights with per-channel scales chosen so that activations stay in range (neither all
//! zero nor all saturated). Used by the built-in models and by tests.

use crate::graph::*;
use crate::rng::SplitMix64;

/// RMS of `(x - zero_point)` assumed for activations when choosing output scales.
const ACT_RMS_Q: f64 = 45.0;
/// Target RMS of an op's output in quantized units.
const TARGET_RMS_Q: f64 = 40.0;

/// Builds a [`Graph`] op by op.
pub struct GraphBuilder {
    g: Graph,
    rng: SplitMix64,
}

impl GraphBuilder {
    pub fn new(name: &str, description: &str, seed: u64) -> Self {
        GraphBuilder {
            g: Graph {
                name: name.to_string(),
                description: description.to_string(),
                tensors: Vec::new(),
                ops: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            },
            rng: SplitMix64::new(seed),
        }
    }

    pub fn shape(&self, t: usize) -> &[usize] {
        &self.g.tensors[t].shape
    }

    fn scale_zp(&self, t: usize) -> (f32, i64) {
        let q = self.g.tensors[t].quant.as_ref();
        (
            q.map_or(1.0, |q| q.scale()),
            q.map_or(0, |q| q.zero_point()),
        )
    }

    /// Adds a tensor and returns its index.
    pub fn tensor(
        &mut self,
        name: String,
        shape: Vec<usize>,
        dtype: DType,
        quant: Option<Quantization>,
        data: Option<Vec<u8>>,
    ) -> usize {
        self.g.tensors.push(Tensor {
            name,
            shape,
            dtype,
            quant,
            data,
        });
        self.g.tensors.len() - 1
    }

    fn activation_tensor(&mut self, shape: Vec<usize>, scale: f32, zp: i64) -> usize {
        let name = format!("act{}", self.g.tensors.len());
        self.tensor(
            name,
            shape,
            DType::I8,
            Some(Quantization::per_tensor(scale, zp)),
            None,
        )
    }

    /// Declares a graph input (int8).
    pub fn input(&mut self, shape: &[usize], scale: f32, zero_point: i64) -> usize {
        let t = self.activation_tensor(shape.to_vec(), scale, zero_point);
        self.g.inputs.push(t);
        t
    }

    fn push(&mut self, kind: OpKind, inputs: Vec<Option<usize>>, output: usize) -> usize {
        self.g.ops.push(Op {
            kind,
            inputs,
            outputs: vec![output],
        });
        output
    }

    /// int8 weights of the given shape, approximately normal, max |w| = 127.
    fn weights(&mut self, shape: Vec<usize>, scales: Vec<f32>, qdim: usize) -> usize {
        let n: usize = shape.iter().product();
        let data: Vec<u8> = (0..n)
            .map(|_| ((self.rng.normal() * 42.0).round().clamp(-127.0, 127.0) as i8) as u8)
            .collect();
        let zps = vec![0; scales.len()];
        let name = format!("weights{}", self.g.tensors.len());
        self.tensor(
            name,
            shape,
            DType::I8,
            Some(Quantization {
                scales,
                zero_points: zps,
                quantized_dimension: qdim,
            }),
            Some(data),
        )
    }

    /// int32 biases with scales `in_scale * w_scale[c]`, small relative to the accumulator.
    fn biases(&mut self, in_scale: f32, w_scales: &[f32], acc_rms: f64) -> usize {
        let scales: Vec<f32> = w_scales.iter().map(|s| in_scale * s).collect();
        let data: Vec<u8> = (0..scales.len())
            .flat_map(|_| ((self.rng.normal() * acc_rms * 0.3).round() as i32).to_le_bytes())
            .collect();
        let zps = vec![0; scales.len()];
        let name = format!("bias{}", self.g.tensors.len());
        self.tensor(
            name,
            vec![scales.len()],
            DType::I32,
            Some(Quantization {
                scales,
                zero_points: zps,
                quantized_dimension: 0,
            }),
            Some(data),
        )
    }

    /// Per-channel weight scales around `base`, spread by +-50%.
    fn channel_scales(&mut self, n: usize, base: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (base * (0.5 + self.rng.next_f64())) as f32)
            .collect()
    }

    /// Output quantization for an accumulator of `k` products: scale so that the RMS of
    /// the output is about `TARGET_RMS_Q`; zero point -128 after a ReLU, else near 0.
    fn output_quant(
        &mut self,
        in_scale: f32,
        w_scale: f64,
        k: usize,
        act: Activation,
    ) -> (f32, i64, f64) {
        let acc_rms = (k as f64).sqrt() * 42.0 * ACT_RMS_Q;
        let real_rms = in_scale as f64 * w_scale * acc_rms;
        let scale = (real_rms / TARGET_RMS_Q) as f32;
        let zp = match act {
            Activation::None => self.rng.range_i64(-10, 10),
            _ => -128,
        };
        (scale, zp, acc_rms)
    }

    fn out_hw(
        padding: Padding,
        h: usize,
        w: usize,
        kh: usize,
        kw: usize,
        sh: usize,
        sw: usize,
    ) -> (usize, usize) {
        match padding {
            Padding::Same => (h.div_ceil(sh), w.div_ceil(sw)),
            Padding::Valid => ((h - kh) / sh + 1, (w - kw) / sw + 1),
        }
    }

    /// CONV_2D with `out_ch` filters of `kh x kw`, per-channel int8 weights.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        x: usize,
        out_ch: usize,
        kh: usize,
        kw: usize,
        stride: usize,
        padding: Padding,
        act: Activation,
    ) -> usize {
        self.conv_hw(x, out_ch, kh, kw, stride, stride, padding, act)
    }

    /// CONV_2D with separate strides along the height and the width.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_hw(
        &mut self,
        x: usize,
        out_ch: usize,
        kh: usize,
        kw: usize,
        stride_h: usize,
        stride_w: usize,
        padding: Padding,
        act: Activation,
    ) -> usize {
        let s = self.shape(x).to_vec();
        let (in_scale, _) = self.scale_zp(x);
        let base = 0.01;
        let w_scales = self.channel_scales(out_ch, base);
        let w = self.weights(vec![out_ch, kh, kw, s[3]], w_scales.clone(), 0);
        let (o_scale, o_zp, acc_rms) = self.output_quant(in_scale, base, kh * kw * s[3], act);
        let b = self.biases(in_scale, &w_scales, acc_rms);
        let (oh, ow) = Self::out_hw(padding, s[1], s[2], kh, kw, stride_h, stride_w);
        let y = self.activation_tensor(vec![s[0], oh, ow, out_ch], o_scale, o_zp);
        let opts = ConvOptions {
            padding,
            stride_h,
            stride_w,
            dilation_h: 1,
            dilation_w: 1,
            activation: act,
        };
        self.push(OpKind::Conv2d(opts), vec![Some(x), Some(w), Some(b)], y)
    }

    /// DEPTHWISE_CONV_2D with depth multiplier 1.
    pub fn depthwise(
        &mut self,
        x: usize,
        kh: usize,
        kw: usize,
        stride: usize,
        padding: Padding,
        act: Activation,
    ) -> usize {
        self.depthwise_hw(x, kh, kw, stride, stride, 1, padding, act)
    }

    /// DEPTHWISE_CONV_2D with separate strides and `multiplier` output channels per input
    /// channel.
    #[allow(clippy::too_many_arguments)]
    pub fn depthwise_hw(
        &mut self,
        x: usize,
        kh: usize,
        kw: usize,
        stride_h: usize,
        stride_w: usize,
        multiplier: usize,
        padding: Padding,
        act: Activation,
    ) -> usize {
        let s = self.shape(x).to_vec();
        let c = s[3] * multiplier;
        let (in_scale, _) = self.scale_zp(x);
        let base = 0.02;
        let w_scales = self.channel_scales(c, base);
        let w = self.weights(vec![1, kh, kw, c], w_scales.clone(), 3);
        let (o_scale, o_zp, acc_rms) = self.output_quant(in_scale, base, kh * kw, act);
        let b = self.biases(in_scale, &w_scales, acc_rms);
        let (oh, ow) = Self::out_hw(padding, s[1], s[2], kh, kw, stride_h, stride_w);
        let y = self.activation_tensor(vec![s[0], oh, ow, c], o_scale, o_zp);
        let opts = DepthwiseOptions {
            padding,
            stride_h,
            stride_w,
            dilation_h: 1,
            dilation_w: 1,
            depth_multiplier: multiplier,
            activation: act,
        };
        self.push(
            OpKind::DepthwiseConv2d(opts),
            vec![Some(x), Some(w), Some(b)],
            y,
        )
    }

    /// FULLY_CONNECTED with per-tensor int8 weights `[units, depth]`.
    pub fn fully_connected(&mut self, x: usize, units: usize, act: Activation) -> usize {
        let base = 0.01 * (0.5 + self.rng.next_f64());
        self.fc_with_weight_scale(x, units, act, base)
    }

    /// FULLY_CONNECTED producing logits for a softmax: weight scale chosen so that the
    /// real-valued logits have an RMS of about 2 (a softmax that is not one-hot).
    pub fn classifier(&mut self, x: usize, units: usize) -> usize {
        let depth = *self.shape(x).last().unwrap_or(&1);
        let (in_scale, _) = self.scale_zp(x);
        let acc_rms = (depth as f64).sqrt() * 42.0 * ACT_RMS_Q;
        let base = 2.0 / (in_scale as f64 * acc_rms);
        self.fc_with_weight_scale(x, units, Activation::None, base)
    }

    fn fc_with_weight_scale(
        &mut self,
        x: usize,
        units: usize,
        act: Activation,
        base: f64,
    ) -> usize {
        let s = self.shape(x).to_vec();
        let depth = *s.last().unwrap_or(&1);
        let batch = s.iter().product::<usize>() / depth.max(1);
        let (in_scale, _) = self.scale_zp(x);
        let w = self.weights(vec![units, depth], vec![base as f32], 0);
        let (o_scale, o_zp, acc_rms) = self.output_quant(in_scale, base, depth, act);
        let b = self.biases(in_scale, &vec![base as f32; units], acc_rms);
        // A per-tensor bias: collapse the per-channel scales to one.
        if let Some(q) = self.g.tensors[b].quant.as_mut() {
            q.scales.truncate(1);
            q.zero_points.truncate(1);
        }
        let y = self.activation_tensor(vec![batch, units], o_scale, o_zp);
        self.push(
            OpKind::FullyConnected {
                activation: act,
                keep_num_dims: false,
            },
            vec![Some(x), Some(w), Some(b)],
            y,
        )
    }

    /// Element-wise ADD; the output scale covers the sum of both inputs' ranges.
    pub fn add(&mut self, a: usize, b: usize, act: Activation) -> usize {
        let s = self.shape(a).to_vec();
        let (sa, _) = self.scale_zp(a);
        let (sb, _) = self.scale_zp(b);
        let scale = ((sa as f64).hypot(sb as f64)) as f32;
        let zp = if act == Activation::None { 0 } else { -128 };
        let y = self.activation_tensor(s, scale, zp);
        self.push(OpKind::Add { activation: act }, vec![Some(a), Some(b)], y)
    }

    /// AVERAGE_POOL_2D (output quantization = input quantization, as TFLite requires).
    pub fn avg_pool(
        &mut self,
        x: usize,
        fh: usize,
        fw: usize,
        stride: usize,
        padding: Padding,
    ) -> usize {
        let s = self.shape(x).to_vec();
        let (sc, zp) = self.scale_zp(x);
        let (oh, ow) = Self::out_hw(padding, s[1], s[2], fh, fw, stride, stride);
        let y = self.activation_tensor(vec![s[0], oh, ow, s[3]], sc, zp);
        let opts = PoolOptions {
            padding,
            stride_h: stride,
            stride_w: stride,
            filter_h: fh,
            filter_w: fw,
            activation: Activation::None,
        };
        self.push(OpKind::AveragePool2d(opts), vec![Some(x)], y)
    }

    /// AVERAGE_POOL_2D with separate strides (for non-square global pools).
    pub fn avg_pool_hw(&mut self, x: usize, fh: usize, fw: usize, padding: Padding) -> usize {
        let s = self.shape(x).to_vec();
        let (sc, zp) = self.scale_zp(x);
        let (oh, ow) = Self::out_hw(padding, s[1], s[2], fh, fw, fh, fw);
        let y = self.activation_tensor(vec![s[0], oh, ow, s[3]], sc, zp);
        let opts = PoolOptions {
            padding,
            stride_h: fh,
            stride_w: fw,
            filter_h: fh,
            filter_w: fw,
            activation: Activation::None,
        };
        self.push(OpKind::AveragePool2d(opts), vec![Some(x)], y)
    }

    /// RESHAPE to `shape`, with the new shape as a constant int32 input as TFLite does.
    pub fn reshape(&mut self, x: usize, shape: &[usize]) -> usize {
        let (sc, zp) = self.scale_zp(x);
        let data: Vec<u8> = shape
            .iter()
            .flat_map(|&d| (d as i32).to_le_bytes())
            .collect();
        let st = self.tensor(
            format!("shape{}", self.g.tensors.len()),
            vec![shape.len()],
            DType::I32,
            None,
            Some(data),
        );
        let y = self.activation_tensor(shape.to_vec(), sc, zp);
        self.push(OpKind::Reshape, vec![Some(x), Some(st)], y)
    }

    /// SOFTMAX with int8 output (scale 1/256, zero point -128).
    pub fn softmax(&mut self, x: usize, beta: f32) -> usize {
        let s = self.shape(x).to_vec();
        let y = self.activation_tensor(s, 1.0 / 256.0, -128);
        self.push(OpKind::Softmax { beta }, vec![Some(x)], y)
    }

    /// Marks `outputs` as the graph outputs and returns the graph.
    pub fn finish(mut self, outputs: &[usize]) -> Graph {
        self.g.outputs = outputs.to_vec();
        self.g
    }
}
