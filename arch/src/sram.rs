//! The SRAM macro model: read and write energy per access, leakage and area of an SRAM as
//! functions of its capacity, access width, banks and ports, at 45 nm (scaled to other
//! nodes by [`crate::tables::energy_factor`] and [`crate::tables::area_factor`]).
//!
//! ## Where the numbers come from
//!
//! Every data point below is one run of CACTI 7.0 (Balasubramonian, Kahng, Muralimanohar,
//! Shafiee, Srinivas, "CACTI 7: New Tools for Interconnect Exploration in Innovative
//! Off-Chip Memories", ACM TACO 14(2), 2017; source github.com/HewlettPackard/cacti,
//! built unmodified), `cache type "ram"` (a scratchpad: no tags), UCA, technology
//! 0.045 um, 330 K, `itrs-lop` cells and periphery, design objective weights delay :
//! dynamic power : area = 100 : 100 : 100 with a 20 % delay deviation, `-size` = capacity,
//! `-block size` = `-output/input bus width` / 8 = the access width, `-UCA bank count` =
//! banks, `-read-write port` = ports. Leakage comes from runs with `itrs-lstp`
//! (low-standby-power) cells, the cells of MCU-class SRAMs. The fit is linear least
//! squares on relative error; [`fit_errors`] gives the error on every point (test
//! `sram_fit_error_on_the_cacti_points`, docs/energy.md).
//!
//! ## The form
//!
//! Per access of `W` bytes to an SRAM of `C` KiB in `B` banks (bank capacity `Cb = C/B`):
//!
//! ```text
//! E(C, W, B) = e0 + e1 W + e2 sqrt(Cb) + e3 W sqrt(Cb)            one bank: decoders, wordline
//!                                                                  and bitlines grow with sqrt(Cb)
//!            + k W sqrt(C) (1 - 1/sqrt(B))                         the bank-select H-tree across
//!                                                                  the whole macro (0 for B = 1)
//! ```
//!
//! times a constant factor for a second port. Area = `a_kib C + B (a_bank + a_w W)`
//! (x a factor for two ports): cells plus the periphery of each bank. Leakage =
//! `l_kib C + l_bank B`.

/// One SRAM macro: capacity, access width, banks, ports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SramMacro {
    /// Capacity in KiB.
    pub kib: f64,
    /// Bytes read or written per access (a scratchpad line).
    pub width_bytes: u32,
    /// Independently addressed banks.
    pub banks: u32,
    /// Ports (1 or 2; more are treated as 2).
    pub ports: u32,
}

/// One CACTI run (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CactiPoint {
    pub kib: f64,
    pub width_bytes: u32,
    pub banks: u32,
    pub ports: u32,
    /// Dynamic read energy per access, pJ.
    pub read_pj: f64,
    /// Dynamic write energy per access, pJ.
    pub write_pj: f64,
    /// Macro area (height x width), um^2.
    pub area_um2: f64,
}

impl CactiPoint {
    /// The macro of this point.
    pub fn sram(&self) -> SramMacro {
        SramMacro {
            kib: self.kib,
            width_bytes: self.width_bytes,
            banks: self.banks,
            ports: self.ports,
        }
    }
}

fn per_access(c: &[f64; 4], route: f64, port2: f64, m: &SramMacro) -> f64 {
    let banks = m.banks.max(1) as f64;
    let w = m.width_bytes.max(1) as f64;
    let kib = m.kib.max(0.0);
    let cb = (kib / banks).sqrt();
    let bank = c[0] + c[1] * w + c[2] * cb + c[3] * w * cb;
    let tree = route * w * kib.sqrt() * (1.0 - 1.0 / banks.sqrt());
    let e = (bank + tree).max(0.0);
    if m.ports >= 2 {
        e * port2
    } else {
        e
    }
}

/// Read energy of one access at 45 nm, pJ.
pub fn read_pj(m: &SramMacro) -> f64 {
    per_access(&READ, READ_ROUTE, PORT2_READ, m)
}

/// Write energy of one access at 45 nm, pJ.
pub fn write_pj(m: &SramMacro) -> f64 {
    per_access(&WRITE, WRITE_ROUTE, PORT2_WRITE, m)
}

