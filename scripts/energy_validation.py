#!/usr/bin/env python3
"""The tables of docs/energy-validation.md: tinyaccel's accelerator energy for kws and ic, and
the published MLPerf Tiny energy of TinyML accelerators on the same two models, per
inference and per MAC.

Table 1 runs `tinyaccel run MODEL --accel CONFIG --json` for every config and model and
reads the `accel` object (result schema tinyaccel-results/1, docs/results-schema.md):
accelerator-only energy = the sum of its energy parts (every `*_uj` field except `cpu_uj`,
`offload_uj` and `offload_cpu_uj`), checked against `offload_uj - offload_cpu_uj`; system
energy = `offload_uj` (accelerator plus the CPU model's share of the offloaded run).

Table 2 reads the MLPerf Tiny results file (one row per system, round and benchmark,
`energy_uJ_per_inf` measured at the device's supply by the EEMBC EnergyRunner) and keeps
the systems with an accelerator listed in ACCELERATOR_SYSTEMS, whose node, voltage and
clock come from the cited system descriptions. Their energy per MAC is derived here:
measured energy / the model's MACs as tinyaccel counts them (closed division runs the
reference model, the same .tflite tinyaccel runs).

Table 3 places tinyaccel's energy per MAC between its own MAC energy (below) and the
lowest whole-chip figure of Table 2 on the same model (above), with the MLPerf Tiny v0.5
reference run (Cortex-M4F, no accelerator) for scale. Table 4 sets the energy ratio of one
chip measured at two core voltages against (V2/V1)^2.

    cargo build --release
    python3 scripts/energy_validation.py                 # Markdown on stdout
    python3 scripts/energy_validation.py --out /tmp/ev.md
    python3 scripts/energy_validation.py --update docs/energy-validation.md

Exit status 1 with a message naming the file, command or field when something is missing
or inconsistent; exit status 2 (after writing the tables) when a row of Table 3 falls
outside its range. Only the Python standard library is used.
"""

import argparse
import csv
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CSV = os.path.join(
    REPO, "..", "shared", "mlperf_tiny_results", "published_v0.5_v0.7_v1.0.csv"
)
DEFAULT_CONFIGS = ["edge-8x8", "edge-8x8-tinyml"]
DEFAULT_MODELS = ["kws", "ic"]
# Fields of the `accel` object that are energies but not parts of the accelerator's own energy.
NOT_ACCEL_PARTS = {"cpu_uj", "offload_uj", "offload_cpu_uj"}
SUM_TOLERANCE = 1e-6

