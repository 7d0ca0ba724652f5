//! The four MLPerf Tiny networks, built in Rust with the same op sequence, shapes, options
//! and quantization structure as the reference `.tflite` files, and seeded pseudo-random
//! weights. No file needed: `tinyaccel run kws`.

use crate::builder::GraphBuilder;
use crate::graph::{Activation::*, Graph, Padding::*};

/// Names accepted by [`builtin`].
pub const BUILTIN_NAMES: &[&str] = &["kws", "vww", "ic", "ad"];

/// One-line description of a built-in model.
pub fn builtin_description(name: &str) -> Option<&'static str> {
    Some(match name {
        "kws" => "keyword spotting: DS-CNN, 12 classes (MLPerf Tiny KWS)",
        "vww" => "visual wake words: MobileNetV1 0.25, 96x96 RGB (MLPerf Tiny VWW)",
        "ic" => "image classification: ResNet-8, CIFAR-10 32x32 (MLPerf Tiny IC)",
        "ad" => "anomaly detection: FC autoencoder, 640 inputs (MLPerf Tiny AD)",
        _ => return Option::None,
    })
}

/// A built-in model by name, `None` for an unknown name.
pub fn builtin(name: &str) -> Option<Graph> {
    let desc = builtin_description(name)?;
    Some(match name {
        "kws" => kws(desc),
        "vww" => vww(desc),
        "ic" => ic(desc),
        _ => ad(desc),
    })
}

fn kws(desc: &str) -> Graph {
    let mut b = GraphBuilder::new("kws", desc, 0x6b77_7301);
    let x = b.input(&[1, 49, 10, 1], 0.5847, 83);
    let mut h = b.conv(x, 64, 10, 4, 2, Same, Relu);
    for _ in 0..4 {
        h = b.depthwise(h, 3, 3, 1, Same, Relu);
        h = b.conv(h, 64, 1, 1, 1, Same, Relu);
    }
    let p = b.avg_pool_hw(h, 25, 5, Valid);
    let r = b.reshape(p, &[1, 64]);
    let f = b.classifier(r, 12);
    let y = b.softmax(f, 1.0);
    b.finish(&[y])
}

fn vww(desc: &str) -> Graph {
    let mut b = GraphBuilder::new("vww", desc, 0x7677_7702);
    let x = b.input(&[1, 96, 96, 3], 1.0 / 255.0, -128);
    let mut h = b.conv(x, 8, 3, 3, 2, Same, Relu);
    let blocks: [(usize, usize); 13] = [
        (1, 16),
        (2, 32),
        (1, 32),
        (2, 64),
        (1, 64),
        (2, 128),
        (1, 128),
        (1, 128),
        (1, 128),
        (1, 128),
        (1, 128),
        (2, 256),
        (1, 256),
    ];
    for (stride, ch) in blocks {
        h = b.depthwise(h, 3, 3, stride, Same, Relu);
        h = b.conv(h, ch, 1, 1, 1, Same, Relu);
    }
    let p = b.avg_pool(h, 3, 3, 3, Valid);
    let r = b.reshape(p, &[1, 256]);
    let f = b.classifier(r, 2);
    let y = b.softmax(f, 1.0);
    b.finish(&[y])
}

fn ic(desc: &str) -> Graph {
    let mut b = GraphBuilder::new("ic", desc, 0x6963_0003);
    let x = b.input(&[1, 32, 32, 3], 1.0, -128);
    let stem = b.conv(x, 16, 3, 3, 1, Same, Relu);
    // Block 1: identity shortcut.
    let h = b.conv(stem, 16, 3, 3, 1, Same, Relu);
    let h = b.conv(h, 16, 3, 3, 1, Same, None);
    let mut y = b.add(stem, h, Relu);
    // Blocks 2 and 3: strided, with a 1x1 strided conv on the shortcut.
    for ch in [32, 64] {
        let h = b.conv(y, ch, 3, 3, 2, Same, Relu);
        let h = b.conv(h, ch, 3, 3, 1, Same, None);
        let s = b.conv(y, ch, 1, 1, 2, Same, None);
        y = b.add(h, s, Relu);
    }
    let p = b.avg_pool(y, 8, 8, 8, Valid);
    let r = b.reshape(p, &[1, 64]);
    let f = b.classifier(r, 10);
    let out = b.softmax(f, 1.0);
    b.finish(&[out])
}

fn ad(desc: &str) -> Graph {
    let mut b = GraphBuilder::new("ad", desc, 0x6164_0004);
    let mut h = b.input(&[1, 640], 0.391, 89);
    for units in [128, 128, 128, 128, 8, 128, 128, 128, 128] {
        h = b.fully_connected(h, units, Relu);
    }
    let y = b.fully_connected(h, 640, None);
    b.finish(&[y])
}
