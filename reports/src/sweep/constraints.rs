//! Budget constraints of a sweep (issue 26): a deadline or rate, a battery, the
//! accelerator's sleep mode and requirements (`fits`, `deadline`, `battery>=H`).
//!
//! They come from the grid file's `[constraints]` table, overridden key by key by the
//! command line ([`ConstraintArgs`]):
//!
//! ```toml
//! [constraints]
//! rate = 10                  # Hz (or deadline_ms = 50; not both)
//! battery = "cr2032"         # a preset or "MAH@V"; default cr2032 when a rate is given
//! accel_sleep = "retention"  # or "gated" (default)
//! require = ["fits", "deadline", "battery>=8760"]   # hours; also "battery>=365d"
//! ```
//!
//! When any is given, `results.csv` gains the budget columns ([`BUDGET_COLUMNS`]) and the
//! Pareto analysis keeps only the rows that meet every requirement (`feasible`).

use serde::{Deserialize, Serialize};

use super::SweepError;
use crate::budget::{duty_cycle, AccelSleep, Battery, BudgetError, Deadline};

/// What must hold for a design to be feasible.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Require {
    /// SRAM use within the part's capacity (`fits` sets both).
    pub fits_sram: bool,
    /// Flash use within the part's capacity.
    pub fits_flash: bool,
    /// The deadline (or the period of the rate) is met.
    pub deadline: bool,
    /// Battery life of at least this many hours at the rate.
    pub battery_hours: Option<f64>,
}

impl Require {
    /// No requirement.
    pub fn is_empty(&self) -> bool {
        !self.fits_sram && !self.fits_flash && !self.deadline && self.battery_hours.is_none()
    }

    /// Parses `fits,deadline,battery>=H` (any subset, comma-separated; `fits` = `fits_sram`
    /// and `fits_flash`, which may be given alone; `H` in hours, or
    /// with a unit `h`, `d` (days) or `y` (365-day years)).
    pub fn parse(text: &str) -> Result<Require, BudgetError> {
        let mut r = Require::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            r.add(item)?;
        }
        Ok(r)
    }

    fn add(&mut self, item: &str) -> Result<(), BudgetError> {
        let bad = |reason: String| BudgetError::Deadline {
            what: "requirement",
            value: item.to_string(),
            reason,
        };
        let lower = item.to_ascii_lowercase();
        match lower.as_str() {
            "fits" => {
                self.fits_sram = true;
                self.fits_flash = true;
            }
            "fits_sram" => self.fits_sram = true,
            "fits_flash" => self.fits_flash = true,
            "deadline" => self.deadline = true,
            _ => {
                let Some(h) = lower.strip_prefix("battery>=") else {
                    return Err(bad(
                        "expected `fits`, `fits_sram`, `fits_flash`, `deadline` or `battery>=HOURS` (e.g. battery>=8760, battery>=365d)"
                            .into(),
                    ));
                };
                let h = h.trim();
                let (num, scale) = if let Some(n) = h.strip_suffix('y') {
                    (n, 24.0 * 365.0)
                } else if let Some(n) = h.strip_suffix('d') {
                    (n, 24.0)
                } else {
                    (h.strip_suffix('h').unwrap_or(h), 1.0)
                };
                let v: f64 = num
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("`{h}` is not a number of hours")))?;
                if !(v.is_finite() && v > 0.0) {
                    return Err(bad(format!("battery life {h} must be positive")));
                }
                self.battery_hours = Some(v * scale);
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Require {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = Vec::new();
        match (self.fits_sram, self.fits_flash) {
            (true, true) => v.push("fits".to_string()),
            (true, false) => v.push("fits_sram".to_string()),
            (false, true) => v.push("fits_flash".to_string()),
            (false, false) => {}
        }
        if self.deadline {
            v.push("deadline".to_string());
        }
        if let Some(h) = self.battery_hours {
            v.push(format!("battery>={h}h"));
        }
        f.write_str(&v.join(","))
    }
}