/// Area at 45 nm, um^2.
pub fn area_um2(m: &SramMacro) -> f64 {
    let banks = m.banks.max(1) as f64;
    let a = AREA[0] * m.kib + banks * AREA[1] * m.width_bytes as f64;
    if m.ports >= 2 {
        a * PORT2_AREA
    } else {
        a
    }
}

/// Leakage at 45 nm, uW (low-standby-power cells): `l_kib C + l_bank B`.
pub fn leakage_uw(m: &SramMacro) -> f64 {
    LEAKAGE[0] * m.kib + LEAKAGE[1] * m.banks.max(1) as f64
}

/// The 8 KiB, 8-byte-wide, one-bank, one-port macro the energy table's
/// `sram_*_pj_per_byte_8kib` anchors name.
pub const REFERENCE: SramMacro = SramMacro {
    kib: 8.0,
    width_bytes: 8,
    banks: 1,
    ports: 1,
};

/// Relative error of the model on one point: (read, write, area), each `model / CACTI -
/// 1`.
pub fn point_error(p: &CactiPoint) -> (f64, f64, f64) {
    let m = p.sram();
    (
        read_pj(&m) / p.read_pj - 1.0,
        write_pj(&m) / p.write_pj - 1.0,
        area_um2(&m) / p.area_um2 - 1.0,
    )
}

/// Mean and largest absolute relative error of the model on [`CACTI_45NM`]: read, write,
/// area, leakage (on [`CACTI_45NM_LSTP_LEAKAGE`]), each `(mean, max)`.
pub fn fit_errors() -> [(f64, f64); 4] {
    let mut acc = [(0.0f64, 0.0f64); 4];
    let n = CACTI_45NM.len() as f64;
    for p in CACTI_45NM {
        let (r, w, a) = point_error(p);
        for (i, e) in [r, w, a].into_iter().enumerate() {
            acc[i].0 += e.abs() / n;
            acc[i].1 = acc[i].1.max(e.abs());
        }
    }
    let nl = CACTI_45NM_LSTP_LEAKAGE.len() as f64;
    for &(kib, width_bytes, uw) in CACTI_45NM_LSTP_LEAKAGE {
        let m = SramMacro {
            kib,
            width_bytes,
            banks: 1,
            ports: 1,
        };
        let e = (leakage_uw(&m) / uw - 1.0).abs();
        acc[3].0 += e / nl;
        acc[3].1 = acc[3].1.max(e);
    }
    acc
}

