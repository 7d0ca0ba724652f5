//! The external-executor hook: an executor that takes conv/depthwise/FC ops and computes
//! them from the public prepared parameters gives bit-identical results; falling back,
//! errors and op-by-op execution behave as documented.

use runtime::kernels::{as_i8, as_i8_mut, conv, depthwise, fully_connected};
use runtime::{Interpreter, OpContext, OpExecutor, PreparedOp, RuntimeError};

/// Plays the accelerator driver: offloads MAC ops using only public API.
#[derive(Default)]
struct Offload {
    ran: Vec<usize>,
}

impl OpExecutor for Offload {
    fn execute(&mut self, ctx: &OpContext<'_>, output: &mut [u8]) -> Result<bool, String> {
        if ctx.prepared.quant().is_none() {
            return Ok(false);
        }
        let x = as_i8(ctx.inputs[0].ok_or("no input")?);
        let w = as_i8(ctx.inputs[1].ok_or("no weights")?);
        let out = as_i8_mut(output);
        match ctx.prepared {
            PreparedOp::Conv { geom, quant } => conv::conv2d(geom, quant, x, w, out),
            PreparedOp::Depthwise { geom, quant } => {
                depthwise::depthwise_conv2d(geom, quant, x, w, out)
            }
            PreparedOp::FullyConnected { geom, quant } => {
                fully_connected::fully_connected(geom, quant, x, w, out)
            }
            _ => return Ok(false),
        }
        assert_eq!(ctx.op.outputs[0], ctx.op.output().unwrap());
        assert_eq!(ctx.output_tensor.bytes(), output.len());
        self.ran.push(ctx.index);
        Ok(true)
    }
}

fn input_for(interp: &Interpreter) -> Vec<u8> {
    (0..interp.input_len())
        .map(|i| (i * 37 % 251) as u8)
        .collect()
}

#[test]
fn offloading_mac_ops_is_bit_identical() {
    for &name in models::BUILTIN_NAMES {
        let g = models::builtin(name).unwrap();
        let mut a = Interpreter::new(&g).unwrap();
        let mut b = Interpreter::new(&g).unwrap();
        let input = input_for(&a);
        let mut exec = Offload::default();
        let want = a.invoke(&input).unwrap();
        let got = b.invoke_with(&input, &mut exec).unwrap();
        assert_eq!(got, want, "{name}");
        let mac_ops: Vec<usize> = b
            .layers()
            .iter()
            .filter(|l| l.macs > 0)
            .map(|l| l.index)
            .collect();
        assert_eq!(
            exec.ran, mac_ops,
            "{name}: every MAC op offloaded, nothing else"
        );
        for &i in &mac_ops {
            let q = b.prepared(i).unwrap().quant().unwrap();
            let n = q.multipliers.len();
            assert!(
                n > 0 && q.shifts.len() == n && q.bias.len() == n,
                "{name} op {i}"
            );
        }
    }
}

struct Failing;

impl OpExecutor for Failing {
    fn execute(&mut self, ctx: &OpContext<'_>, _: &mut [u8]) -> Result<bool, String> {
        if ctx.index == 2 {
            Err("device timeout".into())
        } else {
            Ok(false)
        }
    }
}

#[test]
fn executor_errors_name_the_op() {
    let g = models::builtin("kws").unwrap();
    let mut i = Interpreter::new(&g).unwrap();
    let input = input_for(&i);
    match i.invoke_with(&input, &mut Failing) {
        Err(e @ RuntimeError::Executor { index: 2, .. }) => {
            let s = e.to_string();
            assert!(
                s.contains("op 2") && s.contains("CONV_2D") && s.contains("device timeout"),
                "{s}"
            );
        }
        other => panic!("expected an executor error, got {other:?}"),
    }
}

#[test]
fn op_by_op_equals_invoke() {
    let g = models::builtin("ic").unwrap();
    let mut a = Interpreter::new(&g).unwrap();
    let mut b = Interpreter::new(&g).unwrap();
    let input = input_for(&a);
    let want = a.invoke(&input).unwrap();
    b.set_input(0, &input).unwrap();
    for op in 0..g.ops.len() {
        assert!(!b.run_op(op, None).unwrap());
    }
    assert_eq!(b.output_bytes(0).unwrap(), want);
}

#[test]
fn wrong_input_size_is_an_error() {
    let g = models::builtin("ad").unwrap();
    let mut i = Interpreter::new(&g).unwrap();
    let e = i.invoke(&[0u8; 10]).unwrap_err().to_string();
    assert!(e.contains("640") && e.contains("got 10"), "{e}");
}

#[test]
fn weights_accessor_matches_the_graph() {
    let g = models::builtin("kws").unwrap();
    let i = Interpreter::new(&g).unwrap();
    let w = i.weights(0).unwrap();
    assert_eq!(w.len(), 64 * 10 * 4);
    assert_eq!(
        w[5] as u8,
        g.tensors[g.ops[0].input(1).unwrap()].data.as_ref().unwrap()[5]
    );
    assert!(i.weights(9).is_none(), "AVERAGE_POOL_2D has no weights");
    assert!(i.weights(99).is_none());
}
