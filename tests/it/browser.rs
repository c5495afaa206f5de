//! A headless Chromium driven over the `DevTools` protocol, for the docs
//! page tests. The protocol runs over a pipe (`--remote-debugging-pipe`:
//! Chromium reads commands on fd 3 and writes replies on fd 4, each a JSON
//! message ended by a NUL byte); a shell maps those descriptors to the
//! child's stdin and stdout, so no websocket is needed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser, if there is one. Under `CI=true` a missing browser fails
/// the test instead of skipping it.
pub fn chromium() -> Option<PathBuf> {
    let path =
        std::env::var_os("XFORM_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "{} is missing: CI must run the browser tests (.ci/test.sh installs chromium)",
        path.display()
    );
    eprintln!(
        "skipping: no Chromium at {} (apt-get install chromium)",
        path.display()
    );
    None
}

pub struct Browser {
    child: Child,
    input: ChildStdin,
    replies: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

fn reader(out: ChildStdout, tx: &mpsc::Sender<Value>) {
    let mut r = BufReader::new(out);
    loop {
        let mut buf = Vec::new();
        match r.read_until(0, &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if buf.last() == Some(&0) {
            buf.pop();
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
            && tx.send(v).is_err()
        {
            return;
        }
    }
}

impl Browser {
    /// Starts Chromium headless with a page of `width` x `height` CSS pixels.
    pub fn launch(chromium: &Path, width: u32, height: u32) -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let input = child.stdin.take().expect("stdin");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || reader(out, &tx));
        let mut b = Self {
            child,
            input,
            replies: rx,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", &json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = b.call(
            "Target.attachToTarget",
            &json!({"targetId": target_id, "flatten": true}),
        );
        attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .clone_into(&mut b.session);
        b.call(
            "Emulation.setDeviceMetricsOverride",
            &json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    /// Sends a command and waits for its reply's `result`.
    pub fn call(&mut self, method: &str, params: &Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.input.write_all(&bytes).expect("write to chromium");
        self.input.flush().expect("flush");
        loop {
            let v = self
                .replies
                .recv_timeout(Duration::from_mins(1))
                .unwrap_or_else(|_| panic!("no reply from chromium to {method}"));
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method} failed: {}", v["error"]);
                return v["result"].clone();
            }
        }
    }

    /// Evaluates an expression in the page; returns its value (promises
    /// awaited).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            &json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "`{expr}` threw: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is true in the page.
    pub fn wait_for(&mut self, expr: &str) {
        for _ in 0..400 {
            if self.eval(&format!("!!({expr})")) == json!(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for `{expr}`");
    }

    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", &json!({"url": url}));
    }

    /// A real mouse click at a point of the viewport.
    pub fn click_at(&mut self, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            &json!({"type": "mouseMoved", "x": x, "y": y}),
        );
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                &json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1}),
            );
        }
    }

    /// Clicks the centre of the first element matching a CSS selector.
    pub fn click(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).expect("json");
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
        ));
        let (x, y) = (
            r[0].as_f64()
                .unwrap_or_else(|| panic!("no element `{selector}`")),
            r[1].as_f64().expect("y"),
        );
        self.click_at(x, y);
    }

    /// A PNG of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", &json!({"format": "png"}));
        base64_decode(r["data"].as_str().expect("screenshot data"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).expect("byte"));
        }
    }
    out
}

/// A decoded PNG: size and RGBA-ish pixels (one `u32` per pixel).
pub struct Png {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u32>,
}

/// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium
/// writes), checking its structure on the way.
pub fn decode_png(bytes: &[u8]) -> Png {
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG signature"
    );
    let mut at = 8;
    let (mut width, mut height, mut channels) = (0u32, 0u32, 0usize);
    let mut idat = Vec::new();
    let mut ended = false;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("len")) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().expect("w"));
                height = u32::from_be_bytes(data[4..8].try_into().expect("h"));
                assert_eq!(data[8], 8, "bit depth");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("colour type {other}"),
                };
                assert_eq!(data[12], 0, "interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => {
                ended = true;
                break;
            }
            _ => {}
        }
        at += 12 + len;
    }
    assert!(ended && width > 0 && height > 0, "truncated PNG");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&idat[..]), &mut raw)
        .expect("inflate IDAT");
    let stride = width as usize * channels;
    assert_eq!(raw.len(), (stride + 1) * height as usize, "pixel data size");
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for row in raw.chunks(stride + 1) {
        let filter = row[0];
        let mut line = row[1..].to_vec();
        for x in 0..stride {
            let a = if x >= channels {
                i32::from(line[x - channels])
            } else {
                0
            };
            let b = i32::from(prev[x]);
            let c = if x >= channels {
                i32::from(prev[x - channels])
            } else {
                0
            };
            let add = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => i32::midpoint(a, b),
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                other => panic!("filter {other}"),
            };
            line[x] = line[x].wrapping_add(u8::try_from(add & 0xff).expect("byte"));
        }
        for px in line.chunks(channels) {
            pixels.push(px.iter().fold(0u32, |acc, &v| (acc << 8) | u32::from(v)));
        }
        prev = line;
    }
    Png {
        width,
        height,
        pixels,
    }
}
