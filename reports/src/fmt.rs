//! Number formatting for human-readable outputs (Markdown, HTML, plot labels).
//!
//! Machine-readable outputs (CSV, JSON) use Rust's shortest round-trip formatting instead,
//! so that every number read back is bit-identical to the one written.

/// A count with thousands separators: `1234567` -> `1,234,567`.
pub fn int(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A measured quantity with about 3 significant digits: `0.0123`, `1.23`, `123`,
/// `12,345`; `0` for zero.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 999.5 {
        let r = v.round();
        let sign = if r < 0.0 { "-" } else { "" };
        return format!("{sign}{}", int(r.abs() as u64));
    }
    if a < 1e-3 {
        return format!("{v:.2e}");
    }
    let digits = (2 - a.log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

/// An axis tick label: up to 3 significant digits without trailing zeros (`8`, `0.5`,
/// `1,000`, `2.5e-5`).
pub fn axis(v: f64) -> String {
    let s = num(v);
    if s.contains('e') || !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A ratio as `2.35x`, or `n/a`.
pub fn times(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{}x", num(v)),
        None => "n/a".into(),
    }
}

/// A fraction as a percentage: `0.734` -> `73.4%`.
pub fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// A shape as `1x49x10x1` (`-` when empty).
pub fn shape(s: &[usize]) -> String {
    if s.is_empty() {
        return "-".into();
    }
    s.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Escapes text for a Markdown table cell: `|` escaped, line breaks and other control
/// characters become spaces (a cell is one line).
pub fn md_cell(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|")
}

/// Text from an input (a model, configuration or profile name) in running Markdown: one
/// line (control characters become spaces), backticks escaped (no stray code span), `<`
/// as `&lt;` (no raw HTML). Pipes are left to [`md_cell`] for table cells.
pub fn md_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if c.is_control() => o.push(' '),
            '`' => o.push_str("\\`"),
            '<' => o.push_str("&lt;"),
            c => o.push(c),
        }
    }
    o
}

/// The longest run of consecutive backticks in `s` (a fence must be longer).
pub fn longest_backtick_run(s: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Text from an input as a Markdown code span, delimiters included: `` `name` ``, or with a
/// longer backtick fence when the text holds backticks; control characters become spaces.
pub fn md_code(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let longest = longest_backtick_run(&s);
    let fence = "`".repeat(longest + 1);
    if longest == 0 {
        format!("{fence}{s}{fence}")
    } else {
        format!("{fence} {s} {fence}")
    }
}

/// Escapes text for HTML.
pub fn html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// An optional f64 in CSV: shortest round-trip text, or empty.
pub fn csv_opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(int(12), "12");
        assert_eq!(num(1.23456), "1.23");
        assert_eq!(num(12.3456), "12.3");
        assert_eq!(num(123.456), "123");
        assert_eq!(num(12345.6), "12,346");
        assert_eq!(num(0.0123456), "0.0123");
        assert_eq!(shape(&[1, 49, 10, 1]), "1x49x10x1");
        assert_eq!(times(Some(2.0)), "2.00x");
        assert_eq!(times(None), "n/a");
    }
}
