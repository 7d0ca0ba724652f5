//! The hardware im2col unit (`CONV_GEOM` / `LOAD_IM2COL`, `docs/architecture.md`
//! section 6): the implicit im2col matrix of a convolution window, element by element
//! ([`Window::element`]) and as the address generator walks it, piece by piece
//! ([`pieces`], [`summary`]).
//!
//! The implicit matrix `A` of a [`Window`] has `M = out_h * out_w` rows (output positions,
//! row-major over `out_w`) and `K = kh * kw * in_c` columns (taps, in `(ky, kx, ic)`
//! order): exactly the CPU im2col of the driver. Element `(r, c)` of a [`LoadIm2col`]:
//!
//! - position `t = ox0 + r`, `ox = t % out_w`, `oy = oy0 + t / out_w`;
//! - tap `u = (ky0 * kw + kx0) * in_c + ic0 + c`, `ky = u / (kw * in_c)`,
//!   `kx = (u / in_c) % kw`, `ic = u % in_c`;
//! - `y = oy * sh + ky * dh - pad_t`, `x = ox * sw + kx * dw - pad_l`;
//! - the image byte at offset `(y * in_w + x) * in_c + ic` from `mem_addr` when
//!   `0 <= y < in_h` and `0 <= x < in_w`, else the pad value.
//!
//! A *piece* is a run of consecutive columns of one row that the address generator
//! handles as a unit: a new piece starts at `c = 0`, whenever `ky` changes, whenever `kx`
//! changes if `dw > 1`, and whenever in-bounds-ness changes. A bus piece (all taps in
//! bounds) has consecutive addresses and is one bus burst; a pad piece (all taps outside)
//! has no bus access.

use crate::isa::{ConvGeom, LoadIm2col};

/// The window registers set by `CONV_GEOM` (a [`ConvGeom`] without its `mem_addr`), as
/// natural values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub in_h: u32,
    pub in_w: u32,
    pub in_c: u32,
    pub out_w: u32,
    pub kh: u32,
    pub kw: u32,
    pub sh: u32,
    pub sw: u32,
    pub dh: u32,
    pub dw: u32,
    pub pad_t: u32,
    pub pad_l: u32,
}

/// One piece of a `LOAD_IM2COL`: `len` consecutive columns `col..col + len` of row `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Piece {
    /// The row `r` of the tile.
    pub row: u64,
    /// The first column `c`.
    pub col: u64,
    /// Columns (bytes) in the piece, >= 1.
    pub len: u64,
    /// Byte offset of the first tap from `mem_addr` (the following taps are consecutive
    /// bytes); `None` for a pad piece.
    pub src: Option<u64>,
}

impl Piece {
    /// A bus piece (one bus burst of `len` bytes).
    pub fn is_bus(&self) -> bool {
        self.src.is_some()
    }
}

/// Counts of the pieces of a `LOAD_IM2COL` ([`summary`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PieceSummary {
    /// All pieces (bus + pad).
    pub pieces: u64,
    /// Bus pieces (bursts).
    pub bus_pieces: u64,
    /// Bytes read over the bus (sum of the bus pieces' lengths).
    pub bus_bytes: u64,
    /// Bytes written with the pad value.
    pub pad_bytes: u64,
}

impl Window {
    /// The window of a `CONV_GEOM`.
    pub fn of(g: &ConvGeom) -> Self {
        Window {
            in_h: g.in_h as u32,
            in_w: g.in_w as u32,
            in_c: g.in_c as u32,
            out_w: g.out_w as u32,
            kh: g.kh as u32,
            kw: g.kw as u32,
            sh: g.sh as u32,
            sw: g.sw as u32,
            dh: g.dh as u32,
            dw: g.dw as u32,
            pad_t: g.pad_t as u32,
            pad_l: g.pad_l as u32,
        }
    }

    /// The `CONV_GEOM` of this window with the image at `mem_addr` (the inverse of
    /// [`Window::of`]; the window must fit the command's fields, which
    /// `Command::check` verifies).
    pub fn geom(&self, mem_addr: u32) -> ConvGeom {
        ConvGeom {
            mem_addr,
            in_h: self.in_h as u16,
            in_w: self.in_w as u16,
            in_c: self.in_c as u16,
            out_w: self.out_w as u16,
            kh: self.kh as u8,
            kw: self.kw as u8,
            sh: self.sh as u8,
            sw: self.sw as u8,
            dh: self.dh as u8,
            dw: self.dw as u8,
            pad_t: self.pad_t as u8,
            pad_l: self.pad_l as u8,
        }
    }

    /// `K = kh * kw * in_c`: the columns of the implicit matrix.
    pub fn patch_len(&self) -> u64 {
        self.kh as u64 * self.kw as u64 * self.in_c as u64
    }

    /// Bytes of the image (`in_h * in_w * in_c`).
    pub fn image_bytes(&self) -> u64 {
        self.in_h as u64 * self.in_w as u64 * self.in_c as u64
    }

    /// Input row `y` and column `x` of output position `(oy, ox)`, tap `(ky, kx)` (signed:
    /// negative or beyond the image when the tap falls in the padding).
    fn yx(&self, oy: u64, ox: u64, ky: u64, kx: u64) -> (i64, i64) {
        let y = (oy * self.sh as u64 + ky * self.dh as u64) as i64 - self.pad_t as i64;
        let x = (ox * self.sw as u64 + kx * self.dw as u64) as i64 - self.pad_l as i64;
        (y, x)
    }

    fn inside(&self, y: i64, x: i64) -> bool {
        (0..self.in_h as i64).contains(&y) && (0..self.in_w as i64).contains(&x)
    }

