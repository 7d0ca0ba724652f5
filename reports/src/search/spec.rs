//! What a search optimises and requires: objectives (`kws.latency`, `energy`, `area`) and
//! constraints (`kws.latency_ms <= 1`, `energy_uj <= 50`), read from the rows of a design.

use crate::sweep::results::{ResultRow, RowMetrics, Status};

/// A quantity of a design on one model (or, for `area_mm2`, of the design).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    LatencyMs,
    LatencyUs,
    EnergyUj,
    AreaMm2,
    /// Energy-delay product, us x uJ.
    Edp,
    Speedup,
    EnergyRatio,
    ArrayUtilization,
}

impl Metric {
    /// The names accepted, with their metric. Objectives also accept the short forms
    /// `latency`, `energy`, `area`.
    pub const NAMES: [(&'static str, Metric); 8] = [
        ("latency_ms", Metric::LatencyMs),
        ("latency_us", Metric::LatencyUs),
        ("energy_uj", Metric::EnergyUj),
        ("area_mm2", Metric::AreaMm2),
        ("edp", Metric::Edp),
        ("speedup", Metric::Speedup),
        ("energy_ratio", Metric::EnergyRatio),
        ("array_utilization", Metric::ArrayUtilization),
    ];

    fn parse(s: &str) -> Option<Metric> {
        let s = match s {
            "latency" => "latency_ms",
            "energy" => "energy_uj",
            "area" => "area_mm2",
            other => other,
        };
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, m)| *m)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .expect("listed")
            .0
    }

    /// Larger is better (the search minimises its reciprocal as an objective).
    pub fn maximised(self) -> bool {
        matches!(
            self,
            Metric::Speedup | Metric::EnergyRatio | Metric::ArrayUtilization
        )
    }

    /// The value in one `ok` row.
    pub fn of(self, m: &RowMetrics) -> f64 {
        match self {
            Metric::LatencyMs => m.offload_us / 1000.0,
            Metric::LatencyUs => m.offload_us,
            Metric::EnergyUj => m.offload_uj,
            Metric::AreaMm2 => m.area_mm2,
            Metric::Edp => m.offload_us * m.offload_uj,
            Metric::Speedup => m.speedup,
            Metric::EnergyRatio => m.energy_ratio,
            Metric::ArrayUtilization => m.array_utilization,
        }
    }
}

/// `MODEL.METRIC` or `METRIC`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Index into the search's models; `None` = every model (objectives: their geometric
    /// mean; constraints: each model must meet it). `area_mm2` never has a model.
    pub model: Option<usize>,
    pub metric: Metric,
}

impl Target {
    fn parse(s: &str, models: &[String]) -> Result<Target, String> {
        let s = s.trim();
        let names = || {
            Metric::NAMES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(metric) = Metric::parse(s) {
            return Ok(Target {
                model: None,
                metric,
            });
        }
        let (model, metric) = s.rsplit_once('.').ok_or_else(|| {
            format!(
                "`{s}`: expected METRIC or MODEL.METRIC; metrics: {}",
                names()
            )
        })?;
        let metric = Metric::parse(metric)
            .ok_or_else(|| format!("`{s}`: unknown metric `{metric}`; metrics: {}", names()))?;
        let m = models.iter().position(|x| x == model).ok_or_else(|| {
            format!(
                "`{s}`: model `{model}` is not one of the searched models ({})",
                models.join(", ")
            )
        })?;
        Ok(Target {
            model: (metric != Metric::AreaMm2).then_some(m),
            metric,
        })
    }

    /// The text form (`kws.latency_ms`, `energy_uj`).
    pub fn label(&self, models: &[String]) -> String {
        match self.model {
            Some(m) => format!("{}.{}", models[m], self.metric.name()),
            None => self.metric.name().to_string(),
        }
    }

    /// The values this target reads from a design's rows (one per model in scope);
    /// `None` when a row in scope is not `ok`.
    fn values(&self, rows: &[ResultRow]) -> Option<Vec<f64>> {
        let scope: Vec<&ResultRow> = match (self.model, self.metric) {
            (_, Metric::AreaMm2) => rows.iter().take(1).collect(),
            (Some(m), _) => rows.get(m).into_iter().collect(),
            (None, _) => rows.iter().collect(),
        };
        scope
            .iter()
            .map(|r| match (&r.status, &r.metrics) {
                (Status::Ok, Some(m)) => Some(self.metric.of(m)),
                _ => None,
            })
            .collect()
    }
}

/// `<=` or `>=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Le,
    Ge,
}

/// `TARGET <= BOUND` or `TARGET >= BOUND`.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub target: Target,
    pub cmp: Cmp,
    pub bound: f64,
}

impl Constraint {
    /// Parses `kws.latency_ms <= 1`, `energy_uj<=50`, `speedup >= 10`.
    pub fn parse(s: &str, models: &[String]) -> Result<Constraint, String> {
        let (lhs, cmp, rhs) = if let Some((l, r)) = s.split_once("<=") {
            (l, Cmp::Le, r)
        } else if let Some((l, r)) = s.split_once(">=") {
            (l, Cmp::Ge, r)
        } else {
            return Err(format!(
                "constraint `{s}`: expected TARGET <= BOUND or TARGET >= BOUND, e.g. `kws.latency_ms <= 1`"
            ));
        };
        let target = Target::parse(lhs, models).map_err(|e| format!("constraint {e}"))?;
        let bound: f64 = rhs.trim().parse().map_err(|_| {
            format!(
                "constraint `{s}`: the bound `{}` is not a number",
                rhs.trim()
            )
        })?;
        if !bound.is_finite() {
            return Err(format!("constraint `{s}`: the bound must be finite"));
        }
        Ok(Constraint { target, cmp, bound })
    }