/// The command-line side of the constraints (each `Some` overrides the grid's value).
/// `tinyaccel sweep --rate HZ | --deadline MS --battery B --accel-sleep M --require R`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConstraintArgs {
    /// `--rate HZ`.
    pub rate_hz: Option<f64>,
    /// `--deadline MS`.
    pub deadline_ms: Option<f64>,
    /// `--battery NAME|MAH@V`.
    pub battery: Option<String>,
    /// `--accel-sleep gated|retention`.
    pub accel_sleep: Option<AccelSleep>,
    /// `--require fits,deadline,battery>=H` (replaces the grid's list).
    pub require: Option<String>,
}

impl ConstraintArgs {
    /// True when no option is given.
    pub fn is_empty(&self) -> bool {
        *self == ConstraintArgs::default()
    }
}

/// The effective constraints of a sweep, recorded in `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Inference rate, Hz (exclusive with `deadline_ms`).
    pub rate_hz: Option<f64>,
    /// Latency bound, ms (exclusive with `rate_hz`).
    pub deadline_ms: Option<f64>,
    /// The battery (only with a rate; default cr2032).
    pub battery: Option<BatteryMeta>,
    /// `gated` or `retention`.
    pub accel_sleep: String,
    /// The CPU's sleep power, uW (from the CPU profile).
    pub cpu_sleep_uw: f64,
    pub require: Require,
}

/// A battery as recorded in `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatteryMeta {
    pub name: String,
    pub mah: f64,
    pub volts: f64,
}

/// The budget columns of `results.csv`, after the metric columns, when the sweep has
/// constraints.
pub const BUDGET_COLUMNS: [&str; 9] = [
    "meets_deadline",
    "margin_us",
    "avg_power_uw",
    "battery_days",
    "sram_bytes",
    "flash_bytes",
    "fits_sram",
    "fits_flash",
    "feasible",
];

/// Memory use of one design x model against the part's capacities, bytes (the
/// evaluator fills it from `driver::delegate::footprint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUse {
    pub flash_used: u64,
    pub flash_cap: u64,
    pub sram_used: u64,
    pub sram_cap: u64,
}

impl MemoryUse {
    pub fn fits_flash(&self) -> bool {
        self.flash_used <= self.flash_cap
    }
    pub fn fits_sram(&self) -> bool {
        self.sram_used <= self.sram_cap
    }
}

/// The budget columns of one `ok` row (empty cells are `None`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BudgetCols {
    /// With a rate or a deadline.
    pub meets_deadline: Option<bool>,
    pub margin_us: Option<f64>,
    /// With a rate that the latency allows (`rate x latency <= 1`).
    pub avg_power_uw: Option<f64>,
    pub battery_days: Option<f64>,
    /// When the evaluator gives the footprint.
    pub sram_bytes: Option<u64>,
    pub flash_bytes: Option<u64>,
    pub fits_sram: Option<bool>,
    pub fits_flash: Option<bool>,
    /// Every requirement holds (true when there are none).
    pub feasible: bool,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

impl BudgetCols {
    /// The fields in [`BUDGET_COLUMNS`] order.
    pub fn fields(&self) -> Vec<String> {
        vec![
            opt(self.meets_deadline),
            opt(self.margin_us),
            opt(self.avg_power_uw),
            opt(self.battery_days),
            opt(self.sram_bytes),
            opt(self.flash_bytes),
            opt(self.fits_sram),
            opt(self.fits_flash),
            self.feasible.to_string(),
        ]
    }

    /// Parses the fields of [`BUDGET_COLUMNS`]; the error names the column.
    pub fn parse(f: &[&str]) -> Result<BudgetCols, String> {
        fn p<T: std::str::FromStr>(col: &str, s: &str) -> Result<Option<T>, String> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse()
                    .map(Some)
                    .map_err(|_| format!("{col} `{s}` is not valid"))
            }
        }
        if f.len() != BUDGET_COLUMNS.len() {
            return Err(format!(
                "{} budget fields, expected {}",
                f.len(),
                BUDGET_COLUMNS.len()
            ));
        }
        let c = &BUDGET_COLUMNS;
        Ok(BudgetCols {
            meets_deadline: p(c[0], f[0])?,
            margin_us: p(c[1], f[1])?,
            avg_power_uw: p(c[2], f[2])?,
            battery_days: p(c[3], f[3])?,
            sram_bytes: p(c[4], f[4])?,
            flash_bytes: p(c[5], f[5])?,
            fits_sram: p(c[6], f[6])?,
            fits_flash: p(c[7], f[7])?,
            feasible: p(c[8], f[8])?.ok_or_else(|| format!("{} is empty", c[8]))?,
        })
    }
}

