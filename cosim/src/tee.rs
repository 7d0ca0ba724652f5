//! [`TeeDevice`]: a [`Device`] that runs every command buffer on a primary device and
//! (for the first starts) on a shadow device from the same memory image, and records
//! where the final memories, the counters or the errors differ.

use arch::device::{reg, Counters, Device, DeviceError, COUNTER_NAMES};
use arch::hostcheck;
use arch::isa::COMMAND_BYTES;
use arch::AccelConfig;
use hdl::sysflow;
use std::time::{Duration, Instant};

/// The first byte where two memories differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemDiff {
    pub addr: u64,
    pub primary: u8,
    pub shadow: u8,
    /// Bytes that differ in the compared prefix.
    pub count: u64,
}

/// The first counter (in register order) that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterDiff {
    pub name: &'static str,
    pub primary: u64,
    pub shadow: u64,
}

/// One compared start of a command buffer.
#[derive(Debug, Clone)]
pub struct TeeRecord {
    /// Index of the start on the tee (0 = first `CTRL.start`).
    pub start: usize,
    /// Label set with [`TeeDevice::set_label`] when it started.
    pub label: String,
    pub cmd_base: u32,
    pub commands: u32,
    /// Bytes `0..mem_bytes` were given to both and compared after the run.
    pub mem_bytes: u64,
    pub primary: Result<Counters, DeviceError>,
    pub shadow: Result<Counters, DeviceError>,
    pub counter_diff: Option<CounterDiff>,
    pub mem_diff: Option<MemDiff>,
    /// Both failed, or only one did, or they failed differently.
    pub error_diff: Option<String>,
    pub primary_wall: Duration,
    pub shadow_wall: Duration,
}

impl TeeRecord {
    /// True if memory, counters and errors agree.
    pub fn ok(&self) -> bool {
        self.counter_diff.is_none() && self.mem_diff.is_none() && self.error_diff.is_none()
    }

    /// A readable description of the first difference (empty if none).
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        if let Some(e) = &self.error_diff {
            v.push(e.clone());
        }
        if let Some(c) = &self.counter_diff {
            v.push(format!(
                "counter {} differs: simulator {}, RTL {}",
                c.name, c.primary, c.shadow
            ));
        }
        if let Some(m) = &self.mem_diff {
            v.push(format!(
                "memory differs at {:#x} (simulator {:#04x}, RTL {:#04x}; {} bytes differ of {})",
                m.addr, m.primary, m.shadow, m.count, self.mem_bytes
            ));
        }
        v.join("; ")
    }
}

/// A [`Device`] that forwards everything to `primary` and, for the first
/// `compare_starts` command buffers started (`None`: all), also runs `shadow` from the
/// same pre-start memory image and compares the final memories and the counters.
/// `wait()` returns the primary's result.
pub struct TeeDevice<P: Device, S: Device> {
    pub primary: P,
    pub shadow: S,
    compare_starts: Option<usize>,
    starts: usize,
    high_water: u64,
    cmd_base: u32,
    cmd_count: u32,
    label: String,
    pending: Option<Pending>,
    corrupt_next: Option<u64>,
    records: Vec<TeeRecord>,
}

struct Pending {
    start: usize,
    n: u64,
    shadow: Result<Counters, DeviceError>,
    primary_wall: Duration,
    shadow_wall: Duration,
}

impl<P: Device, S: Device> TeeDevice<P, S> {
    pub fn new(primary: P, shadow: S, compare_starts: Option<usize>) -> Self {
        TeeDevice {
            primary,
            shadow,
            compare_starts,
            starts: 0,
            high_water: 0,
            cmd_base: 0,
            cmd_count: 0,
            label: String::new(),
            pending: None,
            corrupt_next: None,
            records: Vec::new(),
        }
    }

    /// Labels the records of the following starts.
    pub fn set_label(&mut self, label: impl Into<String>) {
        self.label = label.into();
    }

    /// The comparisons so far.
    pub fn records(&self) -> &[TeeRecord] {
        &self.records
    }

    /// Starts so far (compared or not).
    pub fn starts(&self) -> usize {
        self.starts
    }

    /// Test hook: flips (xor 0xFF) the byte at `addr` of the shadow's memory image of the
    /// next compared start, after the image is copied; the comparison must then report a
    /// difference (at `addr` or wherever the program moved it).
    pub fn corrupt_next_shadow_image(&mut self, addr: u64) {
        self.corrupt_next = Some(addr);
    }

    /// Takes the devices and the records apart.
    pub fn into_parts(self) -> (P, S, Vec<TeeRecord>) {
        (self.primary, self.shadow, self.records)
    }

    fn comparing(&self) -> bool {
        self.compare_starts.is_none_or(|k| self.starts < k)
    }

