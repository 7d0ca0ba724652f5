//! The elementwise and activation ops of issue 20 (SUB, RELU, RELU6, LEAKY_RELU, HARD_SWISH,
//! SQUEEZE, EXPAND_DIMS, requantizing CONCATENATION) refuse what TFLite-Micro refuses with
//! an error naming the model, the op and the reason, never a panic. The graphs are the op
//! goldens of `tests/data/ops/`, mutated.

use models::{DType, OpKind};
use runtime::prepare::PreparedOp;
use runtime::Interpreter;
use std::path::Path;

fn fixture(name: &str) -> models::Graph {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/ops")
        .join(format!("{name}.tflite"));
    models::load_tflite(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn err(g: &models::Graph) -> String {
    match Interpreter::new(g) {
        Ok(_) => panic!("{}: graph should be rejected", g.name),
        Err(e) => e.to_string(),
    }
}

fn scale_of(g: &mut models::Graph, t: usize, scale: f32) {
    g.tensors[t].quant.as_mut().unwrap().scales[0] = scale;
}

#[test]
fn hard_swish_with_an_output_multiplier_of_one_or_more_is_refused() {
    let mut g = fixture("hard_swish_typical");
    let y = g.ops[0].outputs[0];
    scale_of(&mut g, y, 1e-5);
    let e = err(&g);
    assert!(
        e.contains("hard_swish_typical")
            && e.contains("op 0 (HARD_SWISH)")
            && e.contains("exponent"),
        "{e}"
    );
}

#[test]
fn sub_with_an_output_rescale_of_one_or_more_is_refused() {
    let mut g = fixture("sub_bcast_channel");
    let y = g.ops[0].outputs[0];
    scale_of(&mut g, y, 1e-9);
    let e = err(&g);
    assert!(
        e.contains("op 0 (SUB)") && e.contains("output rescale multiplier"),
        "{e}"
    );
}

#[test]
fn sub_of_shapes_that_do_not_broadcast_is_refused() {
    let mut g = fixture("sub_bcast_channel");
    let c = g.ops[0].input(1).unwrap();
    g.tensors[c].shape = vec![4];
    g.tensors[c].data = Some(vec![0; 4]);
    let e = err(&g);
    assert!(e.contains("do not broadcast"), "{e}");
}

#[test]
fn squeeze_of_a_dimension_larger_than_one_is_refused() {
    let mut g = fixture("squeeze_dim2");
    g.ops[0].kind = OpKind::Squeeze {
        squeeze_dims: vec![1],
    };
    let e = err(&g);
    assert!(
        e.contains("op 0 (SQUEEZE)") && e.contains("squeeze_dims entry 1"),
        "{e}"
    );
    let mut g = fixture("squeeze_dim2");
    g.ops[0].kind = OpKind::Squeeze {
        squeeze_dims: vec![7],
    };
    assert!(err(&g).contains("squeeze_dims entry 7"));
}

#[test]
fn expand_dims_with_a_bad_axis_or_shape_is_refused() {
    let mut g = fixture("expand_dims_0");
    let a = g.ops[0].input(1).unwrap();
    g.tensors[a].data = Some(5i32.to_le_bytes().to_vec());
    let e = err(&g);
    assert!(
        e.contains("op 0 (EXPAND_DIMS)") && e.contains("axis 5 out of range"),
        "{e}"
    );
    let mut g = fixture("expand_dims_0");
    let y = g.ops[0].outputs[0];
    g.tensors[y].shape = vec![4, 1, 6];
    assert!(err(&g).contains("the op computes [1, 4, 6]"));
    let mut g = fixture("expand_dims_0");
    // A variable axis: as a graph input it reaches the op, which wants a constant.
    g.tensors[a].data = None;
    g.inputs.push(a);
    let e = err(&g);
    assert!(e.contains("axis \"axis\" must be a constant"), "{e}");
}

#[test]
fn activations_refuse_other_types_and_shapes() {
    for name in [
        "relu_same_q",
        "relu6_same_q",
        "leaky_relu_0_2",
        "hard_swish_typical",
    ] {
        let mut g = fixture(name);
        let y = g.ops[0].outputs[0];
        g.tensors[y].dtype = DType::I16;
        let e = err(&g);
        assert!(
            e.contains("is int16, only int8 is supported"),
            "{name}: {e}"
        );
        let mut g = fixture(name);
        g.tensors[y].shape.reverse();
        assert!(err(&g).contains("differ"), "{name}");
    }
}

#[test]
fn a_concatenation_quantized_unlike_its_output_requantizes_only_those_inputs() {
    let g = fixture("concatenation_requant_axis1");
    let interp = Interpreter::new(&g).unwrap();
    match interp.prepared(0).unwrap() {
        PreparedOp::ConcatRequantized { requant, .. } => {
            // Inputs 0 and 1 are quantized (0.02, 10), input 2 (0.3, -128); output (0.04, -50).
            assert!(requant.iter().all(Option::is_some), "{requant:?}");
        }
        p => panic!("{p:?}"),
    }
    let g = fixture("concatenation_const_neg_axis");
    let interp = Interpreter::new(&g).unwrap();
    assert!(matches!(
        interp.prepared(0).unwrap(),
        PreparedOp::Concat { .. }
    ));
}
