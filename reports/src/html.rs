//! `index.html`: one self-contained page (inline CSS, inline SVG plots, no script, no
//! external resource) with the tables and plots of a report.

use std::fmt::Write as _;

use crate::ablation::Ablation;
use crate::fmt as f;
use crate::plot::PlotFile;
use crate::record::Report;
use crate::writer::{
    answer_rows, answer_sentence, breakdown_cells, breakdown_total_cells, budget_rows,
    budget_sentence, cpu_profiles, energy_rows, energy_sentence, feature_sentence, layer_cells,
    memory_part_rows, summary_rows, total_cells, used_cpu_spec, ANSWER_COLS, BREAKDOWN_HEAD,
    BUDGET_HEAD, LAYER_HEAD, MEMORY_PART_HEAD, SUMMARY_HEAD,
};

/// Inline page style.
pub const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1400px}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}\
th,td{border:1px solid #bbb;padding:3px 6px;text-align:right}\
th{background:#eee}td.l,th.l{text-align:left}\
tr.total td{font-weight:bold;background:#f6f6f6}\
pre{background:#f4f4f4;padding:1em;overflow:auto}\
figure{margin:1em 0}figcaption{font-style:italic}\
svg{max-width:100%;height:auto}\
nav#toc{background:#f4f4f4;padding:.5em 1em;margin:0 0 1em}\
th.grp,td.grp{border-left:3px solid #555}td.key{font-weight:bold}\
p.answer{font-size:15px}details{margin:.4em 0}summary{cursor:pointer;color:#05a}\
ul.plots{columns:2;font-size:13px}";

/// Prepares a plotters SVG for inlining in HTML5: the `xmlns` attribute is implied there
/// (and it is the only URL in the text).
pub fn inline_svg(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen("xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

fn table<const N: usize>(o: &mut String, head: [&str; N], rows: &[[String; N]], left: &[usize]) {
    o.push_str("<table><tr>");
    for (i, h) in head.iter().enumerate() {
        let cls = if left.contains(&i) {
            " class=\"l\""
        } else {
            ""
        };
        let _ = write!(o, "<th{cls}>{}</th>", f::html(h));
    }
    o.push_str("</tr>\n");
    for r in rows {
        let total = r.iter().any(|c| c.starts_with("**total**"));
        o.push_str(if total {
            "<tr class=\"total\">"
        } else {
            "<tr>"
        });
        for (i, c) in r.iter().enumerate() {
            let cls = if left.contains(&i) {
                " class=\"l\""
            } else {
                ""
            };
            let text = c.replace("**", "").replace('`', "");
            let _ = write!(o, "<td{cls}>{}</td>", f::html(&text));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
}

/// The page. `svgs` are the plots (file names and SVG text) to inline.
pub fn render_html(r: &Report, svgs: &[(PlotFile, String)]) -> String {
    render_html_with(r, None, svgs)
}

/// A table of `head` and `rows` (built at run time, unlike [`table`]'s fixed columns)
/// whose first `text` columns are left-aligned text.
fn dyn_table(o: &mut String, head: &[String], rows: &[Vec<String>], text: usize) {
    let cls = |i: usize| if i < text { " class=\"l\"" } else { "" };
    o.push_str("<table><tr>");
    for (i, h) in head.iter().enumerate() {
        let _ = write!(o, "<th{}>{}</th>", cls(i), f::html(h));
    }
    o.push_str("</tr>\n");
    for r in rows {
        o.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let _ = write!(o, "<td{}>{}</td>", cls(i), f::html(c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
}

/// The answer table: a header row of CPU-profile groups over [`ANSWER_COLS`].
fn answer_table(o: &mut String, r: &Report) {
    let (labels, rows) = answer_rows(r);
    let k = ANSWER_COLS.len();
    o.push_str("<table class=\"answer\"><tr><th class=\"l\" rowspan=\"2\">model</th><th class=\"l\" rowspan=\"2\">accelerator</th>");
    for l in &labels {
        let _ = write!(
            o,
            "<th colspan=\"{k}\" class=\"grp\">vs CPU kernels {}</th>",
            f::html(l)
        );
    }
    o.push_str("</tr>\n<tr>");
    for _ in &labels {
        for (i, c) in ANSWER_COLS.iter().enumerate() {
            let cls = if i == 0 { " class=\"grp\"" } else { "" };
            let _ = write!(o, "<th{cls}>{}</th>", f::html(c));
        }
    }
    o.push_str("</tr>\n");
    for row in &rows {
        o.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let cls = if i < 2 {
                " class=\"l\""
            } else if (i - 2) % k == 0 {
                " class=\"grp key\""
            } else if (i - 2) % k == 1 {
                " class=\"key\""
            } else {
                ""
            };
            let _ = write!(o, "<td{cls}>{}</td>", f::html(c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
}

/// A collapsed block: `summary` is the line shown, `body` the HTML inside.
fn details(o: &mut String, summary: &str, body: &str) {
    let _ = write!(
        o,
        "<details><summary>{}</summary>\n{body}</details>\n",
        f::html(summary)
    );
}

/// The id of a plot's figure.
fn figure_id(file: &PlotFile) -> String {
    let stem = file
        .svg
        .trim_start_matches("plots/")
        .trim_end_matches(".svg");
    format!("plot-{stem}")
}

/// The page with the feature ablation's table after the summary. Order: table of
/// contents, the summary (the answer per model against every CPU profile, then every run),
/// budgets and ablation when present, the plots, the per-model tables (collapsed), how the
/// numbers were made, and the configurations and CPU profiles (collapsed).
pub fn render_html_with(
    r: &Report,
    ablation: Option<&Ablation>,
    svgs: &[(PlotFile, String)],
) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>tinyaccel report</title><style>{CSS}</style></head><body>\n\
         <h1>tinyaccel report</h1>\n"
    );
    // Table of contents.
    let mut toc: Vec<(String, String)> = vec![("summary".into(), "Summary".into())];
    if budget_sentence(r).is_some() {
        toc.push(("budgets".into(), "Budgets".into()));
    }
    if ablation.is_some() {
        toc.push(("ablation".into(), "Feature ablation".into()));
    }
    if !svgs.is_empty() {
        toc.push(("plots".into(), "Plots".into()));
    }
    toc.push(("models".into(), "Per-model tables".into()));
    toc.push(("provenance".into(), "How the numbers were made".into()));
    toc.push(("configs".into(), "Configurations and CPU profiles".into()));
    o.push_str("<nav id=\"toc\"><b>Contents:</b> ");
    let links: Vec<String> = toc
        .iter()
        .map(|(id, t)| format!("<a href=\"#{id}\">{}</a>", f::html(t)))
        .collect();
    o.push_str(&links.join(" &middot; "));
    o.push_str("</nav>\n");

    let profiles = cpu_profiles(r);
    o.push_str("<h2 id=\"summary\">Summary</h2>\n");
    answer_table(&mut o, r);
    let _ = write!(
        o,
        "<p class=\"answer\">{}.</p>\n<p>Speedup = CPU latency / accelerator-run latency; energy \
         ratio = CPU energy / accelerator-run (system) energy. The offloaded run's system energy is \
         the accelerator's plus the CPU's (CPU-side layers, driver, WFI sleep while waiting); \
         accelerator only = without the CPU. Times in ms here, us in the tables below; energy \
         in uJ. CPU profile{}: {}.</p>\n",
        f::html(&answer_sentence(r)),
        if profiles.len() > 1 { "s" } else { "" },
        profiles
            .iter()
            .map(|p| format!("<code>{}</code>", f::html(p)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut all = String::new();
    table(
        &mut all,
        SUMMARY_HEAD,
        &summary_rows(r, |s| s.to_string()),
        &[0, 1],
    );
    details(
        &mut o,
        "Every run: MACs, offloaded layers, CPU share of the system energy",
        &all,
    );
    if let Some(sentence) = budget_sentence(r) {
        let _ = write!(
            o,
            "<h2 id=\"budgets\">Budgets: memory fit, deadline, battery life</h2>\n<p>{}. Capacities are the \
             CPU part's on-chip flash and SRAM (docs/cpu-model.md); average power = energy x \
             rate + sleep power x (1 - rate x latency).</p>\n",
            f::html(&sentence)
        );
        let mut t = String::new();
        table(&mut t, BUDGET_HEAD, &budget_rows(r), &[0, 1, 4, 6, 8]);
        details(
            &mut o,
            "Budget table (memory fit, deadline, power, battery life per run)",
            &t,
        );
    }
    if let Some(a) = ablation {
        let _ = write!(
            o,
            "<h2 id=\"ablation\">Feature ablation</h2>\n<p>The models on <code>{}</code> with {} off, each on \
             alone{} (ablation.md, ablation.csv, ablation.json).</p>\n",
            f::html(&a.base_config),
            f::html(
                &a.features
                    .iter()
                    .map(|ft| format!("{} (off {}, on {})", ft.name, ft.off, ft.on))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            if a.features.len() > 1 { ", all on" } else { "" }
        );
        let (head, rows) = a.table_cells();
        dyn_table(&mut o, &head, &rows, 2 + a.features.len());
        let (head, rows) = a.cost_benefit_cells();
        o.push_str(
            "<p>What each feature costs in area and buys in latency and energy (alone, against \
             every feature off):</p>\n",
        );
        dyn_table(&mut o, &head, &rows, 1);
    }
    if !svgs.is_empty() {
        o.push_str("<h2 id=\"plots\">Plots</h2>\n<ul class=\"plots\">");
        for (file, _) in svgs {
            let _ = write!(
                o,
                "<li><a href=\"#{}\">{}</a></li>",
                figure_id(file),
                f::html(&file.title)
            );
        }
        o.push_str("</ul>\n");
        for (file, svg) in svgs {
            let _ = writeln!(
                o,
                "<figure id=\"{}\">{}<figcaption>{}</figcaption></figure>",
                figure_id(file),
                inline_svg(svg),
                f::html(&file.title)
            );
        }
    }
    o.push_str("<h2 id=\"models\">Per-model tables</h2>\n");
    for (i, m) in r.models.iter().enumerate() {
        let t = m.totals();
        let _ = write!(
            o,
            "<h3 id=\"model-{i}\">Model {}</h3>\n<p>source: <code>{}</code>; accelerator <code>{}</code> (hash \
             <code>{}</code>); CPU profile <code>{}</code> (hash <code>{}</code>)</p>\n<p>{}</p>\n",
            f::html(&m.model),
            f::html(&m.source),
            f::html(&m.config.name),
            f::html(&m.config.hash),
            f::html(&m.cpu_profile.name),
            f::html(&m.cpu_profile.hash),
            f::html(&feature_sentence(&m.config))
        );
        let _ = writeln!(o, "<p>{}</p>", f::html(&energy_sentence(&t)));
        let mut e = String::new();
        e.push_str("<table><tr><th class=\"l\">energy part (accelerator run)</th><th>uJ</th><th>share</th></tr>\n");
        for (name, v) in energy_rows(&t) {
            let share = crate::record::ratio(v, t.offload_uj).unwrap_or(0.0);
            let _ = writeln!(
                e,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                f::html(name),
                f::num(v),
                f::pct(share)
            );
        }
        e.push_str("</table>\n");
        details(&mut o, "Energy of the accelerator run by part", &e);
        let mut rows: Vec<[String; 19]> = m.layers.iter().map(|l| layer_cells(m, l)).collect();
        rows.push(total_cells(&t));
        let mut lt = String::new();
        table(&mut lt, LAYER_HEAD, &rows, &[1, 2, 4, 18]);
        details(
            &mut o,
            &format!("Per-layer latency and energy ({} layers)", m.layers.len()),
            &lt,
        );
        let mut rows: Vec<[String; 21]> = m.layers.iter().map(breakdown_cells).collect();
        rows.push(breakdown_total_cells(&t));
        let mut bt = String::new();
        table(&mut bt, BREAKDOWN_HEAD, &rows, &[1, 2]);
        details(&mut o, "Where the time and energy go, per layer", &bt);
        let parts = memory_part_rows(m);
        if !parts.is_empty() {
            let mut mt = String::new();
            table(&mut mt, MEMORY_PART_HEAD, &parts, &[0, 1, 2]);
            details(&mut o, "Memory footprint (bytes)", &mt);
        }
    }
    let p = &r.provenance;
    let _ = write!(
        o,
        "<h2 id=\"provenance\">How the numbers were made</h2><ul><li>accelerator simulator level: {}</li>\
         <li>energy tables: {}</li><li>CPU baseline cost model: {}</li><li>tool version: {}</li>",
        f::html(&p.simulator_level),
        f::html(&p.energy_table_source),
        f::html(&p.cpu_cost_model),
        f::html(&p.tool_version)
    );
    if !p.command.is_empty() {
        let _ = write!(o, "<li>command: <code>{}</code></li>", f::html(&p.command));
    }
    for n in &p.notes {
        let _ = write!(o, "<li>note: {}</li>", f::html(n));
    }
    o.push_str("</ul>\n");
    o.push_str("<h2 id=\"configs\">Configurations and CPU profiles</h2>\n");
    let mut seen = std::collections::BTreeSet::new();
    for m in &r.models {
        if seen.insert(("cfg", m.config.hash.clone())) {
            details(
                &mut o,
                &format!("Accelerator {} (hash {})", m.config.name, m.config.hash),
                &format!("<pre>{}</pre>\n", f::html(&m.config.toml)),
            );
        }
        if seen.insert(("cpu", m.cpu_profile.hash.clone())) {
            let mut c = String::from(
                "<table><tr><th class=\"l\">parameter</th><th class=\"l\">value</th></tr>\n",
            );
            let used = used_cpu_spec(&m.cpu_profile);
            for (k, v) in &used {
                let _ = writeln!(
                    c,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                    f::html(k),
                    f::html(v)
                );
            }
            c.push_str("</table>\n");
            details(
                &mut o,
                &format!(
                    "CPU profile {} (hash {}; the parameters of the {} kernels it ran, {} of {})",
                    m.cpu_profile.name,
                    m.cpu_profile.hash,
                    m.cpu_profile
                        .spec
                        .get("library")
                        .map_or("-", String::as_str),
                    used.len(),
                    m.cpu_profile.spec.len()
                ),
                &c,
            );
        }
    }
    o.push_str("</body></html>\n");
    // Sources quoted in the text (CPU profile sources may cite web pages) keep their
    // address, with the scheme's colon as a character reference: the page shows the same
    // text and holds no URL a browser or checker could take for a resource to fetch.
    o.replace("https:", "https&#58;")
        .replace("http:", "http&#58;")
}
