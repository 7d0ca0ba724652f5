//! Real-time and energy budgets of a TinyML deployment: deadlines, duty-cycled average
//! power and battery life (issue 26). See `docs/budgets.md` for the formulas, the
//! assumptions and the battery sources.
//!
//! - [`Deadline`]: `--rate HZ` (one inference per period, the period is the deadline) or
//!   `--deadline MS` (a latency bound); [`Deadline::met`] gives the margin.
//! - [`duty_cycle`]: the average power of a device that runs one inference every
//!   `1 / rate` seconds and sleeps in between:
//!   `P = E x rate + (P_sleep_cpu + P_sleep_accel) x (1 - rate x latency)`.
//!   (uJ x Hz = uW.) Infeasible, as a typed error, when `rate x latency > 1`.
//! - [`Battery`]: a named cell ([`BATTERY_PRESETS`], each with a cited nominal capacity) or
//!   `MAH@V`; life = `mAh x V / P` (self-discharge, regulator losses and the capacity's
//!   dependence on load and temperature are ignored).
//! - [`AccelSleep`]: what the accelerator does between inferences: power-gated (0 uW, the
//!   default) or retention (its scratchpad SRAM leakage, `AccelConfig::sram_leakage_uw`).

use std::fmt;
use std::str::FromStr;

/// Errors of the budget computations and parsers; each names the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// A battery specification that is neither a preset nor `MAH@V`.
    #[error("battery `{value}`: {reason}")]
    Battery { value: String, reason: String },
    /// A rate or deadline that is not a positive finite number.
    #[error("{what} `{value}`: {reason}")]
    Deadline {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// An accelerator sleep mode other than `gated` / `retention`.
    #[error("accelerator sleep mode `{0}`: expected `gated` or `retention`")]
    AccelSleep(String),
    /// An input of [`duty_cycle`] that is negative, zero where it must not be, or not finite.
    #[error("duty cycle: `{field}` = {value} ({reason})")]
    Input {
        field: &'static str,
        value: f64,
        reason: &'static str,
    },
    /// The inference takes longer than the period: `rate x latency > 1`.
    #[error(
        "rate {rate_hz} Hz is infeasible: one inference takes {latency_us} us, so the device \
         would be busy {:.3}x the time (at most {max_rate_hz} Hz)",
        active_fraction
    )]
    Infeasible {
        rate_hz: f64,
        latency_us: f64,
        /// `rate x latency`, > 1.
        active_fraction: f64,
        /// `1e6 / latency_us`: the highest rate this latency allows.
        max_rate_hz: f64,
    },
}

// ---------------------------------------------------------------------------------------
// Batteries
// ---------------------------------------------------------------------------------------

/// A battery: nominal capacity and nominal voltage.
#[derive(Debug, Clone, PartialEq)]
pub struct Battery {
    /// The preset name, or the specification as given (`225mAh@3V`).
    pub name: String,
    /// Nominal capacity, mAh.
    pub mah: f64,
    /// Nominal voltage, V.
    pub volts: f64,
}

/// One battery preset: name, capacity (mAh), voltage (V), source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryPreset {
    pub name: &'static str,
    pub mah: f64,
    pub volts: f64,
    /// Where the capacity comes from (also in docs/budgets.md).
    pub source: &'static str,
}