fn cerr(origin: &str, message: String) -> SweepError {
    SweepError::Grid {
        origin: origin.to_string(),
        message: format!("[constraints] {message}"),
    }
}

/// The grid file's `[constraints]` table, as command-line-like options.
pub fn parse_table(t: &toml::Table, origin: &str) -> Result<ConstraintArgs, SweepError> {
    let mut a = ConstraintArgs::default();
    let num = |k: &str, v: &toml::Value| -> Result<f64, SweepError> {
        match v {
            toml::Value::Integer(i) => Ok(*i as f64),
            toml::Value::Float(f) => Ok(*f),
            other => Err(cerr(
                origin,
                format!("`{k}` must be a number, not {}", other.type_str()),
            )),
        }
    };
    let string = |k: &str, v: &toml::Value| -> Result<String, SweepError> {
        v.as_str().map(String::from).ok_or_else(|| {
            cerr(
                origin,
                format!("`{k}` must be a string, not {}", v.type_str()),
            )
        })
    };
    for (k, v) in t {
        match k.as_str() {
            "rate" => a.rate_hz = Some(num(k, v)?),
            "deadline_ms" => a.deadline_ms = Some(num(k, v)?),
            "battery" => a.battery = Some(string(k, v)?),
            "accel_sleep" => {
                a.accel_sleep = Some(
                    string(k, v)?
                        .parse()
                        .map_err(|e: BudgetError| cerr(origin, e.to_string()))?,
                )
            }
            "require" => {
                let list = match v {
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|i| string("require", i))
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                    toml::Value::String(s) => s.clone(),
                    other => {
                        return Err(cerr(
                            origin,
                            format!(
                                "`require` must be a list of strings, not {}",
                                other.type_str()
                            ),
                        ))
                    }
                };
                a.require = Some(list);
            }
            other => {
                return Err(cerr(
                    origin,
                    format!(
                        "unknown key `{other}` (expected rate, deadline_ms, battery, accel_sleep, require)"
                    ),
                ))
            }
        }
    }
    // Check now, so that a bad grid fails when loaded, not at the end of the sweep.
    Constraints::resolve(&a, &ConstraintArgs::default(), 0.0)
        .map_err(|e| cerr(origin, e.to_string()))?;
    Ok(a)
}

