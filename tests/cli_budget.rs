//! Budgets through the binary (issue 26): `report --rate 1` shows memory fit, deadline,
//! average power and battery life for every model and target, in the terminal and in
//! report.json, with the same numbers as `run --json`; a model that does not fit is
//! flagged; moving the command streams to flash moves their bytes from SRAM to flash;
//! bad flag values are user errors naming the value.

use serde_json::Value;
use std::process::Command;

fn tinyaccel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinyaccel"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `report --rate 1 ...` into a temporary folder: (terminal text, report.json).
fn report(extra: &[&str]) -> (String, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rep");
    let text = ok(tinyaccel()
        // One CPU library (report's default runs both, issue 22): the budget checks below
        // read one run per model.
        .args(["report", "--quiet", "--no-png"])
        .args(if extra.contains(&"--cpu") {
            &[][..]
        } else {
            &["--cpu", "cortex-m4f"][..]
        })
        .args(extra)
        .arg("--out")
        .arg(&out));
    let json: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Budgets"),
        "report.md lacks the budgets section"
    );
    assert!(out.join("plots/memory-footprint.svg").is_file());
    (text, json)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn part(mem: &Value, name: &str) -> u64 {
    mem["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| p["bytes"].as_u64().unwrap())
        .sum()
}

#[test]
fn report_rate_1_shows_every_budget_field() {
    let (text, json) = report(&["--rate", "1"]);
    assert!(
        text.contains("Budgets: 1.00 inferences per second"),
        "{text}"
    );
    assert!(text.contains("battery cr2032 (225 mAh at 3.00 V"), "{text}");
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 4);
    for m in models {
        let name = m["model"].as_str().unwrap();
        let b = &m["budget"];
        assert_eq!(b["settings"]["rate_hz"], 1.0);
        assert_eq!(b["settings"]["battery"]["name"], "cr2032");
        assert_eq!(b["settings"]["cmd_streams"], "sram");
        let sleep = f(&b["settings"]["cpu_sleep_uw"]);
        assert!(sleep > 0.0);
        for (target, lat, e) in [
            ("cpu_only", "cpu_us", "cpu_uj"),
            ("offloaded", "offload_us", "offload_uj"),
        ] {
            let t = &b[target];
            // Memory: used = sum of the parts, against the STM32L4R5's 2 MiB / 640 KiB.
            for (mem, cap) in [("flash", 2048 * 1024), ("sram", 640 * 1024)] {
                let u = &t[mem];
                let sum: u64 = u["parts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["bytes"].as_u64().unwrap())
                    .sum();
                assert_eq!(
                    u["used_bytes"].as_u64().unwrap(),
                    sum,
                    "{name} {target} {mem}"
                );
                assert_eq!(u["capacity_bytes"].as_u64().unwrap(), cap);
                assert_eq!(u["fits"].as_bool().unwrap(), sum <= cap);
                assert_eq!(
                    u["shortfall_bytes"].as_u64().unwrap(),
                    sum.saturating_sub(cap)
                );
            }
            // The inference is the model's totals.
            let l = f(&t["inference_us"]);
            let en = f(&t["inference_uj"]);
            assert_eq!(l, f(&m["totals"][lat]));
            assert_eq!(en, f(&m["totals"][e]));
            // Deadline = the 1 s period.
            assert_eq!(f(&t["deadline"]["deadline_us"]), 1e6);
            assert_eq!(f(&t["deadline"]["margin_us"]), 1e6 - l);
            assert_eq!(t["deadline"]["met"].as_bool().unwrap(), l <= 1e6);
            // Power and CR2032 life by their formulas (sleep: CPU only; gated accelerator).
            let p = &t["power"];
            assert!(p["feasible"].as_bool().unwrap());
            let want = en * 1.0 + sleep * (1.0 - l * 1e-6);
            let got = f(&p["avg_power_uw"]);
            assert!(
                (got - want).abs() <= 1e-9 * want,
                "{name} {target}: {got} vs {want}"
            );
            let hours = f(&p["battery_hours"]);
            assert!((hours - 225.0 * 3.0 * 1000.0 / got).abs() <= 1e-9 * hours);
            assert!((f(&p["battery_days"]) - hours / 24.0).abs() <= 1e-9 * hours);
        }
        // The terminal table has both rows of every model.
        for target in ["CPU only", "offloaded"] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("| {name} | {target} |"))),
                "no terminal row for {name} {target}:\n{text}"
            );
        }
    }
    // The offloaded run of kws at 1 Hz draws less than the CPU-only one.
    let kws = &models[0]["budget"];
    assert!(
        f(&kws["offloaded"]["power"]["avg_power_uw"])
            < f(&kws["cpu_only"]["power"]["avg_power_uw"])
    );
    // `run --json` gives the same budget for the same model, config and profile.
    let run: Value = serde_json::from_str(&ok(tinyaccel().args([
        "run",
        "kws",
        "--accel",
        "edge-8x8",
        "--cpu",
        "cortex-m4f",
        "--rate",
        "1",
        "--json",
    ])))
    .unwrap();
    assert_eq!(run["budget"], models[0]["budget"]);
}

