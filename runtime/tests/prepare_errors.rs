//! Bad graphs (as another tool or a hand-built graph could produce) give errors naming the
//! model, the op and the reason, never a panic.

use models::{DType, OpKind};
use runtime::{Interpreter, RuntimeError};

fn kws() -> models::Graph {
    models::builtin("kws").unwrap()
}

fn err(g: &models::Graph) -> String {
    match Interpreter::new(g) {
        Ok(_) => panic!("graph should be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn wrong_output_shape() {
    let mut g = kws();
    let t = g.ops[0].outputs[0];
    g.tensors[t].shape = vec![1, 24, 5, 64];
    let e = err(&g);
    assert!(
        e.contains("kws") && e.contains("op 0 (CONV_2D)") && e.contains("[1, 25, 5, 64]"),
        "{e}"
    );
}

#[test]
fn zero_stride_and_filter() {
    let mut g = kws();
    if let OpKind::Conv2d(o) = &mut g.ops[2].kind {
        o.stride_w = 0;
    }
    assert!(err(&g).contains("op 2 (CONV_2D)"));
    let mut g = kws();
    let w = g.ops[1].input(1).unwrap();
    g.tensors[w].shape = vec![1, 0, 3, 64];
    g.tensors[w].data = Some(vec![]);
    assert!(err(&g).contains("op 1 (DEPTHWISE_CONV_2D)"));
}

#[test]
fn bad_types_and_data() {
    let mut g = kws();
    let x = g.ops[11].input(0).unwrap();
    g.tensors[x].dtype = DType::F16;
    let e = err(&g);
    assert!(e.contains("float16"), "{e}");

    let mut g = kws();
    let w = g.ops[0].input(1).unwrap();
    g.tensors[w].data.as_mut().unwrap().pop();
    assert!(matches!(
        Interpreter::new(&g),
        Err(RuntimeError::BadTensor { .. })
    ));

    let mut g = kws();
    let w = g.ops[4].input(1).unwrap();
    g.tensors[w].quant.as_mut().unwrap().scales.truncate(3);
    assert!(err(&g).contains("3 scales"));

    let mut g = kws();
    let s = g.ops[12].outputs[0];
    g.tensors[s].quant = Some(models::Quantization::per_tensor(0.1, 0));
    assert!(err(&g).contains("1/256"));
}

#[test]
fn dangling_and_out_of_range_tensors() {
    let mut g = kws();
    g.ops[3].inputs[0] = Some(9999);
    assert!(err(&g).contains("9999"));
    let mut g = kws();
    g.ops.remove(0);
    assert!(err(&g).contains("before any op writes it"));
}

/// Found by fuzzing (`cargo fuzz run tflite`, issue 24): a CONCATENATION whose output is
/// a rank-0 tensor indexed its shape out of bounds while being prepared.
#[test]
fn concatenation_of_scalars_is_an_error() {
    let scalar = |name: &str| models::Tensor {
        name: name.to_string(),
        shape: vec![],
        dtype: DType::I8,
        quant: Some(models::Quantization::per_tensor(0.5, 0)),
        data: None,
    };
    for axis in [0, -1, 3] {
        let g = models::Graph {
            name: "concat0".into(),
            description: String::new(),
            tensors: vec![scalar("a"), scalar("b"), scalar("y")],
            ops: vec![models::Op {
                kind: OpKind::Concatenation {
                    axis,
                    activation: models::Activation::None,
                },
                inputs: vec![Some(0), Some(1)],
                outputs: vec![2],
            }],
            inputs: vec![0, 1],
            outputs: vec![2],
        };
        let e = err(&g);
        assert!(
            e.contains("op 0 (CONCATENATION)") && e.contains("rank-0"),
            "axis {axis}: {e}"
        );
    }
}
