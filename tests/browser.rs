//! The HTML report in a real browser: Debian's Chromium, headless, driven through
//! chromedriver's W3C WebDriver HTTP interface (a minimal client below, no extra crates).
//! Fails on any console error or warning the page logs, on a plot that does not render,
//! and when the summary is not on the first screen. Needs `chromium` and `chromium-driver`
//! (`make deps` installs them; the failure names the install command).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "sudo apt-get install -y chromium chromium-driver (or `make deps`)";

fn find(bin: &str) -> String {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(bin);
        if p.is_file() {
            return p.display().to_string();
        }
    }
    panic!("`{bin}` not found on PATH: the browser test needs it; install with: {INSTALL}");
}

/// One HTTP/1.1 request to chromedriver; returns the JSON body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> serde_json::Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to chromedriver");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Headers, then exactly Content-Length bytes (chromedriver keeps the connection open).
    let mut raw: Vec<u8> = Vec::new();
    let mut buf = [0u8; 65536];
    let header_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("read from chromedriver");
        assert!(
            n > 0,
            "{method} {path}: connection closed before the headers"
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..header_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no Content-Length in {head}"));
    while raw.len() < header_end + len {
        let n = s.read(&mut buf).expect("read from chromedriver");
        assert!(n > 0, "{method} {path}: connection closed in the body");
        raw.extend_from_slice(&buf[..n]);
    }
    let payload = String::from_utf8_lossy(&raw[header_end..header_end + len]).into_owned();
    serde_json::from_str(&payload).unwrap_or_else(|e| panic!("{method} {path}: {e}: {payload}"))
}

struct Driver {
    child: Child,
    port: u16,
    session: String,
}

impl Driver {
    fn start() -> Driver {
        let chromium = find("chromium");
        let driver = find("chromedriver");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,800"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let mut d = Driver {
            child,
            port,
            session: String::new(),
        };
        let r = http(port, "POST", "/session", Some(&caps));
        d.session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        d
    }

    fn post(&self, what: &str, body: serde_json::Value) -> serde_json::Value {
        let r = http(
            self.port,
            "POST",
            &format!("/session/{}/{what}", self.session),
            Some(&body),
        );
        assert!(r["value"].get("error").is_none(), "{what}: {r}");
        r["value"].clone()
    }

    fn script(&self, js: &str) -> serde_json::Value {
        self.post(
            "execute/sync",
            serde_json::json!({"script": js, "args": []}),
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = TcpStream::connect(("127.0.0.1", self.port)).map(|_| {
                http(
                    self.port,
                    "DELETE",
                    &format!("/session/{}", self.session),
                    None,
                )
            });
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Figures whose plot did not render with a size, and images that did not load.
fn broken_plots(d: &Driver) -> serde_json::Value {
    d.script(
        "const bad = [];\
         document.querySelectorAll('figure').forEach((f, i) => {\
           const s = f.querySelector('svg, img');\
           const r = s ? s.getBoundingClientRect() : null;\
           if (!r || r.width < 100 || r.height < 100) bad.push('figure ' + i + ': ' + (f.textContent || '').slice(0, 60));\
         });\
         Array.from(document.images).forEach(im => { if (!(im.complete && im.naturalWidth > 0)) bad.push('image ' + im.src); });\
         return bad;",
    )
}

/// Console messages of level WARNING or SEVERE since the last call.
fn console_problems(d: &Driver) -> Vec<serde_json::Value> {
    let logs = d.post("se/log", serde_json::json!({"type": "browser"}));
    logs.as_array()
        .expect("log entries")
        .iter()
        .filter(|e| matches!(e["level"].as_str(), Some("SEVERE") | Some("WARNING")))
        .cloned()
        .collect()
}

/// The table of contents and the page's in-page links: `{toc, links, dead}` (the
/// count of TOC links, of all in-page links, and the targets that do not exist), or a
/// string naming what is missing.
fn toc_state(d: &Driver) -> serde_json::Value {
    d.script(
        "const nav = document.getElementById('toc');\
         if (!nav) return 'no toc';\
         const s = document.getElementById('summary');\
         if (!s || !(nav.compareDocumentPosition(s) & Node.DOCUMENT_POSITION_FOLLOWING)) return 'toc not above the summary';\
         const links = Array.from(document.querySelectorAll('a[href^=\"#\"]'));\
         const inToc = nav.querySelectorAll('a[href^=\"#\"]').length;\
         const dead = links.map(a => a.getAttribute('href')).filter(h => !document.getElementById(decodeURIComponent(h.slice(1))));\
         return {toc: inToc, links: links.length, dead: dead};",
    )
}

/// The `<details>` blocks: `{n, open, shown, cpu}` (how many; open; taller than their
/// summary line; CPU-profile dumps).
fn details_state(d: &Driver) -> serde_json::Value {
    d.script(
        "const ds = Array.from(document.querySelectorAll('details'));\
         const open = ds.filter(x => x.open).length;\
         const shown = ds.filter(x => x.getBoundingClientRect().height > x.querySelector('summary').getBoundingClientRect().height + 4).length;\
         const cpu = ds.filter(x => x.querySelector('summary').textContent.startsWith('CPU profile')).length;\
         return {n: ds.length, open: open, shown: shown, cpu: cpu};",
    )
}

/// The checks are not blind: a page with a console error, a missing image and an empty
/// figure fails each of them.
#[test]
fn the_checks_catch_a_broken_page() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><h1>x</h1><figure><img src=\"missing.png\"></figure>\
         <figure><svg width=\"10\" height=\"10\"></svg></figure>\
         <nav id=\"toc\"><a href=\"#nowhere\">x</a></nav><h2 id=\"summary\">Summary</h2>\
         <details open><summary>CPU profile x</summary><table><tr><td>a</td></tr><tr><td>b</td></tr></table></details>\
         <script>console.error('broken on purpose');</script></body></html>",
    )
    .unwrap();
    let d = Driver::start();
    d.post(
        "url",
        serde_json::json!({"url": format!("file://{}", page.display())}),
    );
    let broken = broken_plots(&d);
    let list = broken.as_array().unwrap();
    assert!(
        list.iter()
            .any(|b| b.as_str().unwrap().contains("missing.png")),
        "{broken}"
    );
    assert!(
        list.iter()
            .any(|b| b.as_str().unwrap().starts_with("figure 1")),
        "{broken}"
    );
    let toc = toc_state(&d);
    assert_eq!(toc["dead"], serde_json::json!(["#nowhere"]), "{toc}");
    let det = details_state(&d);
    assert_eq!(det["open"], 1, "{det}");
    assert_eq!(det["shown"], 1, "{det}");
    let console = console_problems(&d);
    assert!(
        console.iter().any(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("broken on purpose")),
        "{console:?}"
    );
}