    /// Bytes the buffer about to start needs, from the primary's memory.
    fn needed(&mut self) -> Result<u64, DeviceError> {
        let len = self.cmd_count as u64 * COMMAND_BYTES as u64;
        let size = self.primary.mem_size();
        let base = self.cmd_base as u64;
        if base + len > size {
            return Ok(size.min(self.high_water.max(base + len)));
        }
        let mut buf = vec![0u8; len as usize];
        self.primary.read_mem(base, &mut buf)?;
        let n = match hostcheck::decode_checked(self.primary.config(), &buf) {
            Ok(cmds) => sysflow::needed_bytes(self.cmd_base, &cmds, self.high_water),
            Err(_) => self.high_water.max(base + len),
        };
        Ok(n.min(size).min(self.shadow.mem_size()))
    }

    fn start_both(&mut self, value: u32) -> Result<(), DeviceError> {
        let n = self.needed()?;
        let mut image = vec![0u8; n as usize];
        self.primary.read_mem(0, &mut image)?;
        if let Some(a) = self.corrupt_next.take() {
            if let Some(b) = image.get_mut(a as usize) {
                *b ^= 0xFF;
            }
        }
        self.shadow.write_mem(0, &image)?;
        drop(image);
        let t0 = Instant::now();
        self.primary.write_reg(reg::CTRL, value)?;
        let primary_wall = t0.elapsed();
        let t1 = Instant::now();
        let shadow = self
            .shadow
            .write_reg(reg::CTRL, value)
            .and_then(|_| self.shadow.wait());
        let shadow_wall = t1.elapsed();
        self.pending = Some(Pending {
            start: self.starts,
            n,
            shadow,
            primary_wall,
            shadow_wall,
        });
        Ok(())
    }

    fn finish(&mut self, p: Pending, primary: &Result<Counters, DeviceError>) {
        let n = p.n as usize;
        let mut a = vec![0u8; n];
        let mut b = vec![0u8; n];
        let read = self
            .primary
            .read_mem(0, &mut a)
            .and_then(|_| self.shadow.read_mem(0, &mut b));
        let mem_diff = match read {
            Err(_) => None,
            Ok(()) => {
                let first = a.iter().zip(&b).position(|(x, y)| x != y);
                first.map(|i| MemDiff {
                    addr: i as u64,
                    primary: a[i],
                    shadow: b[i],
                    count: a.iter().zip(&b).filter(|(x, y)| x != y).count() as u64,
                })
            }
        };
        let (counter_diff, error_diff) = match (primary, &p.shadow) {
            (Ok(x), Ok(y)) => {
                let (xa, ya) = (x.to_array(), y.to_array());
                let d = (0..COUNTER_NAMES.len())
                    .find(|&i| xa[i] != ya[i])
                    .map(|i| CounterDiff {
                        name: COUNTER_NAMES[i],
                        primary: xa[i],
                        shadow: ya[i],
                    });
                (d, read.err().map(|e| format!("reading memory back: {e}")))
            }
            (Err(e), Ok(_)) => (None, Some(format!("simulator failed ({e}), RTL succeeded"))),
            (Ok(_), Err(e)) => (None, Some(format!("RTL failed: {e}"))),
            (Err(x), Err(y)) => {
                let same_index = match (x, y) {
                    (
                        DeviceError::Command { index: i, .. },
                        DeviceError::Command { index: j, .. },
                    ) => i == j,
                    (x, y) => x == y,
                };
                (
                    None,
                    (!same_index)
                        .then(|| format!("both failed differently: simulator {x}; RTL {y}")),
                )
            }
        };
        self.records.push(TeeRecord {
            start: p.start,
            label: self.label.clone(),
            cmd_base: self.cmd_base,
            commands: self.cmd_count,
            mem_bytes: p.n,
            primary: primary.clone(),
            shadow: p.shadow,
            counter_diff,
            mem_diff,
            error_diff,
            primary_wall: p.primary_wall,
            shadow_wall: p.shadow_wall,
        });
    }
}

impl<P: Device, S: Device> Device for TeeDevice<P, S> {
    fn config(&self) -> &AccelConfig {
        self.primary.config()
    }
    fn mem_size(&self) -> u64 {
        self.primary.mem_size()
    }
    fn write_mem(&mut self, addr: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.primary.write_mem(addr, data)?;
        if !data.is_empty() {
            self.high_water = self.high_water.max(addr + data.len() as u64);
        }
        Ok(())
    }
    fn read_mem(&mut self, addr: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        self.primary.read_mem(addr, out)
    }
    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        match offset {
            reg::CMD_BASE => self.cmd_base = value,
            reg::CMD_COUNT => self.cmd_count = value,
            _ => {}
        }
        if offset == reg::CTRL && value & reg::CTRL_START != 0 {
            self.pending = None;
            let r = if self.comparing() {
                self.shadow.write_reg(reg::CMD_BASE, self.cmd_base)?;
                self.shadow.write_reg(reg::CMD_COUNT, self.cmd_count)?;
                self.start_both(value)
            } else {
                self.primary.write_reg(offset, value)
            };
            self.starts += 1;
            return r;
        }
        self.primary.write_reg(offset, value)
    }
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        self.primary.read_reg(offset)
    }
    fn wait(&mut self) -> Result<Counters, DeviceError> {
        let r = self.primary.wait();
        if let Some(p) = self.pending.take() {
            self.finish(p, &r);
        }
        r
    }
}