/// The battery presets. Capacities are the makers' nominal figures at a light load (they
/// fall at higher currents and low temperatures); see docs/budgets.md.
pub const BATTERY_PRESETS: &[BatteryPreset] = &[
    BatteryPreset {
        name: "cr2032",
        mah: 225.0,
        volts: 3.0,
        source: "Li-MnO2 coin cell, 225 mAh typical to 2.0 V (IEC 60086 CR2032 / ANSI \
                 5004LC column of the table in en.wikipedia.org/wiki/CR2032_battery; other \
                 sources give 235 mAh); the issue fixes 225 mAh at 3 V",
    },
    BatteryPreset {
        name: "cr2450",
        mah: 620.0,
        volts: 3.0,
        source: "Li-MnO2 coin cell, Panasonic CR2450 nominal capacity 620 mAh (as quoted by \
                 components101.com's CR2450 page; approximate, unverified against the \
                 maker's PDF; other makers rate 550-620 mAh)",
    },
    BatteryPreset {
        name: "aa",
        mah: 2800.0,
        volts: 1.5,
        source: "one alkaline AA (LR6), Energizer E91: about 2800 mAh at a 25 mA load \
                 (Energizer E91 datasheet, as quoted; approximate, unverified)",
    },
    BatteryPreset {
        name: "2xaa",
        mah: 2800.0,
        volts: 3.0,
        source: "two alkaline AA in series: the capacity of one (2800 mAh, Energizer E91) at \
                 twice the voltage",
    },
    BatteryPreset {
        name: "lipo-100mah",
        mah: 100.0,
        volts: 3.7,
        source: "a 100 mAh lithium-polymer cell: the capacity is its rating, 3.7 V is the \
                 nominal voltage of a LiCoO2 Li-ion/LiPo cell",
    },
    BatteryPreset {
        name: "lipo-500mah",
        mah: 500.0,
        volts: 3.7,
        source: "a 500 mAh lithium-polymer cell: the capacity is its rating, 3.7 V nominal",
    },
];

/// The default battery when a rate is given: CR2032.
pub const DEFAULT_BATTERY: &str = "cr2032";

impl Battery {
    /// A battery from its capacity and voltage, both positive and finite.
    pub fn new(name: impl Into<String>, mah: f64, volts: f64) -> Result<Battery, BudgetError> {
        let name = name.into();
        for (what, v) in [("capacity (mAh)", mah), ("voltage (V)", volts)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(BudgetError::Battery {
                    value: name,
                    reason: format!("{what} {v} must be a positive number"),
                });
            }
        }
        Ok(Battery { name, mah, volts })
    }

    /// A preset by name (case-insensitive).
    pub fn preset(name: &str) -> Option<Battery> {
        let n = name.trim().to_ascii_lowercase();
        BATTERY_PRESETS
            .iter()
            .find(|p| p.name == n)
            .map(|p| Battery {
                name: p.name.to_string(),
                mah: p.mah,
                volts: p.volts,
            })
    }

    /// The default battery ([`DEFAULT_BATTERY`]).
    pub fn default_battery() -> Battery {
        Battery::preset(DEFAULT_BATTERY).expect("the default battery is a preset")
    }

    /// Parses `NAME` (a preset) or `MAH@V`: `225mAh@3V`, `225@3`, `1000 mAh @ 3.7 V`
    /// (units optional, case-insensitive).
    pub fn parse(spec: &str) -> Result<Battery, BudgetError> {
        let s = spec.trim();
        if let Some(b) = Battery::preset(s) {
            return Ok(b);
        }
        let bad = |reason: String| BudgetError::Battery {
            value: spec.to_string(),
            reason,
        };
        let names = || {
            BATTERY_PRESETS
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((c, v)) = s.split_once('@') else {
            return Err(bad(format!(
                "not a preset ({}) nor MAH@V (e.g. 225mAh@3V)",
                names()
            )));
        };
        let number = |text: &str, unit: &str, what: &str| -> Result<f64, BudgetError> {
            let t = text.trim();
            let lower = t.to_ascii_lowercase();
            let t = lower.strip_suffix(unit).unwrap_or(&lower).trim();
            let x: f64 = t.parse().map_err(|_| {
                bad(format!(
                    "{what} `{}` is not a number (expected MAH@V, e.g. 225mAh@3V)",
                    text.trim()
                ))
            })?;
            if !(x.is_finite() && x > 0.0) {
                return Err(bad(format!("{what} {x} must be a positive number")));
            }
            Ok(x)
        };
        let mah = number(c, "mah", "capacity")?;
        let volts = number(v, "v", "voltage")?;
        Ok(Battery {
            name: s.to_string(),
            mah,
            volts,
        })
    }

    /// Stored energy, joules: `mAh x 3.6 C/mAh x V`.
    pub fn energy_j(&self) -> f64 {
        self.mah * 3.6 * self.volts
    }

    /// Stored energy, microwatt-hours: `mAh x V x 1000`.
    pub fn energy_uwh(&self) -> f64 {
        self.mah * self.volts * 1000.0
    }

    /// Hours at a constant average power (uW); infinite for 0 uW.
    pub fn hours_at(&self, avg_power_uw: f64) -> f64 {
        self.energy_uwh() / avg_power_uw
    }
}