SYSTEM_DESC_V10 = "https://github.com/mlcommons/tiny_results_v1.0/blob/main/closed/"
# Metadata of the accelerator systems of the results file: what the file itself does not
# say. Each entry cites the submission's system description (or README) it comes from.
ACCELERATOR_SYSTEMS = {
    "gap9_650_240": {
        "label": "GreenWaves GAP9, NE16 + 9-core RISC-V cluster",
        "node": "22 nm FD-SOI (GF 22FDX) [g1]",
        "chip": "GAP9",
        "vcore": 0.65,
        "volts": "0.65 V core; measured at VIN = 1.8 V",
        "clock": "240 MHz",
        "source": SYSTEM_DESC_V10 + "greenwaves-technologies/systems/gap9_650_240.json",
    },
    "gap9_800_370": {
        "label": "GreenWaves GAP9, NE16 + 9-core RISC-V cluster",
        "node": "22 nm FD-SOI (GF 22FDX) [g1]",
        "chip": "GAP9",
        "vcore": 0.8,
        "volts": "0.8 V core; measured at VIN = 1.8 V",
        "clock": "370 MHz",
        "source": SYSTEM_DESC_V10 + "greenwaves-technologies/systems/gap9_800_370.json",
    },
    "syntiant_9120_0v9_30mhz": {
        "label": "Syntiant NDP120 (Syntiant Core 2) on the NDP9120 board",
        "node": "not published in the sources read",
        "chip": "NDP120",
        "vcore": 0.9,
        "volts": "0.9 V core (VDD_D); measured at 1.8 V incl. DC/DC",
        "clock": "30.7 MHz",
        "source": SYSTEM_DESC_V10
        + "syntiant/systems/syntiant_9120_0v9_30mhz/syntiant_9120_0v9_30mhz.json",
    },
    "syntiant_9120_1v1_98mhz": {
        "label": "Syntiant NDP120 (Syntiant Core 2) on the NDP9120 board",
        "node": "not published in the sources read",
        "chip": "NDP120",
        "vcore": 1.1,
        "volts": "1.1 V core (VDD_D); measured at 1.8 V incl. DC/DC",
        "clock": "98.7 MHz",
        "source": SYSTEM_DESC_V10
        + "syntiant/systems/syntiant_9120_1v1_98mhz/syntiant_9120_1v1_98mhz.json",
    },
    "silicon_labs_xG24_DK2601B": {
        "label": "Silicon Labs EFR32MG24 (Cortex-M33 + MVP)",
        "node": "not published in the sources read",
        "chip": "EFR32MG24",
        "vcore": None,
        "volts": "measured at 1.8 V supply",
        "clock": "78 MHz (CPU and MVP)",
        "source": SYSTEM_DESC_V10 + "silicon_labs/systems/silicon_labs_xG24_DK2601B.json",
    },
}


class Failure(Exception):
    """A message for the user; the script exits with status 1."""


def default_binary():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    return os.path.join(target, "release", "tinyaccel")


def run_json(binary, args):
    cmd = [binary] + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as e:
        raise Failure(f"cannot run {binary}: {e} (build it with `cargo build --release` "
                      "or pass --bin)") from e
    if proc.returncode != 0:
        raise Failure(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): "
                      f"{proc.stderr.strip()}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise Failure(f"`{' '.join(cmd)}` printed no valid JSON: {e}") from e


def field(obj, name, where):
    if name not in obj:
        raise Failure(f"{where}: field `{name}` missing")
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Failure(f"{where}: field `{name}` is not a number or string: {value!r}")
    return value


