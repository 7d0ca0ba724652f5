//! A small reader for NumPy `.npz` files (a ZIP archive of `.npy` arrays, stored or
//! deflated), enough to compare a run's tensors with golden intermediates. Includes a
//! minimal DEFLATE decoder (RFC 1951). Every read is bounds-checked.

use std::collections::BTreeMap;

/// A decoded `.npy` array: dtype descriptor (e.g. `|i1`, `<f4`), shape, raw bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// Why an `.npz`/`.npy` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct NpzError {
    pub what: String,
}

fn err<T>(what: impl Into<String>) -> Result<T, NpzError> {
    Err(NpzError { what: what.into() })
}

fn get<'a>(b: &'a [u8], at: usize, len: usize, what: &str) -> Result<&'a [u8], NpzError> {
    match at.checked_add(len).and_then(|e| b.get(at..e)) {
        Some(s) => Ok(s),
        None => err(format!(
            "{what}: read of {len} bytes at {at} past the end ({} bytes)",
            b.len()
        )),
    }
}

fn u16le(b: &[u8], at: usize, what: &str) -> Result<usize, NpzError> {
    let s = get(b, at, 2, what)?;
    Ok(u16::from_le_bytes([s[0], s[1]]) as usize)
}

fn u32le(b: &[u8], at: usize, what: &str) -> Result<usize, NpzError> {
    let s = get(b, at, 4, what)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// Most bytes the members of one `.npz` archive may decompress to, all together: 256 MiB
/// (the golden archives hold under 1 MB). Checked against the headers' sizes before any
/// member is decompressed, so a "zip bomb" is refused without allocating.
pub const MAX_NPZ_UNCOMPRESSED_BYTES: u64 = 256 << 20;

/// Reads every member of an `.npz` archive, keyed by name without the `.npy` suffix.
pub fn read_npz(bytes: &[u8]) -> Result<BTreeMap<String, NpyArray>, NpzError> {
    // End of central directory: search backwards for its signature.
    let eocd = (0..bytes.len().saturating_sub(21))
        .rev()
        .take(65_557)
        .find(|&i| bytes[i..].starts_with(&[0x50, 0x4b, 0x05, 0x06]))
        .ok_or_else(|| NpzError {
            what: "not a ZIP file (no end-of-central-directory record)".into(),
        })?;
    let entries = u16le(bytes, eocd + 10, "EOCD entry count")?;
    let mut at = u32le(bytes, eocd + 16, "EOCD directory offset")?;
    // First pass over the central directory: the claimed sizes, before decompressing.
    let mut total: u64 = 0;
    let mut p = at;
    for _ in 0..entries {
        if get(bytes, p, 4, "central directory")? != [0x50, 0x4b, 0x01, 0x02] {
            return err(format!("bad central directory signature at {p}"));
        }
        total += u32le(bytes, p + 24, "uncompressed size")? as u64;
        let nlen = u16le(bytes, p + 28, "name length")?;
        if total > MAX_NPZ_UNCOMPRESSED_BYTES {
            let name = String::from_utf8_lossy(get(bytes, p + 46, nlen, "name")?).into_owned();
            return err(format!(
                "{name}: the members decompress to more than {MAX_NPZ_UNCOMPRESSED_BYTES} bytes (MAX_NPZ_UNCOMPRESSED_BYTES)"
            ));
        }
        p += 46
            + nlen
            + u16le(bytes, p + 30, "extra length")?
            + u16le(bytes, p + 32, "comment length")?;
    }
    let mut out = BTreeMap::new();
    for _ in 0..entries {
        if get(bytes, at, 4, "central directory")? != [0x50, 0x4b, 0x01, 0x02] {
            return err(format!("bad central directory signature at {at}"));
        }
        let method = u16le(bytes, at + 10, "method")?;
        let csize = u32le(bytes, at + 20, "compressed size")?;
        let usize_ = u32le(bytes, at + 24, "uncompressed size")?;
        let nlen = u16le(bytes, at + 28, "name length")?;
        let xlen = u16le(bytes, at + 30, "extra length")?;
        let clen = u16le(bytes, at + 32, "comment length")?;
        let local = u32le(bytes, at + 42, "local header offset")?;
        let name = String::from_utf8_lossy(get(bytes, at + 46, nlen, "name")?).into_owned();
        at += 46 + nlen + xlen + clen;
        if get(bytes, local, 4, "local header")? != [0x50, 0x4b, 0x03, 0x04] {
            return err(format!("{name}: bad local header signature at {local}"));
        }
        let lnlen = u16le(bytes, local + 26, "local name length")?;
        let lxlen = u16le(bytes, local + 28, "local extra length")?;
        let data = get(bytes, local + 30 + lnlen + lxlen, csize, &name)?;
        let raw = match method {
            0 => data.to_vec(),
            8 => inflate(data, usize_).map_err(|e| NpzError {
                what: format!("{name}: {}", e.what),
            })?,
            m => return err(format!("{name}: compression method {m} not supported")),
        };
        if raw.len() != usize_ {
            return err(format!(
                "{name}: {} bytes after decompression, header says {usize_}",
                raw.len()
            ));
        }
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let arr = read_npy(&raw).map_err(|e| NpzError {
            what: format!("{name}: {}", e.what),
        })?;
        out.insert(key, arr);
    }
    Ok(out)
}

/// Parses one `.npy` file (versions 1-3, C order).
pub fn read_npy(b: &[u8]) -> Result<NpyArray, NpzError> {
    if !b.starts_with(b"\x93NUMPY") {
        return err("not an .npy file (bad magic)");
    }
    let major = get(b, 6, 1, "version")?[0];
    let (hlen, start) = if major == 1 {
        (u16le(b, 8, "header length")?, 10)
    } else {
        (u32le(b, 8, "header length")?, 12)
    };
    let header = String::from_utf8_lossy(get(b, start, hlen, "header")?).into_owned();
    let field = |key: &str| -> Option<String> {
        let i = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[i..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest.to_string())
    };
    let descr = field("descr")
        .and_then(|r| {
            r.strip_prefix('\'')
                .and_then(|r| r.split('\'').next().map(str::to_string))
        })
        .ok_or_else(|| NpzError {
            what: format!("no descr in header {header:?}"),
        })?;
    if field("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return err("Fortran-order arrays are not supported");
    }
    let shape_s = field("shape").ok_or_else(|| NpzError {
        what: format!("no shape in header {header:?}"),
    })?;
    let inner = shape_s
        .strip_prefix('(')
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| NpzError {
            what: format!("bad shape in header {header:?}"),
        })?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| NpzError {
            what: format!("bad shape {inner:?}: {e}"),
        })?;
    let elem = descr
        .get(2..)
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1);
    let n: usize = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpzError {
            what: "shape overflow".into(),
        })?;
    let len = n.checked_mul(elem).ok_or_else(|| NpzError {
        what: "size overflow".into(),
    })?;
    let data = get(b, start + hlen, len, "array data")?.to_vec();
    Ok(NpyArray { descr, shape, data })
}