impl FromStr for Battery {
    type Err = BudgetError;
    fn from_str(s: &str) -> Result<Battery, BudgetError> {
        Battery::parse(s)
    }
}

impl fmt::Display for Battery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} mAh @ {} V)", self.name, self.mah, self.volts)
    }
}

// ---------------------------------------------------------------------------------------
// Deadlines
// ---------------------------------------------------------------------------------------

/// A real-time requirement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Deadline {
    /// One inference every `1 / hz` seconds; each must finish within its period.
    Rate(f64),
    /// Each inference must finish within this many milliseconds (no rate implied).
    Latency(f64),
}

fn positive(what: &'static str, value: f64, text: &str) -> Result<f64, BudgetError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(BudgetError::Deadline {
            what,
            value: text.to_string(),
            reason: "must be a positive finite number".into(),
        })
    }
}

impl Deadline {
    /// `--rate HZ`: checked positive and finite.
    pub fn rate(hz: f64) -> Result<Deadline, BudgetError> {
        positive("rate", hz, &hz.to_string()).map(Deadline::Rate)
    }

    /// `--deadline MS`: checked positive and finite.
    pub fn latency_ms(ms: f64) -> Result<Deadline, BudgetError> {
        positive("deadline", ms, &ms.to_string()).map(Deadline::Latency)
    }

    /// Parses the text of `--rate` (`10`, `10Hz`, `0.5 hz`).
    pub fn parse_rate(text: &str) -> Result<Deadline, BudgetError> {
        let v = parse_number(text, "hz", "rate")?;
        positive("rate", v, text).map(Deadline::Rate)
    }

    /// Parses the text of `--deadline` in milliseconds (`5`, `5ms`, `2.5 ms`).
    pub fn parse_latency_ms(text: &str) -> Result<Deadline, BudgetError> {
        let v = parse_number(text, "ms", "deadline")?;
        positive("deadline", v, text).map(Deadline::Latency)
    }

    /// Parses either form by its unit: `10Hz` is a rate, `5ms` a latency bound (a bare
    /// number is rejected: the unit says which).
    pub fn parse(text: &str) -> Result<Deadline, BudgetError> {
        let lower = text.trim().to_ascii_lowercase();
        if lower.ends_with("hz") {
            Deadline::parse_rate(text)
        } else if lower.ends_with("ms") {
            Deadline::parse_latency_ms(text)
        } else {
            Err(BudgetError::Deadline {
                what: "deadline",
                value: text.to_string(),
                reason: "expected a rate (`10Hz`) or a latency (`5ms`)".into(),
            })
        }
    }

    /// The latency budget of one inference, us: the period `1e6 / hz` or `ms x 1000`.
    pub fn budget_us(&self) -> f64 {
        match *self {
            Deadline::Rate(hz) => 1e6 / hz,
            Deadline::Latency(ms) => ms * 1000.0,
        }
    }

    /// The inference rate, when the requirement implies one.
    pub fn rate_hz(&self) -> Option<f64> {
        match *self {
            Deadline::Rate(hz) => Some(hz),
            Deadline::Latency(_) => None,
        }
    }

    /// Whether an inference of `latency_us` meets the deadline (`latency <= budget`), and
    /// the margin `budget - latency` in us (negative when missed).
    pub fn met(&self, latency_us: f64) -> (bool, f64) {
        let margin = self.budget_us() - latency_us;
        (margin >= 0.0, margin)
    }
}