#[test]
fn the_report_page_renders_cleanly_and_leads_with_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let st = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["report", "--accel", "edge-8x8-tinyml", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let page = out.join("index.html");
    assert!(page.is_file());
    let d = Driver::start();
    d.post(
        "url",
        serde_json::json!({"url": format!("file://{}", page.display())}),
    );
    // Every figure's plot rendered with a size; every <img> loaded.
    let broken = broken_plots(&d);
    assert_eq!(broken, serde_json::json!([]), "plots that did not render");
    let figures = d.script("return document.querySelectorAll('figure').length;");
    assert!(figures.as_u64().unwrap() >= 4, "{figures} figures");
    // The summary (its heading and its table) is on the first screen.
    let place = d.script(
        "const h = Array.from(document.querySelectorAll('h2')).find(e => e.textContent.trim().startsWith('Summary'));\
         if (!h) return 'no Summary heading';\
         let t = h.nextElementSibling; while (t && t.tagName !== 'TABLE') t = t.nextElementSibling;\
         if (!t) return 'no summary table';\
         const r = t.getBoundingClientRect();\
         return r.top >= 0 && r.top < window.innerHeight ? 'ok' : 'summary table at ' + r.top + ' px, screen ' + window.innerHeight;",
    );
    assert_eq!(place, serde_json::json!("ok"));
    // A table of contents above the summary, every in-page link of the page resolving to
    // an element (the TOC's and the plot list's).
    let toc = toc_state(&d);
    assert!(toc["toc"].as_u64().unwrap_or(0) >= 5, "{toc}");
    assert!(
        toc["links"].as_u64().unwrap_or(0) > toc["toc"].as_u64().unwrap(),
        "{toc}"
    );
    assert_eq!(toc["dead"], serde_json::json!([]), "{toc}");
    // Bulky details are collapsed: every <details> is closed, no taller than its summary
    // line until opened.
    let det = details_state(&d);
    assert!(det["n"].as_u64().unwrap() >= 10, "{det}");
    assert_eq!(det["open"], 0, "{det}");
    assert_eq!(det["shown"], 0, "{det}");
    assert_eq!(det["cpu"], 2, "one CPU-profile dump per library: {det}");
    // The summary table names both CPU libraries of the default core and gives a speedup
    // for each per model.
    let summary = d.script(
        "const h = document.getElementById('summary');\
         let t = h.nextElementSibling; while (t && t.tagName !== 'TABLE') t = t.nextElementSibling;\
         return {text: t.innerText, rows: t.querySelectorAll('tr').length};",
    );
    let text = summary["text"].as_str().unwrap();
    assert!(
        text.contains("vs CPU kernels reference") && text.contains("vs CPU kernels cmsis-nn"),
        "{text}"
    );
    // Two header rows and one row per built-in model.
    assert_eq!(summary["rows"], 6, "{text}");
    assert!(text.matches("speedup").count() == 2, "{text}");
    // No console messages of level WARNING or SEVERE.
    let bad = console_problems(&d);
    assert!(bad.is_empty(), "console: {bad:?}");
}