def tinyaccel_row(binary, config, model):
    where = f"`tinyaccel run {model} --accel {config} --json`"
    run = run_json(binary, ["run", model, "--accel", config, "--json"])
    if "accel" not in run or not isinstance(run["accel"], dict):
        raise Failure(f"{where}: object `accel` missing")
    accel = run["accel"]
    if accel.get("timed") is not True:
        raise Failure(f"{where}: `accel.timed` is not true (a functional run has no energy)")
    parts = {k: float(v) for k, v in accel.items()
             if k.endswith("_uj") and k not in NOT_ACCEL_PARTS
             and isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not parts:
        raise Failure(f"{where}: no accelerator energy part (`*_uj`) in `accel`")
    accel_uj = sum(parts.values())
    offload_uj = float(field(accel, "offload_uj", where))
    offload_cpu_uj = float(field(accel, "offload_cpu_uj", where))
    expected = offload_uj - offload_cpu_uj
    if abs(accel_uj - expected) > SUM_TOLERANCE * max(1.0, abs(expected)):
        raise Failure(f"{where}: the accelerator parts sum to {accel_uj} uJ but "
                      f"offload_uj - offload_cpu_uj = {expected} uJ; a part is not a "
                      "`*_uj` field of `accel`")
    shown = run_json(binary, ["config", "show", config, "--json"])
    cfg = shown.get("config") if isinstance(shown, dict) else None
    if not isinstance(cfg, dict):
        raise Failure(f"`tinyaccel config show {config} --json`: object `config` missing")
    derived = shown.get("derived", {})
    table = derived.get("energy_table", {}) if isinstance(derived, dict) else {}
    macs = int(field(run, "macs", where))
    accel_macs = int(field(accel, "accel_macs", where))
    if accel_macs <= 0:
        raise Failure(f"{where}: `accel.accel_macs` is {accel_macs}: nothing was offloaded")
    return {
        "config": config,
        "model": model,
        "node_nm": field(cfg, "tech_node_nm", f"config {config}"),
        "clock_mhz": float(field(cfg, "clock_mhz", f"config {config}")),
        "rows": int(field(cfg, "rows", f"config {config}")),
        "cols": int(field(cfg, "cols", f"config {config}")),
        "mac_pj": table.get("mac_pj"),
        "macs": macs,
        "accel_macs": accel_macs,
        "accel_uj": accel_uj,
        "system_uj": offload_uj,
        "offload_us": float(field(accel, "offload_us", where)),
        "parts": parts,
    }


def published_rows(csv_path, models):
    if not os.path.exists(csv_path):
        raise Failure(f"{csv_path}: no such file (pass --csv)")
    rows = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        needed = {"version", "system", "benchmark", "latency_ms", "energy_uJ_per_inf",
                  "source_repo", "source_files"}
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise Failure(f"{csv_path}: column(s) {sorted(missing)} missing")
        for line, r in enumerate(reader, start=2):
            if r["system"] not in ACCELERATOR_SYSTEMS or r["benchmark"] not in models:
                continue
            if not r["energy_uJ_per_inf"].strip():
                continue
            try:
                uj = float(r["energy_uJ_per_inf"])
                ms = float(r["latency_ms"])
            except ValueError as e:
                raise Failure(f"{csv_path}:{line}: energy_uJ_per_inf or latency_ms is not "
                              f"a number: {e}") from e
            rows.append({"version": r["version"], "system": r["system"],
                         "model": r["benchmark"], "uj": uj, "ms": ms,
                         "source_repo": r["source_repo"]})
    if not rows:
        raise Failure(f"{csv_path}: no row of an accelerator system for {models}")
    rows.sort(key=lambda r: (models.index(r["model"]), r["system"], r["version"]))
    return rows


def reference_rows(csv_path, models):
    """The MLPerf Tiny v0.5 reference run (Cortex-M4F, TFLite-Micro reference kernels, no
    accelerator): energy per inference of each model, the CPU end of the per-MAC range."""
    found = {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if (r.get("version"), r.get("submitter")) == ("v0.5", "reference") \
                    and r.get("benchmark") in models and r.get("energy_uJ_per_inf", "").strip():
                try:
                    found[r["benchmark"]] = (r["system"], float(r["energy_uJ_per_inf"]))
                except ValueError as e:
                    raise Failure(f"{csv_path}: reference row of {r['benchmark']}: "
                                  f"energy_uJ_per_inf is not a number: {e}") from e
    missing = [m for m in models if m not in found]
    if missing:
        raise Failure(f"{csv_path}: no v0.5 reference row with energy for {missing}")
    return found


def fmt(x, digits=3):
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.1f}"
    return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits}f}".rstrip("0").rstrip(".")