fn parse_number(text: &str, unit: &str, what: &'static str) -> Result<f64, BudgetError> {
    let lower = text.trim().to_ascii_lowercase();
    let t = lower.strip_suffix(unit).unwrap_or(&lower).trim();
    t.parse::<f64>().map_err(|_| BudgetError::Deadline {
        what,
        value: text.to_string(),
        reason: format!("not a number (e.g. `10` or `10{unit}`)"),
    })
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deadline::Rate(hz) => write!(f, "{hz} Hz ({} us period)", 1e6 / hz),
            Deadline::Latency(ms) => write!(f, "{ms} ms"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Accelerator sleep
// ---------------------------------------------------------------------------------------

/// What the accelerator draws between inferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccelSleep {
    /// Power-gated: 0 uW (its scratchpads lose their contents; weights are reloaded by the
    /// next inference anyway, as the driver streams them every layer).
    #[default]
    Gated,
    /// Retention: the scratchpad SRAMs stay powered, drawing their leakage
    /// (`AccelConfig::sram_leakage_uw`); the PE array is gated.
    Retention,
}

impl AccelSleep {
    pub fn as_str(self) -> &'static str {
        match self {
            AccelSleep::Gated => "gated",
            AccelSleep::Retention => "retention",
        }
    }

    /// Sleep power of the accelerator of `cfg`, uW.
    pub fn power_uw(self, cfg: &arch::AccelConfig) -> f64 {
        match self {
            AccelSleep::Gated => 0.0,
            AccelSleep::Retention => cfg.sram_leakage_uw(),
        }
    }
}

impl FromStr for AccelSleep {
    type Err = BudgetError;
    fn from_str(s: &str) -> Result<AccelSleep, BudgetError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gated" => Ok(AccelSleep::Gated),
            "retention" => Ok(AccelSleep::Retention),
            _ => Err(BudgetError::AccelSleep(s.to_string())),
        }
    }
}

impl fmt::Display for AccelSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Duty cycle
// ---------------------------------------------------------------------------------------

/// Average power of a duty-cycled device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DutyCycle {
    /// Inference rate, Hz.
    pub rate_hz: f64,
    /// `rate x latency`, in `[0, 1]`.
    pub active_fraction: f64,
    /// `E x rate`, uW: the inferences' share.
    pub active_uw: f64,
    /// `(P_sleep_cpu + P_sleep_accel) x (1 - active_fraction)`, uW: the sleep share.
    pub sleep_uw: f64,
    /// `active_uw + sleep_uw`, uW.
    pub avg_power_uw: f64,
}

impl DutyCycle {
    /// Battery life at this average power, hours (self-discharge and regulator losses
    /// ignored).
    pub fn battery_hours(&self, battery: &Battery) -> f64 {
        battery.hours_at(self.avg_power_uw)
    }

    /// Battery life, days.
    pub fn battery_days(&self, battery: &Battery) -> f64 {
        self.battery_hours(battery) / 24.0
    }
}

