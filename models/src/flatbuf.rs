//! A minimal, bounds-checked FlatBuffers reader: just what the `.tflite` importer needs
//! (tables, scalars, vectors of scalars/tables, strings). Every access checks the buffer
//! bounds and reports the table, field and byte offset of a bad read.

use crate::ImportError;

/// Where a read happened, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Loc {
    pub table: &'static str,
    pub field: &'static str,
}

/// The raw bytes of a FlatBuffers file.
#[derive(Clone, Copy)]
pub struct Buf<'a> {
    pub bytes: &'a [u8],
}

impl<'a> Buf<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Buf { bytes }
    }

    pub fn err(&self, loc: Loc, offset: usize, reason: impl Into<String>) -> ImportError {
        ImportError::Malformed {
            table: loc.table,
            field: loc.field,
            offset,
            reason: reason.into(),
        }
    }

    fn slice(&self, loc: Loc, offset: usize, len: usize) -> Result<&'a [u8], ImportError> {
        let end = offset
            .checked_add(len)
            .ok_or_else(|| self.err(loc, offset, "offset overflow"))?;
        self.bytes.get(offset..end).ok_or_else(|| {
            self.err(
                loc,
                offset,
                format!(
                    "read of {len} bytes past the end of the file ({} bytes)",
                    self.bytes.len()
                ),
            )
        })
    }

    pub fn u16_at(&self, loc: Loc, offset: usize) -> Result<u16, ImportError> {
        let s = self.slice(loc, offset, 2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    pub fn u32_at(&self, loc: Loc, offset: usize) -> Result<u32, ImportError> {
        let s = self.slice(loc, offset, 4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub fn u64_at(&self, loc: Loc, offset: usize) -> Result<u64, ImportError> {
        let s = self.slice(loc, offset, 8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }

    /// Follows a `uoffset_t` stored at `at` (relative to `at`).
    fn follow(&self, loc: Loc, at: usize) -> Result<usize, ImportError> {
        let rel = self.u32_at(loc, at)? as usize;
        let target = at
            .checked_add(rel)
            .ok_or_else(|| self.err(loc, at, "offset overflow"))?;
        if target >= self.bytes.len() {
            return Err(self.err(
                loc,
                at,
                format!(
                    "offset points to {target}, past the end of the file ({} bytes)",
                    self.bytes.len()
                ),
            ));
        }
        Ok(target)
    }

    /// The table whose position is stored as a `uoffset_t` at `at`.
    pub fn table_at(
        &self,
        table: &'static str,
        field: &'static str,
        at: usize,
    ) -> Result<Table<'a>, ImportError> {
        let loc = Loc { table, field };
        let pos = self.follow(loc, at)?;
        Table::new(*self, table, pos)
    }

    /// The root table of the file.
    pub fn root(&self, table: &'static str) -> Result<Table<'a>, ImportError> {
        if self.bytes.len() < 8 {
            return Err(self.err(
                Loc {
                    table,
                    field: "root",
                },
                0,
                format!(
                    "file is {} bytes, too short for a FlatBuffer",
                    self.bytes.len()
                ),
            ));
        }
        self.table_at(table, "root", 0)
    }
}

/// A table: its position and vtable.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: Buf<'a>,
    pub name: &'static str,
    pub pos: usize,
    vt: usize,
    vt_len: usize,
    table_len: usize,
}

/// A vector: position of its first element and element count.
#[derive(Debug, Clone, Copy)]
pub struct Vector {
    pub start: usize,
    pub len: usize,
    pub loc: Loc,
}

impl<'a> Table<'a> {
    fn new(buf: Buf<'a>, name: &'static str, pos: usize) -> Result<Self, ImportError> {
        let loc = Loc {
            table: name,
            field: "vtable",
        };
        let soff = buf.u32_at(loc, pos)? as i32 as i64;
        let vt = pos as i64 - soff;
        if vt < 0 || vt as usize >= buf.bytes.len() {
            return Err(buf.err(
                loc,
                pos,
                format!("vtable offset {soff} points outside the file"),
            ));
        }
        let vt = vt as usize;
        let vt_len = buf.u16_at(loc, vt)? as usize;
        let table_len = buf.u16_at(loc, vt + 2)? as usize;
        if vt_len < 4 || vt_len & 1 != 0 {
            return Err(buf.err(loc, vt, format!("bad vtable size {vt_len}")));
        }
        buf.slice(loc, vt, vt_len)?;
        buf.slice(loc, pos, table_len.max(4))?;
        Ok(Table {
            buf,
            name,
            pos,
            vt,
            vt_len,
            table_len,
        })
    }

    pub fn loc(&self, field: &'static str) -> Loc {
        Loc {
            table: self.name,
            field,
        }
    }

    /// Absolute position of field `idx`, `None` if absent.
    fn field(
        &self,
        idx: usize,
        field: &'static str,
        size: usize,
    ) -> Result<Option<usize>, ImportError> {
        let slot = 4 + 2 * idx;
        if slot + 2 > self.vt_len {
            return Ok(None);
        }
        let off = self.buf.u16_at(self.loc(field), self.vt + slot)? as usize;
        if off == 0 {
            return Ok(None);
        }
        if off + size > self.table_len {
            return Err(self.buf.err(
                self.loc(field),
                self.pos + off,
                format!(
                    "field at table offset {off} overruns the table ({} bytes)",
                    self.table_len
                ),
            ));
        }
        let at = self.pos + off;
        self.buf.slice(self.loc(field), at, size)?;
        Ok(Some(at))
    }

    pub fn u8(&self, idx: usize, field: &'static str, default: u8) -> Result<u8, ImportError> {
        Ok(match self.field(idx, field, 1)? {
            Some(at) => self.buf.bytes[at],
            None => default,
        })
    }

    pub fn i8(&self, idx: usize, field: &'static str, default: i8) -> Result<i8, ImportError> {
        Ok(self.u8(idx, field, default as u8)? as i8)
    }

    pub fn u32(&self, idx: usize, field: &'static str, default: u32) -> Result<u32, ImportError> {
        match self.field(idx, field, 4)? {
            Some(at) => self.buf.u32_at(self.loc(field), at),
            None => Ok(default),
        }
    }

    pub fn i32(&self, idx: usize, field: &'static str, default: i32) -> Result<i32, ImportError> {
        Ok(self.u32(idx, field, default as u32)? as i32)
    }

    pub fn u64(&self, idx: usize, field: &'static str, default: u64) -> Result<u64, ImportError> {
        match self.field(idx, field, 8)? {
            Some(at) => self.buf.u64_at(self.loc(field), at),
            None => Ok(default),
        }
    }

    pub fn f32(&self, idx: usize, field: &'static str, default: f32) -> Result<f32, ImportError> {
        Ok(f32::from_bits(self.u32(idx, field, default.to_bits())?))
    }

    /// A sub-table, `None` if absent.
    pub fn table(
        &self,
        idx: usize,
        field: &'static str,
        table: &'static str,
    ) -> Result<Option<Table<'a>>, ImportError> {
        match self.field(idx, field, 4)? {
            Some(at) => Ok(Some(self.buf.table_at(table, field, at)?)),
            None => Ok(None),
        }
    }

    /// A vector of `elem_size`-byte elements, `None` if absent. Checks the whole vector
    /// lies in the file before returning.
    pub fn vector(
        &self,
        idx: usize,
        field: &'static str,
        elem_size: usize,
    ) -> Result<Option<Vector>, ImportError> {
        let Some(at) = self.field(idx, field, 4)? else {
            return Ok(None);
        };
        let loc = self.loc(field);
        let vpos = self.buf.follow(loc, at)?;
        let len = self.buf.u32_at(loc, vpos)? as usize;
        let start = vpos + 4;
        let bytes = len
            .checked_mul(elem_size)
            .ok_or_else(|| self.buf.err(loc, vpos, "vector length overflow"))?;
        if bytes > self.buf.bytes.len().saturating_sub(start) {
            return Err(self.buf.err(
                loc,
                vpos,
                format!(
                    "vector of {len} elements x {elem_size} bytes overruns the file ({} bytes)",
                    self.buf.bytes.len()
                ),
            ));
        }
        Ok(Some(Vector { start, len, loc }))
    }

    pub fn string(&self, idx: usize, field: &'static str) -> Result<Option<String>, ImportError> {
        let Some(v) = self.vector(idx, field, 1)? else {
            return Ok(None);
        };
        let s = &self.buf.bytes[v.start..v.start + v.len];
        Ok(Some(String::from_utf8_lossy(s).into_owned()))
    }

    pub fn vec_i32(
        &self,
        idx: usize,
        field: &'static str,
    ) -> Result<Option<Vec<i32>>, ImportError> {
        let Some(v) = self.vector(idx, field, 4)? else {
            return Ok(None);
        };
        let b = &self.buf.bytes[v.start..v.start + 4 * v.len];
        Ok(Some(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }

    pub fn vec_f32(
        &self,
        idx: usize,
        field: &'static str,
    ) -> Result<Option<Vec<f32>>, ImportError> {
        Ok(self
            .vec_i32(idx, field)?
            .map(|v| v.into_iter().map(|x| f32::from_bits(x as u32)).collect()))
    }

    pub fn vec_i64(
        &self,
        idx: usize,
        field: &'static str,
    ) -> Result<Option<Vec<i64>>, ImportError> {
        let Some(v) = self.vector(idx, field, 8)? else {
            return Ok(None);
        };
        let b = &self.buf.bytes[v.start..v.start + 8 * v.len];
        Ok(Some(
            b.chunks_exact(8)
                .map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    i64::from_le_bytes(a)
                })
                .collect(),
        ))
    }

    pub fn bytes(&self, idx: usize, field: &'static str) -> Result<Option<&'a [u8]>, ImportError> {
        let Some(v) = self.vector(idx, field, 1)? else {
            return Ok(None);
        };
        Ok(Some(&self.buf.bytes[v.start..v.start + v.len]))
    }

    /// Element `i` of a vector of tables.
    pub fn table_elem(
        &self,
        v: Vector,
        i: usize,
        table: &'static str,
    ) -> Result<Table<'a>, ImportError> {
        self.buf.table_at(table, v.loc.field, v.start + 4 * i)
    }
}