    /// Byte offset from `mem_addr` of the image byte that output position `(oy, ox)` reads
    /// at tap `(ky, kx, ic)`, or `None` when the tap falls in the padding.
    pub fn source(&self, oy: u64, ox: u64, ky: u64, kx: u64, ic: u64) -> Option<u64> {
        let (y, x) = self.yx(oy, ox, ky, kx);
        self.inside(y, x)
            .then(|| (y as u64 * self.in_w as u64 + x as u64) * self.in_c as u64 + ic)
    }

    /// Output position `(oy, ox)` of row `r` of `l`.
    pub fn position(&self, l: &LoadIm2col, r: u64) -> (u64, u64) {
        let out_w = self.out_w.max(1) as u64;
        let t = l.ox0 as u64 + r;
        (l.oy0 as u64 + t / out_w, t % out_w)
    }

    /// The first tap index `u0 = (ky0 * kw + kx0) * in_c + ic0` of `l`.
    pub fn first_tap(&self, l: &LoadIm2col) -> u64 {
        (l.ky0 as u64 * self.kw as u64 + l.kx0 as u64) * self.in_c as u64 + l.ic0 as u64
    }

    /// Tap `(ky, kx, ic)` of column index `u` of the implicit matrix.
    pub fn tap(&self, u: u64) -> (u64, u64, u64) {
        let c = self.in_c.max(1) as u64;
        let kw = self.kw.max(1) as u64;
        (u / (kw * c), (u / c) % kw, u % c)
    }

    /// Element `(r, c)` of the tile of `l`: the byte offset from `mem_addr`, or `None` for
    /// the pad value.
    pub fn element(&self, l: &LoadIm2col, r: u64, c: u64) -> Option<u64> {
        let (oy, ox) = self.position(l, r);
        let (ky, kx, ic) = self.tap(self.first_tap(l) + c);
        self.source(oy, ox, ky, kx, ic)
    }

    /// `(oy0, ox0)` of the tile whose first row is row `m0` of the implicit matrix.
    pub fn origin(&self, m0: u64) -> (u64, u64) {
        let out_w = self.out_w.max(1) as u64;
        (m0 / out_w, m0 % out_w)
    }

    /// `(ky0, kx0, ic0)` of the tile whose first column is column `k0` of the implicit
    /// matrix.
    pub fn tap_origin(&self, k0: u64) -> (u64, u64, u64) {
        self.tap(k0)
    }

    /// The end (exclusive column index `u`) of the piece that starts at column index `u`
    /// of row position `(oy, ox)`, capped at `u_end`, and its source (`None` = pad).
    fn piece_at(&self, oy: u64, ox: u64, u: u64, u_end: u64) -> (u64, Option<u64>) {
        let c = self.in_c.max(1) as u64;
        let kw = self.kw.max(1) as u64;
        let (ky, kx, ic) = self.tap(u);
        // The piece never crosses a kernel row, nor a kernel column when dw > 1.
        let mut end = (ky + 1) * kw * c;
        if self.dw > 1 {
            end = end.min((u / c + 1) * c);
        }
        let (y, x) = self.yx(oy, ox, ky, kx);
        let src = if self.inside(y, x) {
            Some((y as u64 * self.in_w as u64 + x as u64) * c + ic)
        } else {
            None
        };
        if self.dw <= 1 && (0..self.in_h as i64).contains(&y) {
            // dw = 1: x grows by one per kernel column; in-bounds-ness changes where x
            // crosses 0 (entering) or in_w (leaving).
            let row_start = ky * kw;
            let kx_at = |x_target: i64| -> u64 {
                // kernel column with x == x_target: kx = x_target - (x - kx).
                (x_target - (x - kx as i64)) as u64
            };
            if x < 0 {
                end = end.min((row_start + kx_at(0)) * c);
            } else if x < self.in_w as i64 {
                end = end.min((row_start + kx_at(self.in_w as i64)) * c);
            }
        }
        (end.min(u_end), src)
    }
}

/// Input-scratchpad `(line, lane)` of element `(r, c)` of `l` for line width `w`
/// (`rows`): a LOAD's placement of memory element `(r, c)` — non-transposed line
/// `sp_line + (c / w) * nrows + r`, lane `c % w`; transposed line
/// `sp_line + (r / w) * ncols + c`, lane `r % w`.
pub fn placement(l: &LoadIm2col, w: u64, r: u64, c: u64) -> (u64, u64) {
    let w = w.max(1);
    if l.transpose {
        (l.sp_line as u64 + (r / w) * l.ncols as u64 + c, r % w)
    } else {
        (l.sp_line as u64 + (c / w) * l.nrows as u64 + r, c % w)
    }
}

/// The pieces of `l` on window `w`, in order (row by row, columns ascending).
pub fn pieces<'a>(w: &'a Window, l: &'a LoadIm2col) -> impl Iterator<Item = Piece> + 'a {
    let u0 = w.first_tap(l);
    let ncols = l.ncols as u64;
    (0..l.nrows as u64).flat_map(move |r| {
        let (oy, ox) = w.position(l, r);
        let mut u = u0;
        let u_end = u0 + ncols;
        std::iter::from_fn(move || {
            if u >= u_end {
                return None;
            }
            let (end, src) = w.piece_at(oy, ox, u, u_end);
            let p = Piece {
                row: r,
                col: u - u0,
                len: end - u,
                src,
            };
            u = end;
            Some(p)
        })
    })
}

/// The counts of [`pieces`] (one walk over the pieces, no per-element work).
pub fn summary(w: &Window, l: &LoadIm2col) -> PieceSummary {
    pieces(w, l).fold(PieceSummary::default(), |mut s, p| {
        s.pieces += 1;
        if p.is_bus() {
            s.bus_pieces += 1;
            s.bus_bytes += p.len;
        } else {
            s.pad_bytes += p.len;
        }
        s
    })
}