/// The average power of one inference of `energy_per_inference_uj` taking `latency_us`,
/// repeated at `rate_hz`, with the CPU in its sleep mode (`sleep_uw`) and the accelerator
/// drawing `accel_sleep_uw` ([`AccelSleep::power_uw`]; 0 for a CPU-only target) between
/// inferences:
///
/// `avg = E x rate + (sleep_uw + accel_sleep_uw) x (1 - rate x latency)`.
///
/// The energy per inference is the whole active energy (CPU and accelerator); the sleep
/// terms apply only to the idle fraction. Errors: a negative or non-finite input, a rate
/// that is not positive, and [`BudgetError::Infeasible`] when `rate x latency > 1`.
pub fn duty_cycle(
    energy_per_inference_uj: f64,
    latency_us: f64,
    rate_hz: f64,
    sleep_uw: f64,
    accel_sleep_uw: f64,
) -> Result<DutyCycle, BudgetError> {
    let check = |field: &'static str, value: f64| {
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(BudgetError::Input {
                field,
                value,
                reason: "must be finite and >= 0",
            })
        }
    };
    check("energy_per_inference_uj", energy_per_inference_uj)?;
    check("latency_us", latency_us)?;
    check("sleep_uw", sleep_uw)?;
    check("accel_sleep_uw", accel_sleep_uw)?;
    if !(rate_hz.is_finite() && rate_hz > 0.0) {
        return Err(BudgetError::Input {
            field: "rate_hz",
            value: rate_hz,
            reason: "must be finite and > 0",
        });
    }
    let active_fraction = rate_hz * latency_us * 1e-6;
    if active_fraction > 1.0 {
        return Err(BudgetError::Infeasible {
            rate_hz,
            latency_us,
            active_fraction,
            max_rate_hz: 1e6 / latency_us,
        });
    }
    let active_uw = energy_per_inference_uj * rate_hz;
    let sleep = (sleep_uw + accel_sleep_uw) * (1.0 - active_fraction);
    Ok(DutyCycle {
        rate_hz,
        active_fraction,
        active_uw,
        sleep_uw: sleep,
        avg_power_uw: active_uw + sleep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn hand_computed_duty_cycle() {
        // 100 uJ in 10 ms at 1 Hz, CPU sleep 3 uW, accelerator gated:
        // 100 uW + 3 x (1 - 0.01) = 102.97 uW.
        let d = duty_cycle(100.0, 10_000.0, 1.0, 3.0, 0.0).unwrap();
        assert!(close(d.active_fraction, 0.01));
        assert!(close(d.active_uw, 100.0));
        assert!(close(d.sleep_uw, 2.97));
        assert!(close(d.avg_power_uw, 102.97));
        // CR2032: 225 mAh x 3 V = 675,000 uWh -> 675000 / 102.97 h.
        let b = Battery::parse("cr2032").unwrap();
        assert!(close(d.battery_hours(&b), 675_000.0 / 102.97));
        assert!(close(d.battery_days(&b), 675_000.0 / 102.97 / 24.0));
        // Retention adds the accelerator's leakage over the idle fraction.
        let r = duty_cycle(100.0, 10_000.0, 1.0, 3.0, 10.0).unwrap();
        assert!(close(r.avg_power_uw, 100.0 + 13.0 * 0.99));
    }

    #[test]
    fn exactly_busy_and_infeasible_rates() {
        // rate x latency = 1: no sleep at all, power = E x rate.
        let d = duty_cycle(50.0, 100_000.0, 10.0, 1000.0, 5.0).unwrap();
        assert!(close(d.active_fraction, 1.0));
        assert!(close(d.avg_power_uw, 500.0));
        assert_eq!(d.sleep_uw, 0.0);
        // Just over: a typed error with the highest feasible rate.
        match duty_cycle(50.0, 100_000.0, 10.5, 1.0, 0.0) {
            Err(BudgetError::Infeasible {
                active_fraction,
                max_rate_hz,
                ..
            }) => {
                assert!(close(active_fraction, 1.05));
                assert!(close(max_rate_hz, 10.0));
            }
            other => panic!("expected Infeasible, got {other:?}"),
        }
        let msg = duty_cycle(50.0, 100_000.0, 20.0, 1.0, 0.0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("20 Hz") && msg.contains("10 Hz"), "{msg}");
    }

    #[test]
    fn bad_inputs_are_errors_not_nan() {
        for (e, l, r, s, a, field) in [
            (f64::NAN, 1.0, 1.0, 1.0, 0.0, "energy_per_inference_uj"),
            (1.0, -1.0, 1.0, 1.0, 0.0, "latency_us"),
            (1.0, 1.0, 0.0, 1.0, 0.0, "rate_hz"),
            (1.0, 1.0, f64::INFINITY, 1.0, 0.0, "rate_hz"),
            (1.0, 1.0, 1.0, -2.0, 0.0, "sleep_uw"),
            (1.0, 1.0, 1.0, 1.0, f64::NAN, "accel_sleep_uw"),
        ] {
            match duty_cycle(e, l, r, s, a) {
                Err(BudgetError::Input { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected Input error, got {other:?}"),
            }
        }
    }

    #[test]
    fn battery_presets_and_parser() {
        let c = Battery::parse("CR2032").unwrap();
        assert_eq!((c.name.as_str(), c.mah, c.volts), ("cr2032", 225.0, 3.0));
        assert!(close(c.energy_j(), 2430.0)); // 225 x 3.6 x 3
        assert!(close(c.energy_uwh(), 675_000.0));
        assert!(close(c.hours_at(1000.0), 675.0));
        let aa2 = Battery::parse("2xaa").unwrap();
        assert!(close(aa2.volts, 2.0 * Battery::parse("aa").unwrap().volts));
        for spec in ["225mAh@3V", "225@3", " 225 mAh @ 3 V ", "225MAH@3v"] {
            let b = Battery::parse(spec).unwrap();
            assert_eq!((b.mah, b.volts), (225.0, 3.0), "{spec}");
        }
        let b: Battery = "1000mAh@3.7V".parse().unwrap();
        assert_eq!((b.mah, b.volts), (1000.0, 3.7));
        assert_eq!(Battery::default_battery().name, "cr2032");
        for p in BATTERY_PRESETS {
            assert!(p.mah > 0.0 && p.volts > 0.0 && !p.source.is_empty());
            assert_eq!(Battery::preset(p.name).unwrap().mah, p.mah);
        }
    }

    #[test]
    fn battery_parser_errors_name_the_value() {
        for (spec, needle) in [
            ("cr9999", "not a preset"),
            ("abc@3V", "capacity `abc`"),
            ("225mAh@xV", "voltage `xV`"),
            ("0mAh@3V", "capacity 0"),
            ("225mAh@-3V", "voltage -3"),
            ("225mAh@infV", "voltage inf"),
        ] {
            let e = Battery::parse(spec).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e, BudgetError::Battery { .. }), "{spec}: {e:?}");
            assert!(m.contains(&format!("`{spec}`")), "{spec}: {m}");
            assert!(m.contains(needle), "{spec}: `{m}` lacks `{needle}`");
        }
        assert!(Battery::new("x", 1.0, 0.0).is_err());
    }

    #[test]
    fn deadlines() {
        let r = Deadline::parse_rate("10Hz").unwrap();
        assert_eq!(r, Deadline::Rate(10.0));
        assert!(close(r.budget_us(), 100_000.0));
        assert_eq!(r.rate_hz(), Some(10.0));
        let (ok, margin) = r.met(60_000.0);
        assert!(ok && close(margin, 40_000.0));
        let (ok, margin) = r.met(120_000.0);
        assert!(!ok && close(margin, -20_000.0));
        // Exactly on the deadline meets it.
        assert!(r.met(100_000.0).0);

        let l = Deadline::parse_latency_ms("2.5 ms").unwrap();
        assert_eq!(l, Deadline::Latency(2.5));
        assert_eq!(l.rate_hz(), None);
        let (ok, margin) = l.met(3000.0);
        assert!(!ok && close(margin, -500.0));

        assert_eq!(Deadline::parse("5ms").unwrap(), Deadline::Latency(5.0));
        assert_eq!(Deadline::parse("20hz").unwrap(), Deadline::Rate(20.0));
        for bad in ["0", "-1", "x", "inf", "NaN"] {
            let e = Deadline::parse_rate(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
            assert!(Deadline::parse_latency_ms(bad).is_err());
        }
        assert!(Deadline::parse("5").is_err());
        assert!(Deadline::rate(0.0).is_err());
        assert!(Deadline::latency_ms(f64::NAN).is_err());
    }

    #[test]
    fn accel_sleep() {
        assert_eq!("gated".parse::<AccelSleep>().unwrap(), AccelSleep::Gated);
        assert_eq!(
            "Retention".parse::<AccelSleep>().unwrap(),
            AccelSleep::Retention
        );
        assert_eq!(AccelSleep::default(), AccelSleep::Gated);
        let e = "off".parse::<AccelSleep>().unwrap_err().to_string();
        assert!(e.contains("`off`"), "{e}");
        let cfg = arch::AccelConfig::preset("edge-8x8").unwrap();
        assert_eq!(AccelSleep::Gated.power_uw(&cfg), 0.0);
        let want = cfg.sram_leakage_uw();
        assert!(want > 0.0);
        assert!(close(AccelSleep::Retention.power_uw(&cfg), want));
    }
}