def render(tiny, published, reference, ref_config):
    out = []
    out.append("**Table 1. tinyaccel, accelerator-only energy of one inference** "
               "(`tinyaccel run MODEL --accel CONFIG --json`, cycle-level simulation, "
               "policy `auto`)")
    out.append("")
    part_names = sorted({k for t in tiny for k in t["parts"]})
    header = (["config", "model", "node", "clock MHz", "array", "MACs", "on accel",
               "accel uJ", "pJ/MAC", "system uJ", "latency us", "accel mW"]
              + [p[:-3] for p in part_names] + ["table MAC pJ"])
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join(["---"] * 5 + ["---:"] * (len(header) - 5)) + "|")
    for t in tiny:
        pj_per_mac = t["accel_uj"] * 1e6 / t["accel_macs"]
        mw = t["accel_uj"] / t["offload_us"] * 1e3
        cells = [t["config"], t["model"], f"{t['node_nm']} nm", fmt(t["clock_mhz"]),
                 f"{t['rows']}x{t['cols']}", f"{t['macs']:,}", f"{t['accel_macs']:,}",
                 fmt(t["accel_uj"]), fmt(pj_per_mac), fmt(t["system_uj"]),
                 fmt(t["offload_us"]), fmt(mw)]
        cells += [fmt(t["parts"].get(p)) for p in part_names]
        cells.append(fmt(t["mac_pj"]))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("accel uJ = the sum of the energy parts to the right (uJ); pJ/MAC = accel uJ / "
               "MACs on the accelerator; system uJ = `offload_uj` (the accelerator plus the "
               "Cortex-M4F model's share of the offloaded run: CPU-side layers, driver, "
               "sleep); latency = `offload_us`; accel mW = accel uJ / latency (derived); "
               "table MAC pJ = `derived.energy_table.mac_pj` of `tinyaccel config show "
               "CONFIG --json`, the floor of pJ/MAC.")
    out.append("")
    ref = {t["model"]: t for t in tiny if t["config"] == ref_config}
    out.append("**Table 2. Published MLPerf Tiny accelerator systems, measured at the supply** "
               f"(energy and latency from the results file; derived columns marked *; "
               f"x = published / tinyaccel `{ref_config}` accelerator-only)")
    out.append("")
    out.append("| system | round | model | node | voltage | clock | energy uJ | latency ms "
               "| mean mW* | pJ/MAC* | x tinyaccel* |")
    out.append("|---|---|---|---|---|---|---:|---:|---:|---:|---:|")
    macs_of = {t["model"]: t["macs"] for t in tiny}
    for r in published:
        meta = ACCELERATOR_SYSTEMS[r["system"]]
        macs = macs_of.get(r["model"])
        pj = r["uj"] * 1e6 / macs if macs else None
        mw = r["uj"] / r["ms"] if r["ms"] > 0 else None
        ratio = r["uj"] / ref[r["model"]]["accel_uj"] if r["model"] in ref else None
        out.append("| " + " | ".join([
            f"{meta['label']} ([`{r['system']}`]({meta['source']}))",
            r["version"], r["model"], meta["node"], meta["volts"], meta["clock"],
            fmt(r["uj"]), fmt(r["ms"]), fmt(mw), fmt(pj),
            (fmt(ratio) + "x") if ratio is not None else "n/a"]) + " |")
    out.append("")
    out.append("pJ/MAC* = measured energy / the model's MACs as tinyaccel counts them "
               "(" + ", ".join(f"{m} {macs_of[m]:,}" for m in macs_of) + " MACs); "
               "mean mW* = energy / latency. Energy mode and performance mode are separate "
               "runs in MLPerf Tiny, so mean mW* is approximate.")
    out.append("")
    out += render_ranges(tiny, published, reference)
    out.append("")
    out += render_voltage_pairs(published)
    return "\n".join(out)


def render_ranges(tiny, published, reference):
    """Table 3: where tinyaccel's accelerator-only energy per MAC falls. Bounds: below, the
    MAC energy of its own table (a MAC cannot cost less than its multiply-add); above, the
    lowest energy per MAC measured at the supply of a whole accelerator chip on the same
    model (a part of a chip should not cost more than a whole measured chip)."""
    out = ["**Table 3. Energy per MAC, pJ: the ranges and where tinyaccel falls** (derived)",
           "",
           "| model | config | table MAC (floor) | tinyaccel accel-only | lowest published "
           "at the supply (system) | MCU without accelerator (v0.5 reference) | check |",
           "|---|---|---:|---:|---|---:|---|"]
    for t in tiny:
        m = t["model"]
        mine = t["accel_uj"] * 1e6 / t["accel_macs"]
        pubs = [(r["uj"] * 1e6 / t["macs"], r) for r in published if r["model"] == m]
        low = min(pubs, key=lambda x: x[0]) if pubs else None
        ref_system, ref_uj = reference[m]
        ref_pj = ref_uj * 1e6 / t["macs"]
        floor = t["mac_pj"]
        if floor is not None and mine < floor:
            verdict = "FAIL: below the MAC floor"
        elif low is not None and mine > low[0]:
            verdict = f"FAIL: above {low[1]['system']}"
        else:
            verdict = "in range"
        out.append("| " + " | ".join([
            m, t["config"], fmt(floor), fmt(mine),
            (f"{fmt(low[0])} ({low[1]['system']}, {low[1]['version']})" if low else "n/a"),
            f"{fmt(ref_pj)} ({ref_system})", verdict]) + " |")
    return out


