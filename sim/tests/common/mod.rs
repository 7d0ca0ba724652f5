//! Helpers shared by the sim integration tests: random numbers, random convolution
//! geometries and their explicit im2col matrices.
#![allow(dead_code)]

use arch::im2col::Window;
use arch::isa::{ConvGeom, LoadIm2col};
use arch::{AccelConfig, Dataflow};

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

pub fn cfg(df: Dataflow, outstanding: u32, bus: u32, latency: u32) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.dataflow = df;
    c.im2col = true;
    c.dma_outstanding = outstanding;
    c.bus_bytes_per_cycle = bus;
    c.bus_latency_cycles = latency;
    c.name = "im2col-test".into();
    c.validate().unwrap();
    c
}

/// A convolution geometry and its output size.
#[derive(Debug, Clone, Copy)]
pub struct Conv {
    pub g: ConvGeom,
    pub out_h: u64,
}

impl Conv {
    pub fn random(r: &mut Rng, image_addr: u32) -> Self {
        loop {
            let kh = r.range(1, 5) as u8;
            let kw = r.range(1, 5) as u8;
            let sh = r.range(1, 3) as u8;
            let sw = r.range(1, 3) as u8;
            let dh = r.range(1, 2) as u8;
            let dw = r.range(1, 3) as u8;
            let in_h = r.range(1, 12) as u16;
            let in_w = r.range(1, 12) as u16;
            let in_c = *[1u16, 2, 3, 5, 8, 16].get(r.range(0, 5) as usize).unwrap();
            let pad_t = r.range(0, 3) as u8;
            let pad_l = r.range(0, 3) as u8;
            let pad_b = r.range(0, 3) as i64;
            let pad_r = r.range(0, 3) as i64;
            let eh = (kh as i64 - 1) * dh as i64 + 1;
            let ew = (kw as i64 - 1) * dw as i64 + 1;
            let span_h = in_h as i64 + pad_t as i64 + pad_b - eh;
            let span_w = in_w as i64 + pad_l as i64 + pad_r - ew;
            if span_h < 0 || span_w < 0 {
                continue;
            }
            let out_h = span_h / sh as i64 + 1;
            let out_w = span_w / sw as i64 + 1;
            return Conv {
                g: ConvGeom {
                    mem_addr: image_addr,
                    in_h,
                    in_w,
                    in_c,
                    out_w: out_w as u16,
                    kh,
                    kw,
                    sh,
                    sw,
                    dh,
                    dw,
                    pad_t,
                    pad_l,
                },
                out_h: out_h as u64,
            };
        }
    }

    pub fn m(&self) -> u64 {
        self.out_h * self.g.out_w as u64
    }

    pub fn k(&self) -> u64 {
        self.g.kh as u64 * self.g.kw as u64 * self.g.in_c as u64
    }

    /// The explicit im2col matrix (`M x K`, row-major), from the definition.
    pub fn matrix(&self, image: &[u8], pad: i8) -> Vec<i8> {
        let g = &self.g;
        let mut a = Vec::with_capacity((self.m() * self.k()) as usize);
        for oy in 0..self.out_h as i64 {
            for ox in 0..g.out_w as i64 {
                for ky in 0..g.kh as i64 {
                    for kx in 0..g.kw as i64 {
                        for ic in 0..g.in_c as i64 {
                            let y = oy * g.sh as i64 + ky * g.dh as i64 - g.pad_t as i64;
                            let x = ox * g.sw as i64 + kx * g.dw as i64 - g.pad_l as i64;
                            let inside =
                                (0..g.in_h as i64).contains(&y) && (0..g.in_w as i64).contains(&x);
                            a.push(if inside {
                                image[((y * g.in_w as i64 + x) * g.in_c as i64 + ic) as usize] as i8
                            } else {
                                pad
                            });
                        }
                    }
                }
            }
        }
        a
    }

    /// The `LOAD_IM2COL` of rows `m0..m0+nrows`, columns `k0..k0+ncols` of the matrix.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        &self,
        m0: u64,
        k0: u64,
        nrows: u64,
        ncols: u64,
        t: bool,
        line: u32,
        pad: i8,
    ) -> LoadIm2col {
        let w = Window::of(&self.g);
        let (oy0, ox0) = w.origin(m0);
        let (ky0, kx0, ic0) = w.tap_origin(k0);
        LoadIm2col {
            transpose: t,
            sp_line: line,
            oy0: oy0 as u16,
            ox0: ox0 as u16,
            ky0: ky0 as u8,
            kx0: kx0 as u8,
            ic0: ic0 as u16,
            nrows: nrows as u16,
            ncols: ncols as u16,
            pad_value: pad,
        }
    }
}