/// CACTI 7.0 at 45 nm (`itrs-lop` cells and periphery, 330 K, `cache type "ram"`, UCA,
/// objective delay:dynamic:area = 100:100:100, delay deviation 20 %): one row per run,
/// (KiB, access width in bytes, banks, ports, read pJ, write pJ per access, area um^2).
pub const CACTI_45NM: &[CactiPoint] = &[
    CactiPoint {
        kib: 2.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 1.10416,
        write_pj: 1.10622,
        area_um2: 7217.21,
    },
    CactiPoint {
        kib: 2.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 1.31542,
        write_pj: 1.75245,
        area_um2: 7542.72,
    },
    CactiPoint {
        kib: 2.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 1.73462,
        write_pj: 3.0416,
        area_um2: 8306.91,
    },
    CactiPoint {
        kib: 2.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 3.99644,
        write_pj: 5.20934,
        area_um2: 13493.3,
    },
    CactiPoint {
        kib: 2.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 11.9971,
        write_pj: 13.0218,
        area_um2: 32590.3,
    },
    CactiPoint {
        kib: 4.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 1.81295,
        write_pj: 1.58043,
        area_um2: 13358.5,
    },
    CactiPoint {
        kib: 4.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 1.93821,
        write_pj: 2.61378,
        area_um2: 13500.2,
    },
    CactiPoint {
        kib: 4.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 2.2658,
        write_pj: 4.75757,
        area_um2: 14270.2,
    },
    CactiPoint {
        kib: 4.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 4.4512,
        write_pj: 7.06516,
        area_um2: 19274.3,
    },
    CactiPoint {
        kib: 4.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 12.4163,
        write_pj: 14.8421,
        area_um2: 38179.0,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 2.81061,
        write_pj: 2.00355,
        area_um2: 25657.4,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 3.16221,
        write_pj: 3.24418,
        area_um2: 26281.6,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 3.86395,
        write_pj: 5.72396,
        area_um2: 27719.7,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 5.27146,
        write_pj: 10.6876,
        area_um2: 30815.4,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 13.2862,
        write_pj: 18.5142,
        area_um2: 49270.9,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 4.16918,
        write_pj: 2.87252,
        area_um2: 59316.8,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 6.03378,
        write_pj: 4.41967,
        area_um2: 50755.8,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 7.30521,
        write_pj: 7.46914,
        area_um2: 53445.4,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 9.84772,
        write_pj: 13.5677,
        area_um2: 59308.2,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 14.9368,
        write_pj: 25.7689,
        area_um2: 71411.7,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 6.10142,
        write_pj: 3.59829,
        area_um2: 106053.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 7.23311,
        write_pj: 5.619,
        area_um2: 111942.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 10.7246,
        write_pj: 11.1999,
        area_um2: 97583.1,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 13.2671,
        write_pj: 20.9309,
        area_um2: 103446.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 18.3562,
        write_pj: 40.3969,
        area_um2: 115550.0,
    },
    CactiPoint {
        kib: 64.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 8.03002,
        write_pj: 5.52689,
        area_um2: 218864.0,
    },
    CactiPoint {
        kib: 64.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 10.5279,
        write_pj: 8.91381,
        area_um2: 235190.0,
    },
    CactiPoint {
        kib: 64.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 15.2091,
        write_pj: 15.6844,
        area_um2: 231943.0,
    },
    CactiPoint {
        kib: 64.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 25.701,
        write_pj: 26.6516,
        area_um2: 199014.0,
    },
    CactiPoint {
        kib: 64.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 35.3349,
        write_pj: 50.6624,
        area_um2: 222088.0,
    },
    CactiPoint {
        kib: 128.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 10.8041,
        write_pj: 8.30092,
        area_um2: 431846.0,
    },
    CactiPoint {
        kib: 128.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 15.545,
        write_pj: 10.5387,
        area_um2: 429665.0,
    },
    CactiPoint {
        kib: 128.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 21.2635,
        write_pj: 18.0353,
        area_um2: 476427.0,
    },
    CactiPoint {
        kib: 128.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 34.1208,
        write_pj: 35.0713,
        area_um2: 473995.0,
    },
    CactiPoint {
        kib: 128.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 48.7171,
        write_pj: 79.8196,
        area_um2: 391468.0,
    },
    CactiPoint {
        kib: 256.0,
        width_bytes: 4,
        banks: 1,
        ports: 1,
        read_pj: 14.3512,
        write_pj: 11.8095,
        area_um2: 861726.0,
    },
    CactiPoint {
        kib: 256.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 20.3059,
        write_pj: 15.2996,
        area_um2: 872247.0,
    },
    CactiPoint {
        kib: 256.0,
        width_bytes: 16,
        banks: 1,
        ports: 1,
        read_pj: 30.1171,
        write_pj: 26.8889,
        area_um2: 975606.0,
    },
    CactiPoint {
        kib: 256.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 50.2293,
        write_pj: 51.1798,
        area_um2: 1025390.0,
    },
    CactiPoint {
        kib: 256.0,
        width_bytes: 64,
        banks: 1,
        ports: 1,
        read_pj: 79.4789,
        write_pj: 110.581,
        area_um2: 1074730.0,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 8,
        banks: 2,
        ports: 1,
        read_pj: 5.45339,
        write_pj: 4.5917,
        area_um2: 62681.9,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 8,
        banks: 4,
        ports: 1,
        read_pj: 5.30193,
        write_pj: 6.23194,
        area_um2: 67633.6,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 8,
        banks: 8,
        ports: 1,
        read_pj: 5.4222,
        write_pj: 6.66809,
        area_um2: 69448.2,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 32,
        banks: 2,
        ports: 1,
        read_pj: 13.1578,
        write_pj: 14.906,
        area_um2: 100886.0,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 32,
        banks: 4,
        ports: 1,
        read_pj: 23.818,
        write_pj: 26.432,
        area_um2: 137843.0,
    },
    CactiPoint {
        kib: 16.0,
        width_bytes: 32,
        banks: 8,
        ports: 1,
        read_pj: 31.3653,
        write_pj: 32.1456,
        area_um2: 201932.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 8,
        banks: 2,
        ports: 1,
        read_pj: 7.95735,
        write_pj: 6.34324,
        area_um2: 111250.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 8,
        banks: 4,
        ports: 1,
        read_pj: 8.10749,
        write_pj: 8.18945,
        area_um2: 122204.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 8,
        banks: 8,
        ports: 1,
        read_pj: 8.22744,
        write_pj: 9.15744,
        area_um2: 129003.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 32,
        banks: 2,
        ports: 1,
        read_pj: 17.7915,
        write_pj: 21.5116,
        area_um2: 161056.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 32,
        banks: 4,
        ports: 1,
        read_pj: 27.6816,
        write_pj: 33.0977,
        area_um2: 199966.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 32,
        banks: 8,
        ports: 1,
        read_pj: 45.6058,
        write_pj: 47.7873,
        area_um2: 270491.0,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 8,
        banks: 1,
        ports: 2,
        read_pj: 3.93192,
        write_pj: 4.05579,
        area_um2: 53957.4,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 32,
        banks: 1,
        ports: 2,
        read_pj: 6.85546,
        write_pj: 13.7801,
        area_um2: 67466.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 8,
        banks: 1,
        ports: 2,
        read_pj: 11.8476,
        write_pj: 7.93743,
        area_um2: 191428.0,
    },
    CactiPoint {
        kib: 32.0,
        width_bytes: 32,
        banks: 1,
        ports: 2,
        read_pj: 17.2899,
        write_pj: 27.0272,
        area_um2: 216656.0,
    },
];

