//! The built-in models run, and their pseudo-random quantization keeps activations alive:
//! no layer is all-saturated or constant on a random input.

use models::rng::SplitMix64;
use runtime::{Interpreter, NoReuse};

#[test]
fn builtin_activations_are_plausible() {
    for &name in models::BUILTIN_NAMES {
        let g = models::builtin(name).unwrap();
        let mut interp = Interpreter::with_planner(&g, &NoReuse).unwrap();
        let mut rng = SplitMix64::new(42);
        let input: Vec<u8> = (0..interp.input_len())
            .map(|_| rng.next_u64() as u8)
            .collect();
        interp.invoke(&input).unwrap();
        for (i, op) in g.ops.iter().enumerate() {
            let out = interp.tensor_bytes(op.outputs[0]).unwrap();
            let sat =
                out.iter().filter(|&&b| b == 0x80 || b == 0x7f).count() as f64 / out.len() as f64;
            let distinct = out.iter().collect::<std::collections::BTreeSet<_>>().len();
            println!(
                "{name} op {i} {}: saturated {:.2}, {distinct} distinct values",
                op.name(),
                sat
            );
            if out.len() < 8 {
                continue;
            }
            assert!(
                sat < 0.75,
                "{name} op {i} ({}): {:.0}% saturated",
                op.name(),
                sat * 100.0
            );
            assert!(
                distinct >= 4,
                "{name} op {i} ({}): only {distinct} distinct values",
                op.name()
            );
        }
    }
}

#[test]
fn builtins_are_deterministic() {
    for &name in models::BUILTIN_NAMES {
        assert_eq!(models::builtin(name), models::builtin(name), "{name}");
    }
    assert!(models::builtin("nope").is_none());
}