#[test]
fn a_model_that_does_not_fit_is_flagged() {
    // vww offloaded on edge-8x8 keeps ~720 KB of command streams plus ~370 KB of packed
    // weights in SRAM: more than the STM32L4R5's 640 KiB. On a Cortex-M0+ part (128 KiB
    // flash, 36 KiB SRAM) even the CPU-only vww (~320 KB of weights) does not fit.
    let (text, json) = report(&["--model", "vww", "--cpu", "cortex-m4f", "cortex-m0plus"]);
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    let m4 = &models[0]["budget"];
    assert!(m4["cpu_only"]["fits"].as_bool().unwrap());
    let off = &m4["offloaded"];
    assert!(!off["fits"].as_bool().unwrap());
    assert!(off["flash"]["fits"].as_bool().unwrap());
    assert!(!off["sram"]["fits"].as_bool().unwrap());
    let short = off["sram"]["shortfall_bytes"].as_u64().unwrap();
    assert_eq!(
        short,
        off["sram"]["used_bytes"].as_u64().unwrap() - 640 * 1024
    );
    let kib = format!("does not fit: SRAM by {:.1} KiB", short as f64 / 1024.0);
    assert!(text.contains(&kib), "`{kib}` not in:\n{text}");
    let m0 = &models[1]["budget"]["cpu_only"];
    assert!(!m0["flash"]["fits"].as_bool().unwrap() && !m0["sram"]["fits"].as_bool().unwrap());
    assert!(text.contains("does not fit: flash by"), "{text}");
    // Without a rate: memory only, no deadline or power.
    assert!(off["deadline"].is_null() && off["power"].is_null());
}

#[test]
fn command_streams_in_flash_move_their_bytes_out_of_sram() {
    let (_, sram) = report(&["--model", "kws", "--rate", "1"]);
    let (_, flash) = report(&["--model", "kws", "--rate", "1", "--cmd-streams", "flash"]);
    let (_, gen) = report(&["--model", "kws", "--rate", "1", "--cmd-streams", "generate"]);
    let b = |j: &Value| j["models"][0]["budget"].clone();
    let (s, fl, g) = (b(&sram), b(&flash), b(&gen));
    let streams = part(&s["offloaded"]["sram"], "command streams");
    assert!(
        streams > 100_000,
        "kws keeps {streams} bytes of command streams in SRAM"
    );
    assert_eq!(part(&fl["offloaded"]["sram"], "command streams"), 0);
    let used = |x: &Value, mem: &str| x["offloaded"][mem]["used_bytes"].as_u64().unwrap();
    assert!(used(&fl, "sram") < used(&s, "sram"));
    assert_eq!(used(&s, "sram") - used(&fl, "sram"), streams);
    assert!(used(&fl, "flash") > used(&s, "flash"));
    // The CPU-only footprint does not depend on the policy.
    assert_eq!(s["cpu_only"], fl["cpu_only"]);
    // Flash changes no time; generate costs CPU time and needs only one layer's streams.
    assert_eq!(
        s["offloaded"]["inference_us"],
        fl["offloaded"]["inference_us"]
    );
    assert!(f(&g["offloaded"]["inference_us"]) > f(&s["offloaded"]["inference_us"]));
    assert!(used(&g, "sram") < used(&s, "sram"));
    assert_eq!(used(&g, "flash"), used(&s, "flash"));
    // Without the option the report is today's (same totals as --cmd-streams sram).
    assert_eq!(
        sram["models"][0]["totals"],
        report(&["--model", "kws"]).1["models"][0]["totals"]
    );
}