/// CACTI 7.0 at 45 nm with `itrs-lstp` (low-standby-power) cells, `itrs-lop` periphery,
/// 330 K, one bank: (KiB, access width in bytes, leakage uW of the macro).
pub const CACTI_45NM_LSTP_LEAKAGE: &[(f64, u32, f64)] = &[
    (8.0, 8, 19.0762),
    (8.0, 32, 19.8083),
    (32.0, 8, 59.4095),
    (32.0, 32, 58.0767),
    (128.0, 8, 135.452),
    (128.0, 32, 125.82),
    (256.0, 8, 478.955),
    (256.0, 32, 251.64),
];

/// CACTI 7.0 at 22 nm (same settings as [`CACTI_45NM`]), for the node-scaling check only.
pub const CACTI_22NM: &[CactiPoint] = &[
    CactiPoint {
        kib: 8.0,
        width_bytes: 8,
        banks: 1,
        ports: 1,
        read_pj: 1.05476,
        write_pj: 0.993597,
        area_um2: 6266.38,
    },
    CactiPoint {
        kib: 8.0,
        width_bytes: 32,
        banks: 1,
        ports: 1,
        read_pj: 1.76345,
        write_pj: 3.46063,
        area_um2: 7354.17,
    },
];

const READ: [f64; 4] = [-0.6327, 0.00680867, 0.911764, 0.0528135];
const WRITE: [f64; 4] = [0.064955, 0.0387655, 0.284353, 0.090437];
const READ_ROUTE: f64 = 0.227467;
const WRITE_ROUTE: f64 = 0.228941;
const PORT2_READ: f64 = 1.28159;
const PORT2_WRITE: f64 = 1.3259;
/// um^2 per KiB and per bank and byte of width.
pub const AREA: [f64; 2] = [3262.3, 297.972];
pub const PORT2_AREA: f64 = 1.87056;
/// Leakage: uW per KiB (cells) and per bank (periphery).
pub const LEAKAGE: [f64; 2] = [1.06612, 11.9442];