impl Constraints {
    /// The effective constraints: `cli` over `grid` key by key (a command-line `--rate`
    /// replaces the grid's `deadline_ms` and vice versa), with the CPU's sleep power.
    /// `None` when nothing is constrained. Errors: both a rate and a deadline, a battery
    /// or a battery requirement without a rate, `deadline` required without either, bad
    /// values.
    pub fn resolve(
        grid: &ConstraintArgs,
        cli: &ConstraintArgs,
        cpu_sleep_uw: f64,
    ) -> Result<Option<Constraints>, BudgetError> {
        // The accelerator's sleep mode alone constrains nothing (it only matters for the
        // average power at a rate).
        let constrains = |a: &ConstraintArgs| {
            a.rate_hz.is_some()
                || a.deadline_ms.is_some()
                || a.battery.is_some()
                || a.require.is_some()
        };
        if !constrains(grid) && !constrains(cli) {
            return Ok(None);
        }
        let (rate, deadline) = if cli.rate_hz.is_some() || cli.deadline_ms.is_some() {
            (cli.rate_hz, cli.deadline_ms)
        } else {
            (grid.rate_hz, grid.deadline_ms)
        };
        let opt_err = |value: String, reason: &str| BudgetError::Deadline {
            what: "constraints",
            value,
            reason: reason.to_string(),
        };
        if let (Some(r), Some(d)) = (rate, deadline) {
            return Err(opt_err(
                format!("rate {r} Hz and deadline {d} ms"),
                "give a rate or a deadline, not both (the period of a rate is its deadline)",
            ));
        }
        if let Some(r) = rate {
            Deadline::rate(r)?;
        }
        if let Some(d) = deadline {
            Deadline::latency_ms(d)?;
        }
        let battery_spec = cli.battery.as_ref().or(grid.battery.as_ref());
        let battery = match (battery_spec, rate) {
            (Some(b), Some(_)) => Some(Battery::parse(b)?),
            (Some(b), None) => {
                return Err(opt_err(
                    b.clone(),
                    "a battery needs a rate (`rate` / --rate HZ) to give a battery life",
                ))
            }
            (None, Some(_)) => Some(Battery::default_battery()),
            (None, None) => None,
        };
        let require = match cli.require.as_ref().or(grid.require.as_ref()) {
            Some(r) => Require::parse(r)?,
            None => Require::default(),
        };
        if require.deadline && rate.is_none() && deadline.is_none() {
            return Err(opt_err(
                require.to_string(),
                "`deadline` is required but no rate or deadline is given",
            ));
        }
        if require.battery_hours.is_some() && rate.is_none() {
            return Err(opt_err(
                require.to_string(),
                "a battery-life requirement needs a rate",
            ));
        }
        if !(cpu_sleep_uw.is_finite() && cpu_sleep_uw >= 0.0) {
            return Err(BudgetError::Input {
                field: "cpu_sleep_uw",
                value: cpu_sleep_uw,
                reason: "must be finite and >= 0",
            });
        }
        let accel_sleep = cli.accel_sleep.or(grid.accel_sleep).unwrap_or_default();
        Ok(Some(Constraints {
            rate_hz: rate,
            deadline_ms: deadline,
            battery: battery.map(|b| BatteryMeta {
                name: b.name,
                mah: b.mah,
                volts: b.volts,
            }),
            accel_sleep: accel_sleep.as_str().to_string(),
            cpu_sleep_uw,
            require,
        }))
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Deadline> {
        self.rate_hz
            .map(Deadline::Rate)
            .or(self.deadline_ms.map(Deadline::Latency))
    }

    /// The battery, if any.
    pub fn battery(&self) -> Option<Battery> {
        self.battery.as_ref().map(|b| Battery {
            name: b.name.clone(),
            mah: b.mah,
            volts: b.volts,
        })
    }

    /// The accelerator's sleep mode.
    pub fn accel_sleep(&self) -> AccelSleep {
        self.accel_sleep.parse().unwrap_or_default()
    }

    /// One line for messages and `summary.md`.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        if let Some(d) = self.deadline() {
            v.push(match d {
                Deadline::Rate(hz) => format!("rate {hz} Hz (deadline = period)"),
                Deadline::Latency(ms) => format!("deadline {ms} ms"),
            });
        }
        if let Some(b) = self.battery() {
            v.push(format!("battery {b}"));
        }
        v.push(format!(
            "CPU sleep {} uW, accelerator {}",
            crate::fmt::num(self.cpu_sleep_uw),
            self.accel_sleep
        ));
        if !self.require.is_empty() {
            v.push(format!("required: {}", self.require));
        }
        v.join("; ")
    }

    /// The budget columns of an `ok` row: offloaded latency and energy, the accelerator's
    /// sleep power (`AccelSleep::power_uw` of the design) and the footprint, if known.
    /// Errors when a requirement needs a figure the evaluator did not give.
    pub fn evaluate(
        &self,
        offload_us: f64,
        offload_uj: f64,
        accel_sleep_uw: f64,
        memory: Option<MemoryUse>,
    ) -> Result<BudgetCols, String> {
        let mut c = BudgetCols::default();
        if let Some(d) = self.deadline() {
            let (met, margin) = d.met(offload_us);
            c.meets_deadline = Some(met);
            c.margin_us = Some(margin);
        }
        if let Some(rate) = self.rate_hz {
            match duty_cycle(
                offload_uj,
                offload_us,
                rate,
                self.cpu_sleep_uw,
                accel_sleep_uw,
            ) {
                Ok(dc) => {
                    c.avg_power_uw = Some(dc.avg_power_uw);
                    c.battery_days = self.battery().map(|b| dc.battery_days(&b));
                }
                Err(BudgetError::Infeasible { .. }) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        if let Some(m) = memory {
            c.sram_bytes = Some(m.sram_used);
            c.flash_bytes = Some(m.flash_used);
            c.fits_sram = Some(m.fits_sram());
            c.fits_flash = Some(m.fits_flash());
        }
        let r = &self.require;
        if (r.fits_sram || r.fits_flash) && memory.is_none() {
            return Err(format!(
                "`{}` is required but the evaluator gave no memory footprint",
                r
            ));
        }
        c.feasible = (!r.fits_sram || c.fits_sram == Some(true))
            && (!r.fits_flash || c.fits_flash == Some(true))
            && (!r.deadline || c.meets_deadline == Some(true))
            && r.battery_hours
                .map_or(true, |h| c.battery_days.is_some_and(|d| d * 24.0 >= h));
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(rate: Option<f64>, deadline: Option<f64>) -> ConstraintArgs {
        ConstraintArgs {
            rate_hz: rate,
            deadline_ms: deadline,
            ..Default::default()
        }
    }

    #[test]
    fn require_parser() {
        let r = Require::parse("fits, deadline,battery>=8760").unwrap();
        assert!(r.fits_sram && r.fits_flash && r.deadline);
        let sram = Require::parse("fits_sram").unwrap();
        assert!(sram.fits_sram && !sram.fits_flash && !sram.is_empty());
        assert_eq!(sram.to_string(), "fits_sram");
        assert_eq!(
            Require::parse("fits_flash,fits_sram").unwrap().to_string(),
            "fits"
        );
        assert_eq!(r.battery_hours, Some(8760.0));
        assert_eq!(
            Require::parse("battery>=2d").unwrap().battery_hours,
            Some(48.0)
        );
        assert_eq!(
            Require::parse("battery>=1y").unwrap().battery_hours,
            Some(8760.0)
        );
        assert!(Require::parse("").unwrap().is_empty());
        for bad in ["fit", "battery>=x", "battery>=-1", "battery<=3"] {
            let e = Require::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn resolve_rules() {
        let none = ConstraintArgs::default();
        assert_eq!(Constraints::resolve(&none, &none, 1.0).unwrap(), None);
        let sleep_only = ConstraintArgs {
            accel_sleep: Some(AccelSleep::Gated),
            ..Default::default()
        };
        assert_eq!(Constraints::resolve(&none, &sleep_only, 1.0).unwrap(), None);
        // A rate gets the default battery.
        let c = Constraints::resolve(&args(Some(2.0), None), &none, 1.5)
            .unwrap()
            .unwrap();
        assert_eq!(c.battery.as_ref().unwrap().name, "cr2032");
        assert_eq!(c.deadline(), Some(Deadline::Rate(2.0)));
        // The command line's deadline replaces the grid's rate (and its default battery).
        let c = Constraints::resolve(&args(Some(2.0), None), &args(None, Some(5.0)), 1.5)
            .unwrap()
            .unwrap();
        assert_eq!(c.deadline(), Some(Deadline::Latency(5.0)));
        assert!(c.battery.is_none());
        // Errors.
        assert!(Constraints::resolve(&args(Some(1.0), Some(1.0)), &none, 0.0).is_err());
        let battery_only = ConstraintArgs {
            battery: Some("aa".into()),
            ..Default::default()
        };
        let e = Constraints::resolve(&battery_only, &none, 0.0).unwrap_err();
        assert!(e.to_string().contains("needs a rate"), "{e}");
        let need_deadline = ConstraintArgs {
            require: Some("deadline".into()),
            ..Default::default()
        };
        assert!(Constraints::resolve(&need_deadline, &none, 0.0).is_err());
        let need_rate = ConstraintArgs {
            deadline_ms: Some(3.0),
            require: Some("battery>=10".into()),
            ..Default::default()
        };
        assert!(Constraints::resolve(&need_rate, &none, 0.0).is_err());
        assert!(Constraints::resolve(&args(Some(-1.0), None), &none, 0.0).is_err());
        assert!(Constraints::resolve(&args(Some(1.0), None), &none, f64::NAN).is_err());
    }

    #[test]
    fn evaluate_hand_computed() {
        let cli = ConstraintArgs {
            rate_hz: Some(1.0),
            require: Some("fits,deadline,battery>=1000".into()),
            ..Default::default()
        };
        let c = Constraints::resolve(&ConstraintArgs::default(), &cli, 3.0)
            .unwrap()
            .unwrap();
        let mem = MemoryUse {
            flash_used: 100,
            flash_cap: 100,
            sram_used: 50,
            sram_cap: 64,
        };
        // 100 uJ in 10 ms at 1 Hz: 100 + 3 x 0.99 = 102.97 uW; CR2032 675000 uWh.
        let b = c.evaluate(10_000.0, 100.0, 0.0, Some(mem)).unwrap();
        assert_eq!(b.meets_deadline, Some(true));
        assert_eq!(b.margin_us, Some(990_000.0));
        assert!((b.avg_power_uw.unwrap() - 102.97).abs() < 1e-9);
        let days = 675_000.0 / 102.97 / 24.0;
        assert!((b.battery_days.unwrap() - days).abs() < 1e-9);
        assert_eq!((b.fits_sram, b.fits_flash), (Some(true), Some(true)));
        assert!(b.feasible);
        // Too much SRAM: not feasible.
        let big = MemoryUse {
            sram_used: 65,
            ..mem
        };
        assert!(
            !c.evaluate(10_000.0, 100.0, 0.0, Some(big))
                .unwrap()
                .feasible
        );
        // Requiring only the flash to fit accepts it.
        let flash_only = Constraints {
            require: Require::parse("fits_flash").unwrap(),
            ..c.clone()
        };
        let b2 = flash_only
            .evaluate(10_000.0, 100.0, 0.0, Some(big))
            .unwrap();
        assert!(b2.feasible && b2.fits_sram == Some(false));
        // 0.5 J per inference: 500,000 uW -> 1.35 h < 1000 h.
        assert!(
            !c.evaluate(10_000.0, 500_000.0, 0.0, Some(mem))
                .unwrap()
                .feasible
        );
        // Longer than the period: deadline missed, no average power, not feasible.
        let slow = c.evaluate(2e6, 100.0, 0.0, Some(mem)).unwrap();
        assert_eq!(slow.meets_deadline, Some(false));
        assert_eq!(slow.margin_us, Some(-1e6));
        assert_eq!(slow.avg_power_uw, None);
        assert!(!slow.feasible);
        // `fits` required without a footprint is an error, not a silent pass.
        assert!(c.evaluate(10_000.0, 100.0, 0.0, None).is_err());
        // Round trip through the CSV fields.
        let f = b.fields();
        let refs: Vec<&str> = f.iter().map(String::as_str).collect();
        assert_eq!(BudgetCols::parse(&refs).unwrap(), b);
    }

    #[test]
    fn grid_table() {
        let t: toml::Table = toml::from_str(
            "rate = 10\nbattery = \"2xaa\"\naccel_sleep = \"retention\"\nrequire = [\"fits\", \"battery>=1y\"]",
        )
        .unwrap();
        let a = parse_table(&t, "g.toml").unwrap();
        assert_eq!(a.rate_hz, Some(10.0));
        assert_eq!(a.accel_sleep, Some(AccelSleep::Retention));
        assert_eq!(a.require.as_deref(), Some("fits,battery>=1y"));
        for (text, needle) in [
            ("rte = 1", "unknown key `rte`"),
            ("rate = \"fast\"", "`rate` must be a number"),
            ("rate = 1\ndeadline_ms = 2", "not both"),
            ("battery = \"aa\"", "needs a rate"),
            ("rate = 1\nbattery = \"cr9\"", "battery `cr9`"),
            ("accel_sleep = \"off\"", "`off`"),
            ("require = [\"fast\"]", "`fast`"),
        ] {
            let t: toml::Table = toml::from_str(text).unwrap();
            let e = parse_table(&t, "g.toml").unwrap_err().to_string();
            assert!(e.contains("g.toml") && e.contains(needle), "{text}: {e}");
        }
    }
}
