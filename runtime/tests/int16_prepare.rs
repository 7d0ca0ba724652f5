//! 16x8 layers (int16 activations) that TFLite-Micro's kernels do not define, or that
//! tinyaccel does not implement, are refused when prepared with the op and the reason.

use models::{DType, Quantization};
use runtime::Interpreter;
use std::path::Path;

fn golden(name: &str) -> models::Graph {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/ops")
        .join(format!("{name}.tflite"));
    models::load_tflite(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn err(g: &models::Graph) -> String {
    match Interpreter::new(g) {
        Ok(_) => panic!("graph should be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_goldens_prepare() {
    for name in ["conv16_3x3_same_pc", "dw16_3x3_m1", "fc16_int32_bias"] {
        let g = golden(name);
        let interp = Interpreter::new(&g).unwrap();
        // int16 tensors take two bytes per element in the arena.
        assert_eq!(interp.input_len(), 2 * g.input().unwrap().elements());
    }
}

#[test]
fn int16_activations_need_zero_point_0() {
    let mut g = golden("conv16_3x3_same_pc");
    let x = g.inputs[0];
    g.tensors[x].quant = Some(Quantization::per_tensor(1.0 / 2048.0, 5));
    let e = err(&g);
    assert!(
        e.contains("op 0 (CONV_2D)") && e.contains("zero point 5") && e.contains("zero point 0"),
        "{e}"
    );
}

#[test]
fn depthwise_16x8_needs_an_int64_bias() {
    let mut g = golden("dw16_3x3_m1");
    let b = g.ops[0].input(2).unwrap();
    let t = &mut g.tensors[b];
    t.dtype = DType::I32;
    let v: Vec<u8> = t
        .data
        .as_ref()
        .unwrap()
        .chunks_exact(8)
        .flat_map(|c| (i64::from_le_bytes(c.try_into().unwrap()) as i32).to_le_bytes())
        .collect();
    t.data = Some(v);
    let e = err(&g);
    assert!(
        e.contains("DEPTHWISE_CONV_2D") && e.contains("int32") && e.contains("int64"),
        "{e}"
    );
}

#[test]
fn effective_scales_past_the_int64_requantization_are_refused() {
    let mut g = golden("conv16_3x3_same_pc");
    let y = g.outputs[0];
    g.tensors[y].quant = Some(Quantization::per_tensor(1e-11, 0));
    let e = err(&g);
    assert!(e.contains("CONV_2D") && e.contains("2^14"), "{e}");
}

#[test]
fn mixed_int16_int8_conv_is_refused() {
    let mut g = golden("conv16_3x3_same_pc");
    let y = g.outputs[0];
    g.tensors[y].dtype = DType::I8;
    let e = err(&g);
    assert!(e.contains("output") && e.contains("int8"), "{e}");
}

#[test]
fn quantize_from_float_to_int32_is_refused() {
    let mut g = golden("quantize_f32_i16_fc_dequantize");
    let q = g.ops[0].outputs[0];
    g.tensors[q].dtype = DType::I32;
    let e = err(&g);
    assert!(e.contains("QUANTIZE"), "{e}");
}