#[test]
fn budget_flags_reject_bad_values_naming_them() {
    for (args, want) in [
        (vec!["--rate", "abc"], "--rate abc"),
        (vec!["--rate=-1"], "--rate -1"),
        (vec!["--deadline", "0ms"], "--deadline 0ms"),
        (
            vec!["--rate", "1", "--battery", "9V-block"],
            "--battery 9V-block",
        ),
        (vec!["--battery", "cr2032"], "needs --rate"),
        (vec!["--accel-sleep", "off"], "--accel-sleep off"),
        (vec!["--cmd-streams", "rom"], "--cmd-streams rom"),
    ] {
        let out = tinyaccel()
            .args(["run", "kws", "--accel", "edge-8x8", "--sim", "functional"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn infeasible_rate_and_deadline_are_flags_not_nan() {
    // vww on the CPU takes ~0.55 s: 10 Hz is infeasible, a 100 ms deadline is missed.
    let run: Value = serde_json::from_str(&ok(tinyaccel().args([
        "run",
        "vww",
        "--cpu",
        "cortex-m4f",
        "--rate",
        "10",
        "--deadline",
        "100",
        "--json",
    ])))
    .unwrap();
    let t = &run["budget"]["cpu_only"];
    assert_eq!(f(&t["deadline"]["deadline_us"]), 100_000.0);
    assert!(!t["deadline"]["met"].as_bool().unwrap());
    assert!(f(&t["deadline"]["margin_us"]) < 0.0);
    assert!(!t["power"]["feasible"].as_bool().unwrap());
    assert!(t["power"]["avg_power_uw"].is_null() && t["power"]["battery_hours"].is_null());
    // Retention adds the accelerator's SRAM leakage to the offloaded sleep power only.
    let (_, gated) = report(&["--model", "ad", "--rate", "0.1"]);
    let (_, ret) = report(&[
        "--model",
        "ad",
        "--rate",
        "0.1",
        "--accel-sleep",
        "retention",
    ]);
    let g = &gated["models"][0]["budget"];
    let r = &ret["models"][0]["budget"];
    assert_eq!(f(&g["settings"]["accel_sleep_uw"]), 0.0);
    let leak = f(&r["settings"]["accel_sleep_uw"]);
    assert!(leak > 0.0);
    assert_eq!(g["cpu_only"], r["cpu_only"]);
    assert_eq!(
        f(&r["offloaded"]["power"]["sleep_uw"]),
        f(&g["offloaded"]["power"]["sleep_uw"]) + leak
    );
    assert!(
        f(&r["offloaded"]["power"]["avg_power_uw"]) > f(&g["offloaded"]["power"]["avg_power_uw"])
    );
}

#[test]
fn sweep_takes_the_budget_flags() {
    // One design (edge-8x8) and vww: its command streams in SRAM overflow the L4R5's
    // 640 KiB, in flash they fit; `--require fits` makes the first infeasible.
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("grid.toml");
    std::fs::write(&grid, "base = \"edge-8x8\"\n[sweep]\nrows = [8]\n").unwrap();
    let mut rows = Vec::new();
    for policy in ["sram", "flash"] {
        let out = tmp.path().join(policy);
        ok(tinyaccel()
            .args(["sweep", "--quiet", "--no-png", "--model", "vww", "--grid"])
            .arg(&grid)
            .args(["--rate", "1", "--require", "fits", "--cmd-streams", policy])
            .arg("--out")
            .arg(&out));
        let text = std::fs::read_to_string(out.join("results.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let head: Vec<&str> = lines[0].split(',').collect();
        let row: Vec<&str> = lines[1].split(',').collect();
        let cell = |k: &str| {
            row[head
                .iter()
                .position(|h| *h == k)
                .unwrap_or_else(|| panic!("no column {k} in {text}"))]
            .to_string()
        };
        rows.push((
            cell("sram_bytes").parse::<u64>().unwrap(),
            cell("fits_sram"),
            cell("feasible"),
        ));
    }
    assert!(rows[1].0 < rows[0].0, "{rows:?}");
    assert_eq!(rows[0].1, "false");
    assert_eq!(rows[0].2, "false");
    assert_eq!(rows[1].1, "true");
}
