//! `index.html`: one self-contained page (inline CSS, inline SVG plots, no script, no
//! external resource) with the tables and plots of a report.

use std::fmt::Write as _;

use crate::ablation::Ablation;
use crate::fmt as f;
use crate::plot::PlotFile;
use crate::record::Report;
use crate::writer::{
    breakdown_cells, breakdown_total_cells, budget_rows, budget_sentence, energy_rows,
    energy_sentence, feature_sentence, layer_cells, memory_part_rows, summary_rows, total_cells,
    BREAKDOWN_HEAD, BUDGET_HEAD, LAYER_HEAD, MEMORY_PART_HEAD, SUMMARY_HEAD,
};

/// Inline page style.
pub const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1400px}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}\
th,td{border:1px solid #bbb;padding:3px 6px;text-align:right}\
th{background:#eee}td.l,th.l{text-align:left}\
tr.total td{font-weight:bold;background:#f6f6f6}\
pre{background:#f4f4f4;padding:1em;overflow:auto}\
figure{margin:1em 0}figcaption{font-style:italic}\
svg{max-width:100%;height:auto}";

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

/// The page with the feature ablation's table after the summary.
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
         <h1>tinyaccel report</h1>\n<p>Latency and energy of each model on the accelerator \
         (offloaded run) against the pure-CPU baseline. Times in us unless marked ms, energy in \
         uJ; speedup = CPU latency / accelerator-run latency; energy ratio = CPU energy / \
         accelerator-run energy.</p>\n"
    );
    o.push_str("<h2>Summary</h2>\n");
    table(
        &mut o,
        SUMMARY_HEAD,
        &summary_rows(r, |s| s.to_string()),
        &[0, 1],
    );
    if let Some(sentence) = budget_sentence(r) {
        let _ = write!(
            o,
            "<h2>Budgets: memory fit, deadline, battery life</h2>\n<p>{}. Capacities are the \
             CPU part's on-chip flash and SRAM (docs/cpu-model.md); average power = energy x \
             rate + sleep power x (1 - rate x latency).</p>\n",
            f::html(&sentence)
        );
        table(&mut o, BUDGET_HEAD, &budget_rows(r), &[0, 1, 4, 6, 8]);
    }
    if let Some(a) = ablation {
        let _ = write!(
            o,
            "<h2>Feature ablation</h2>\n<p>The models on <code>{}</code> with {} off, each on \
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
    let p = &r.provenance;
    let _ = write!(
        o,
        "<h2>How the numbers were made</h2><ul><li>accelerator simulator level: {}</li>\
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
    for m in &r.models {
        let t = m.totals();
        let _ = write!(
            o,
            "<h2>Model {}</h2>\n<p>source: <code>{}</code>; accelerator <code>{}</code> (hash \
             <code>{}</code>); CPU profile <code>{}</code> (hash <code>{}</code>)</p>\n<p>{}</p>\n",
            f::html(&m.model),
            f::html(&m.source),
            f::html(&m.config.name),
            f::html(&m.config.hash),
            f::html(&m.cpu_profile.name),
            f::html(&m.cpu_profile.hash),
            f::html(&feature_sentence(&m.config))
        );
        let mut rows: Vec<[String; 19]> = m.layers.iter().map(|l| layer_cells(m, l)).collect();
        rows.push(total_cells(&t));
        table(&mut o, LAYER_HEAD, &rows, &[1, 2, 4, 18]);
        o.push_str("<p>Where the time and energy go, per layer:</p>\n");
        let mut rows: Vec<[String; 21]> = m.layers.iter().map(breakdown_cells).collect();
        rows.push(breakdown_total_cells(&t));
        table(&mut o, BREAKDOWN_HEAD, &rows, &[1, 2]);
        let parts = memory_part_rows(m);
        if !parts.is_empty() {
            o.push_str("<p>Memory footprint (bytes):</p>\n");
            table(&mut o, MEMORY_PART_HEAD, &parts, &[0, 1, 2]);
        }
        let _ = writeln!(o, "<p>{}</p>", f::html(&energy_sentence(&t)));
        o.push_str("<table><tr><th class=\"l\">energy part (accelerator run)</th><th>uJ</th><th>share</th></tr>\n");
        for (name, v) in energy_rows(&t) {
            let share = crate::record::ratio(v, t.offload_uj).unwrap_or(0.0);
            let _ = writeln!(
                o,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                f::html(name),
                f::num(v),
                f::pct(share)
            );
        }
        o.push_str("</table>\n");
    }
    if !svgs.is_empty() {
        o.push_str("<h2>Plots</h2>\n");
        for (file, svg) in svgs {
            let _ = writeln!(
                o,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                inline_svg(svg),
                f::html(&file.title)
            );
        }
    }
    o.push_str("<h2>Configurations and CPU profiles</h2>\n");
    let mut seen = std::collections::BTreeSet::new();
    for m in &r.models {
        if seen.insert(("cfg", m.config.hash.clone())) {
            let _ = writeln!(
                o,
                "<h3>Accelerator {} (hash {})</h3><pre>{}</pre>",
                f::html(&m.config.name),
                f::html(&m.config.hash),
                f::html(&m.config.toml)
            );
        }
        if seen.insert(("cpu", m.cpu_profile.hash.clone())) {
            let _ = writeln!(
                o,
                "<h3>CPU profile {} (hash {})</h3><table><tr><th class=\"l\">parameter</th><th class=\"l\">value</th></tr>",
                f::html(&m.cpu_profile.name),
                f::html(&m.cpu_profile.hash)
            );
            for (k, v) in &m.cpu_profile.spec {
                let _ = writeln!(
                    o,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                    f::html(k),
                    f::html(v)
                );
            }
            o.push_str("</table>\n");
        }
    }
    o.push_str("</body></html>\n");
    // Sources quoted in the text (CPU profile sources may cite web pages) keep their
    // address, with the scheme's colon as a character reference: the page shows the same
    // text and holds no URL a browser or checker could take for a resource to fetch.
    o.replace("https:", "https&#58;")
        .replace("http:", "http&#58;")
}
