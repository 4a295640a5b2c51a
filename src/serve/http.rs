//! The HTTP side of `serve`: binding, the routes, the checks every request passes.

use super::covers::Covers;
use crate::env::Env;
use crate::pipeline::RenderOptions;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

/// Most event streams open at once.
pub const MAX_STREAMS: usize = 32;
/// A stream's keep-alive: a comment every this often, which also finds closed clients.
const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// The page.
const PAGE: &str = include_str!("page.html");

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The folder of videos and metadata.
    pub folder: PathBuf,
    /// Address to bind (default 127.0.0.1).
    pub bind: IpAddr,
    /// Port: `Some(0)` any free one; `None` 8080 or the next free one.
    pub port: Option<u16>,
    /// Required for a non-loopback bind.
    pub token: Option<String>,
    /// Where rendered covers go (outside FOLDER).
    pub cache_dir: PathBuf,
    /// Device choices for the renders.
    pub render: RenderOptions,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A flag combination that is refused.
    #[error("{0}")]
    Usage(String),
    /// The folder, the cache or the port.
    #[error("{0}")]
    Io(String),
}

/// Starts the server; calls `ready` with its URL once it listens, then serves until killed.
///
/// # Errors
/// [`ServeError`] when the flags are refused, the folder is not one, or no port can be bound.
pub fn serve(
    opts: ServeOptions,
    make_env: Arc<dyn Fn() -> Env + Send + Sync>,
    watch_folders: Vec<PathBuf>,
    ready: &dyn Fn(&str),
) -> Result<(), ServeError> {
    if !opts.bind.is_loopback() && opts.token.as_deref().is_none_or(str::is_empty) {
        return Err(ServeError::Usage(format!(
            "--bind {} is reachable from other machines: pass --token SECRET too",
            opts.bind
        )));
    }
    if !opts.folder.is_dir() {
        return Err(ServeError::Io(format!("{}: not a folder", opts.folder.display())));
    }
    let folder =
        opts.folder.canonicalize().map_err(|e| ServeError::Io(format!("{}: {e}", opts.folder.display())))?;
    if opts.cache_dir.starts_with(&folder) {
        return Err(ServeError::Usage(
            "the render cache must be outside FOLDER (renders would wake the watcher)".into(),
        ));
    }
    let (server, port) = bind(opts.bind, opts.port)?;
    crate::av::keep_freed_memory(); // as batch: renders reuse freed buffers
    let covers = Arc::new(
        Covers::new(&folder, &opts.cache_dir, opts.render.clone())
            .map_err(|e| ServeError::Io(format!("{}: {e}", opts.cache_dir.display())))?,
    );
    {
        let covers = covers.clone();
        let make_env = make_env.clone();
        std::thread::spawn(move || covers.run(&*make_env));
    }
    {
        let covers = covers.clone();
        let cache = opts.cache_dir.clone();
        std::thread::spawn(move || {
            let _ = crate::batch::watch::watch_folders(&watch_folders, &cache, &mut |changed| {
                covers.invalidate(changed);
                true
            });
        });
    }
    let host = if opts.bind.is_unspecified() { "127.0.0.1".to_string() } else { host_name(opts.bind) };
    ready(&format!("http://{host}:{port}/"));
    let site =
        Arc::new(Site { covers, port, bind: opts.bind, token: opts.token, streams: AtomicUsize::new(0) });
    for request in server.incoming_requests() {
        let site = site.clone();
        std::thread::spawn(move || site.handle(request));
    }
    Ok(())
}

fn host_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Binds `port`, or 8080 and up to 19 next ones when none is given.
fn bind(ip: IpAddr, port: Option<u16>) -> Result<(Server, u16), ServeError> {
    let candidates: Vec<u16> = match port {
        Some(p) => vec![p],
        None => (8080..8100).collect(),
    };
    let mut last = String::new();
    for p in candidates {
        match Server::http(SocketAddr::new(ip, p)) {
            Ok(server) => {
                let port = server.server_addr().to_ip().map_or(p, |a| a.port());
                return Ok((server, port));
            }
            Err(e) => last = format!("port {p}: {e}"),
        }
    }
    Err(ServeError::Io(format!("cannot listen on {ip}: {last}")))
}

