//! `xform docs serve`: the target folder over HTTP on 127.0.0.1, for
//! browsers that restrict `file://` pages. A small threaded server on
//! `std::net`: `GET` and `HEAD` of files directly in the folder, nothing
//! else.
//!
//! Invariant: only files that are directly inside the served folder (after
//! resolving links) are ever read; any other path is a 404.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The content type of a served file, by extension.
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("txt" | "log" | "sql" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file a request path names, or `None` when it is not a plain file
/// name inside `root` (`..`, slashes, hidden files, links out of it).
pub fn resolve(root: &Path, request_path: &str) -> Option<PathBuf> {
    let path = request_path.split(['?', '#']).next().unwrap_or_default();
    let name = percent_decode(path.strip_prefix('/')?)?;
    let name = if name.is_empty() {
        "index.html".to_owned()
    } else {
        name
    };
    if name.contains(['/', '\\', '\0']) || name.starts_with('.') {
        return None;
    }
    let root = root.canonicalize().ok()?;
    let file = root.join(&name).canonicalize().ok()?;
    (file.parent() == Some(root.as_path()) && file.is_file()).then_some(file)
}

fn respond(stream: &mut TcpStream, status: &str, ctype: &str, body: &[u8], head: bool) {
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(header.as_bytes());
    if !head {
        let _ = stream.write_all(body);
    }
    let _ = stream.flush();
}

fn handle(mut stream: TcpStream, root: &Path) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // The headers are read and ignored.
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let head = method == "HEAD";
    if method != "GET" && !head {
        respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            b"only GET and HEAD\n",
            false,
        );
        return;
    }
    match resolve(root, target).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
        Some((path, body)) => respond(&mut stream, "200 OK", content_type(&path), &body, head),
        None => respond(
            &mut stream,
            "404 Not Found",
            "text/plain; charset=utf-8",
            b"not found\n",
            head,
        ),
    }
}

/// Binds 127.0.0.1:`port` (0: any free port).
pub fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
}

/// Serves `root` until the process is stopped; one thread per connection.
pub fn serve(listener: &TcpListener, root: &Path) {
    for stream in listener.incoming().flatten() {
        let root = root.to_path_buf();
        std::thread::spawn(move || handle(stream, &root));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_paths_out_of_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "x").unwrap();
        std::fs::write(dir.path().join("catalog.json"), "{}").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/inner.json"), "{}").unwrap();
        let root = dir.path();
        assert!(resolve(root, "/").is_some_and(|p| p.ends_with("index.html")));
        assert!(resolve(root, "/catalog.json?x=1").is_some());
        assert!(resolve(root, "/catalog%2ejson").is_some());
        for bad in [
            "/../etc/passwd",
            "/..%2f..%2fetc%2fpasswd",
            "/%2e%2e/x",
            "/sub/inner.json",
            "/sub",
            "/.hidden",
            "//etc/passwd",
            "/missing.json",
            "/%zz",
            "relative",
        ] {
            assert!(resolve(root, bad).is_none(), "{bad}");
        }
    }
}