    pub fn label(&self, models: &[String]) -> String {
        let op = match self.cmp {
            Cmp::Le => "<=",
            Cmp::Ge => ">=",
        };
        format!("{} {op} {}", self.target.label(models), self.bound)
    }

    /// The normalised violation of one value: 0 when met, else the relative excess.
    pub fn violation_of(&self, v: f64) -> f64 {
        let excess = match self.cmp {
            Cmp::Le => v - self.bound,
            Cmp::Ge => self.bound - v,
        };
        if excess <= 0.0 {
            0.0
        } else {
            excess / self.bound.abs().max(f64::MIN_POSITIVE)
        }
    }
}

/// Objectives and constraints of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub models: Vec<String>,
    pub objectives: Vec<Target>,
    pub constraints: Vec<Constraint>,
}

impl Spec {
    /// Parses objective and constraint texts against the searched models.
    pub fn parse(
        models: &[String],
        objectives: &[String],
        constraints: &[String],
    ) -> Result<Spec, String> {
        if objectives.is_empty() {
            return Err("no objective: give one or more of latency, energy, area, edp (optionally MODEL.METRIC)".into());
        }
        let objectives: Vec<Target> = objectives
            .iter()
            .map(|o| Target::parse(o, models).map_err(|e| format!("objective {e}")))
            .collect::<Result<_, _>>()?;
        for (i, o) in objectives.iter().enumerate() {
            if objectives[..i].contains(o) {
                return Err(format!("objective `{}` is given twice", o.label(models)));
            }
        }
        let constraints = constraints
            .iter()
            .map(|c| Constraint::parse(c, models))
            .collect::<Result<_, _>>()?;
        Ok(Spec {
            models: models.to_vec(),
            objectives,
            constraints,
        })
    }

    pub fn objective_labels(&self) -> Vec<String> {
        self.objectives
            .iter()
            .map(|o| o.label(&self.models))
            .collect()
    }

    /// The search's view of a design from its rows (one per model, in model order):
    /// objective values (geometric mean over models for a target without a model;
    /// reciprocals for maximised metrics) and the total constraint violation (infinite
    /// when a row is not `ok`).
    pub fn eval(&self, rows: &[ResultRow]) -> super::nsga2::Eval {
        let bad = super::nsga2::Eval {
            objectives: vec![f64::INFINITY; self.objectives.len()],
            violation: f64::INFINITY,
        };
        if rows.len() != self.models.len() || rows.iter().any(|r| r.status != Status::Ok) {
            return bad;
        }
        let mut objectives = Vec::with_capacity(self.objectives.len());
        for o in &self.objectives {
            let Some(v) = o.values(rows) else { return bad };
            let g = (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp();
            objectives.push(if o.metric.maximised() { 1.0 / g } else { g });
        }
        let mut violation = 0.0;
        for c in &self.constraints {
            let Some(v) = c.target.values(rows) else {
                return bad;
            };
            violation += v.iter().map(|&x| c.violation_of(x)).sum::<f64>();
        }
        super::nsga2::Eval {
            objectives,
            violation,
        }
    }

    /// Per constraint, the worst value over its models (for reports).
    pub fn constraint_values(&self, rows: &[ResultRow]) -> Vec<Option<f64>> {
        self.constraints
            .iter()
            .map(|c| {
                let v = c.target.values(rows)?;
                let worst = match c.cmp {
                    Cmp::Le => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Cmp::Ge => v.iter().copied().fold(f64::INFINITY, f64::min),
                };
                Some(worst)
            })
            .collect()
    }

    /// An objective's value as a user reads it (undoing the reciprocal of maximised metrics).
    pub fn shown(&self, k: usize, v: f64) -> f64 {
        if self.objectives[k].metric.maximised() {
            1.0 / v
        } else {
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> Vec<String> {
        vec!["kws".into(), "ic".into()]
    }

    #[test]
    fn parses_targets_and_constraints() {
        let s = Spec::parse(
            &models(),
            &["kws.latency".into(), "energy".into(), "area".into()],
            &["kws.latency_ms <= 1".into(), "speedup>=10".into()],
        )
        .unwrap();
        assert_eq!(
            s.objective_labels(),
            ["kws.latency_ms", "energy_uj", "area_mm2"]
        );
        assert_eq!(s.constraints[0].label(&s.models), "kws.latency_ms <= 1");
        assert_eq!(s.constraints[1].cmp, Cmp::Ge);
        for (bad, says) in [
            ("vww.latency_ms <= 1", "model `vww` is not one of"),
            ("kws.speed <= 1", "unknown metric `speed`"),
            ("kws.latency_ms < 1", "expected TARGET <= BOUND"),
            ("latency_ms <= fast", "is not a number"),
        ] {
            let e = Spec::parse(&models(), &["area".into()], &[bad.into()]).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(Spec::parse(&models(), &[], &[])
            .unwrap_err()
            .contains("no objective"));
        assert!(
            Spec::parse(&models(), &["area".into(), "area_mm2".into()], &[])
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn violation_is_relative_and_zero_when_met() {
        let c = Constraint::parse("kws.latency_ms <= 2", &models()).unwrap();
        assert_eq!(c.violation_of(1.5), 0.0);
        assert_eq!(c.violation_of(3.0), 0.5);
        let g = Constraint::parse("speedup >= 10", &models()).unwrap();
        assert_eq!(g.violation_of(12.0), 0.0);
        assert_eq!(g.violation_of(5.0), 0.5);
    }
}