struct Site {
    covers: Arc<Covers>,
    port: u16,
    bind: IpAddr,
    token: Option<String>,
    streams: AtomicUsize,
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn text(status: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

/// The query parameter `name`, percent-decoded.
fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Site {
    /// Whether the `Host` header names this server: loopback names on its port, or its bind
    /// address. With a token and a non-loopback bind any host may ask (the token guards).
    fn host_ok(&self, request: &Request) -> bool {
        let Some(host) =
            request.headers().iter().find(|h| h.field.equiv("Host")).map(|h| h.value.as_str().to_string())
        else {
            return false;
        };
        if self.token.is_some() && !self.bind.is_loopback() {
            return true;
        }
        let port = self.port;
        let mut allowed =
            vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
        allowed.push(format!("{}:{port}", host_name(self.bind)));
        allowed.iter().any(|a| a.eq_ignore_ascii_case(&host))
    }

    /// The token check: `?token=` (which sets the cookie) or the cookie itself.
    fn token_ok(&self, request: &Request) -> (bool, bool) {
        let Some(token) = &self.token else { return (true, false) };
        if param(request.url(), "token").is_some_and(|t| same_secret(&t, token)) {
            return (true, true);
        }
        let cookie = request
            .headers()
            .iter()
            .filter(|h| h.field.equiv("Cookie"))
            .flat_map(|h| h.value.as_str().split(';').map(str::trim).map(str::to_string).collect::<Vec<_>>())
            .find_map(|c| c.strip_prefix("cf_token=").map(str::to_string));
        (cookie.is_some_and(|c| same_secret(&c, token)), false)
    }

    fn handle(&self, request: Request) {
        if !self.host_ok(&request) {
            let _ = request.respond(text(403, "forbidden: this server answers to its own address only"));
            return;
        }
        let (authorised, set_cookie) = self.token_ok(&request);
        if !authorised {
            let _ = request.respond(text(401, "a token is required: open the URL with ?token=SECRET"));
            return;
        }
        if *request.method() != Method::Get {
            let _ = request.respond(text(405, "only GET"));
            return;
        }
        let url = request.url().to_string();
        let path = url.split('?').next().unwrap_or("");
        let cookie = set_cookie.then(|| {
            header(
                "Set-Cookie",
                &format!(
                    "cf_token={}; HttpOnly; SameSite=Strict; Path=/",
                    self.token.as_deref().unwrap_or("")
                ),
            )
        });
        let with_cookie = |r: Response<std::io::Cursor<Vec<u8>>>| match &cookie {
            Some(c) => r.with_header(c.clone()),
            None => r,
        };
        match path {
            "/" => {
                let r = Response::from_string(PAGE)
                    .with_header(header("Content-Type", "text/html; charset=utf-8"));
                let _ = request.respond(with_cookie(r));
            }
            "/api/covers" => {
                let body = serde_json::to_string(&self.covers.list()).unwrap_or_default();
                let _ = request.respond(with_cookie(json(body)));
            }
            "/api/cover" => match param(&url, "key").and_then(|k| self.covers.get(&k)) {
                Some(c) => {
                    let _ = request.respond(json(serde_json::to_string(&c).unwrap_or_default()));
                }
                None => {
                    let _ = request.respond(text(404, "no such cover"));
                }
            },
            "/image" => {
                // By key, from the cache: never a path from the request.
                match param(&url, "key")
                    .and_then(|k| self.covers.image(&k))
                    .and_then(|p| std::fs::read(p).ok())
                {
                    Some(bytes) => {
                        // The page asks with `rev=N`: one URL per revision, so it may be kept.
                        let cache =
                            if param(&url, "rev").is_some() { "private, max-age=86400" } else { "no-store" };
                        let r = Response::from_data(bytes)
                            .with_header(header("Content-Type", "image/jpeg"))
                            .with_header(header("Cache-Control", cache));
                        let _ = request.respond(r);
                    }
                    None => {
                        let _ = request.respond(text(404, "no such image"));
                    }
                }
            }
            "/events" => self.events(request),
            _ => {
                let _ = request.respond(text(404, "not found"));
            }
        }
    }

    /// A server-sent event stream of cover updates, until the client goes away. Written by
    /// hand on the raw connection (tiny_http would buffer a streamed body), flushed per event.
    fn events(&self, request: Request) {
        if self.streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
            self.streams.fetch_sub(1, Ordering::SeqCst);
            let _ = request.respond(text(503, "too many event streams"));
            return;
        }
        let rx = self.covers.subscribe();
        let mut w = request.into_writer();
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                    X-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: 1000\n\n";
        let mut alive = w.write_all(head.as_bytes()).and_then(|()| w.flush()).is_ok();
        while alive {
            let chunk = match rx.recv_timeout(KEEP_ALIVE) {
                Ok(msg) if msg.is_empty() => continue, // a liveness probe from `subscribers`
                Ok(msg) => format!("data: {msg}\n\n"),
                // Also how a closed client is found: the write fails.
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => ": keep-alive\n\n".to_string(),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            alive = w.write_all(chunk.as_bytes()).and_then(|()| w.flush()).is_ok();
        }
        self.streams.fetch_sub(1, Ordering::SeqCst);
    }
}

fn json(body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("Cache-Control", "no-store"))
}

/// The default render cache for `folder`: under the user's cache folder, one per folder.
pub fn default_cache_dir(folder: &Path) -> PathBuf {
    let real = folder.canonicalize().unwrap_or_else(|_| folder.to_owned());
    let id = blake3::hash(real.to_string_lossy().as_bytes()).to_hex()[..16].to_string();
    crate::keyframe::cache::FrameCache::default_dir()
        .parent()
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
        .join("serve")
        .join(id)
}
