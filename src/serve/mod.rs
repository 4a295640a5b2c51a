//! `coverforge serve`: the designers' live preview. A small sync HTTP server (tiny_http) with
//! server-sent events: the page lists FOLDER's covers, shows one large with its A/B variants and
//! at feed size under the platform's UI, and updates by itself when an edit re-renders a cover
//! (or shows the edit's error, file and line, over the last good image).
//!
//! Security: it binds 127.0.0.1 unless told otherwise, and a non-loopback bind needs a token
//! (given once as `?token=`, then a cookie checked on every route, events and images included).
//! Requests whose `Host` is not this server's are refused (DNS rebinding). Only the page's
//! routes exist; images are served by cover key from the server's own cache, never by path, so
//! nothing outside FOLDER and the template roots is ever read. Nothing is written but the cache,
//! which lives outside FOLDER so that renders never wake the watcher.

pub mod covers;
mod http;

pub use http::{default_cache_dir, serve, ServeError, ServeOptions, MAX_STREAMS};