/// Bit reader over a DEFLATE stream (least significant bit first).
struct Bits<'a> {
    b: &'a [u8],
    pos: usize,
    bit: u32,
    nbits: u32,
}

impl Bits<'_> {
    fn need(&mut self, n: u32) -> Result<(), NpzError> {
        while self.nbits < n {
            let byte = *self.b.get(self.pos).ok_or_else(|| NpzError {
                what: "deflate stream truncated".into(),
            })?;
            self.pos += 1;
            self.bit |= (byte as u32) << self.nbits;
            self.nbits += 8;
        }
        Ok(())
    }

    fn take(&mut self, n: u32) -> Result<u32, NpzError> {
        if n == 0 {
            return Ok(0);
        }
        self.need(n)?;
        let v = self.bit & ((1u32 << n) - 1);
        self.bit >>= n;
        self.nbits -= n;
        Ok(v)
    }

    fn align_byte(&mut self) {
        self.bit = 0;
        self.nbits = 0;
    }
}

/// A canonical Huffman code: counts per length and symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Self, NpzError> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[l as usize] += 1;
        }
        counts[0] = 0;
        let mut offs = [0u16; 16];
        for i in 1..16 {
            offs[i] = offs[i - 1] + counts[i - 1];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[offs[l as usize] as usize] = s as u16;
                offs[l as usize] += 1;
            }
        }
        Ok(Huffman { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits) -> Result<u16, NpzError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.take(1)? as i32;
            let count = self.counts[len] as i32;
            if code - first < count {
                return self
                    .symbols
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or_else(|| NpzError {
                        what: "bad Huffman code".into(),
                    });
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        err("invalid Huffman code")
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Decompresses a raw DEFLATE stream; `limit` bounds the output size.
pub fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>, NpzError> {
    let mut bits = Bits {
        b: data,
        pos: 0,
        bit: 0,
        nbits: 0,
    };
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(1 << 26));
    loop {
        let last = bits.take(1)?;
        let kind = bits.take(2)?;
        match kind {
            0 => {
                bits.align_byte();
                let hdr = get(data, bits.pos, 4, "stored block header")?;
                let len = u16::from_le_bytes([hdr[0], hdr[1]]) as usize;
                bits.pos += 4;
                out.extend_from_slice(get(data, bits.pos, len, "stored block")?);
                bits.pos += len;
            }
            1 | 2 => {
                let (lit, dist) = if kind == 1 {
                    let mut l = [0u8; 288];
                    l[..144].fill(8);
                    l[144..256].fill(9);
                    l[256..280].fill(7);
                    l[280..].fill(8);
                    (Huffman::new(&l)?, Huffman::new(&[5u8; 30])?)
                } else {
                    let hlit = bits.take(5)? as usize + 257;
                    let hdist = bits.take(5)? as usize + 1;
                    let hclen = bits.take(4)? as usize + 4;
                    const ORDER: [usize; 19] = [
                        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                    ];
                    let mut cl = [0u8; 19];
                    for &o in ORDER.iter().take(hclen) {
                        cl[o] = bits.take(3)? as u8;
                    }
                    let clh = Huffman::new(&cl)?;
                    let mut lens = Vec::with_capacity(hlit + hdist);
                    while lens.len() < hlit + hdist {
                        let sym = clh.decode(&mut bits)?;
                        match sym {
                            0..=15 => lens.push(sym as u8),
                            16 => {
                                let prev = *lens.last().ok_or_else(|| NpzError {
                                    what: "repeat with no previous length".into(),
                                })?;
                                for _ in 0..3 + bits.take(2)? {
                                    lens.push(prev);
                                }
                            }
                            17 => lens.extend(std::iter::repeat_n(0, 3 + bits.take(3)? as usize)),
                            _ => lens.extend(std::iter::repeat_n(0, 11 + bits.take(7)? as usize)),
                        }
                    }
                    if lens.len() > hlit + hdist {
                        return err("code lengths overrun");
                    }
                    (Huffman::new(&lens[..hlit])?, Huffman::new(&lens[hlit..])?)
                };
                loop {
                    let sym = lit.decode(&mut bits)? as usize;
                    if sym < 256 {
                        out.push(sym as u8);
                    } else if sym == 256 {
                        break;
                    } else {
                        let i = sym - 257;
                        if i >= 29 {
                            return err("bad length symbol");
                        }
                        let len = LEN_BASE[i] as usize + bits.take(LEN_EXTRA[i] as u32)? as usize;
                        let d = dist.decode(&mut bits)? as usize;
                        if d >= 30 {
                            return err("bad distance symbol");
                        }
                        let distance =
                            DIST_BASE[d] as usize + bits.take(DIST_EXTRA[d] as u32)? as usize;
                        if distance > out.len() {
                            return err("distance past the start of the output");
                        }
                        let start = out.len() - distance;
                        for k in 0..len {
                            out.push(out[start + k]);
                        }
                    }
                    if out.len() > limit {
                        return err("output larger than declared");
                    }
                }
            }
            _ => return err("reserved block type 3"),
        }
        if out.len() > limit {
            return err("output larger than declared");
        }
        if last == 1 {
            return Ok(out);
        }
    }
}