def render_voltage_pairs(published):
    """Table 4: one chip measured at two core voltages: the energy ratio against the C V^2
    rule that tinyaccel's node table uses for dynamic energy."""
    out = ["**Table 4. Same chip, two core voltages: measured energy ratio vs (V2/V1)^2** "
           "(derived from Table 2)",
           "",
           "| chip | round | model | V1 -> V2 | E(V2) / E(V1) measured | (V2/V1)^2 |",
           "|---|---|---|---|---:|---:|"]
    by_key = {}
    for r in published:
        meta = ACCELERATOR_SYSTEMS[r["system"]]
        if meta["vcore"] is None:
            continue
        by_key.setdefault((meta["chip"], r["version"], r["model"]), []).append(
            (meta["vcore"], r["uj"]))
    for (chip, version, model), pts in sorted(by_key.items()):
        if len(pts) != 2:
            continue
        (v1, e1), (v2, e2) = sorted(pts)
        out.append(f"| {chip} | {version} | {model} | {v1} V -> {v2} V | {e2 / e1:.3f} "
                   f"| {(v2 / v1) ** 2:.3f} |")
    return out


BEGIN = "<!-- BEGIN scripts/energy_validation.py -->"
END = "<!-- END scripts/energy_validation.py -->"


def update_page(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            page = f.read()
    except OSError as e:
        raise Failure(f"{path}: cannot read: {e}") from e
    if page.count(BEGIN) != 1 or page.count(END) != 1 or page.index(BEGIN) > page.index(END):
        raise Failure(f"{path}: needs exactly one `{BEGIN}` line before one `{END}` line")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=default_binary(),
                    help="tinyaccel binary (default: $CARGO_TARGET_DIR or target/, release)")
    ap.add_argument("--csv", default=DEFAULT_CSV, help="MLPerf Tiny results file")
    ap.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS,
                    help="accelerator presets or config files (default: %(default)s)")
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                    help="models (default: %(default)s)")
    ap.add_argument("--ref", default=None,
                    help="config the published rows are divided by (default: the last)")
    ap.add_argument("--out", default=None, help="write the Markdown here, not to stdout")
    ap.add_argument("--update", default=None, metavar="PAGE",
                    help="replace the tables between the BEGIN/END markers of PAGE "
                         "(docs/energy-validation.md) instead of printing them")
    args = ap.parse_args(argv)
    ref = args.ref or args.configs[-1]
    try:
        if ref not in args.configs:
            raise Failure(f"--ref {ref} is not one of --configs {args.configs}")
        tiny = [tinyaccel_row(args.bin, c, m) for c in args.configs for m in args.models]
        published = published_rows(args.csv, args.models)
        text = render(tiny, published, reference_rows(args.csv, args.models), ref)
    except Failure as e:
        print(f"energy_validation: {e}", file=sys.stderr)
        return 1
    if args.update:
        try:
            update_page(args.update, text)
        except Failure as e:
            print(f"energy_validation: {e}", file=sys.stderr)
            return 1
    elif args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    failed = text.count("| FAIL: ")
    if failed:
        print(f"energy_validation: {failed} row(s) of Table 3 outside the range",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
