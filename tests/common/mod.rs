//! Helpers shared by the integration tests: the real binary, run in a fresh temporary folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary, keeping to the repository's fonts folder (the system's fuller fonts would make
/// covers depend on the machine). Tests that start it themselves begin here.
pub fn coverforge() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coverforge"));
    c.env("COVERFORGE_SYSTEM_FONTS", "0");
    c
}

/// The repository root (where samples/, templates/ and fonts/ live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the repository root.
pub fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

/// What a finished command returned.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `coverforge ARGS` in `dir` with the repository as its data folder.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    run_in_env(dir, args, &[])
}

/// As [`run_in`], with extra environment variables.
pub fn run_in_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = coverforge()
        .args(args)
        .current_dir(dir)
        .env("COVERFORGE_HOME", root())
        // Test metadata in temporary folders names templates and images under tests/.
        .env("COVERFORGE_ALLOW_PATH", root().join("tests"))
        .envs(env.iter().copied())
        .output()
        .expect("coverforge runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh temporary folder for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Decodes QR codes in an image with zbarimg (a tool nobody here wrote).
pub fn zbar(image: &Path) -> Vec<String> {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(image)
        .output()
        .expect("zbarimg is installed (make test installs zbar-tools)");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).filter(|l| !l.is_empty()).collect()
}

/// Writes `meta` as `m.yaml` in `dir` and runs `render samples/travel.mp4 --meta m.yaml -o c.jpg
/// --json` there; returns the output and the parsed JSON report (`Null` when the run failed).
pub fn render_travel_json(dir: &Path, meta: &str) -> (Output, serde_json::Value) {
    std::fs::write(dir.join("m.yaml"), meta).unwrap();
    let video = repo("samples/travel.mp4");
    let r = run_in(dir, &["render", video.to_str().unwrap(), "--meta", "m.yaml", "-o", "c.jpg", "--json"]);
    let json = serde_json::from_str(&r.stdout).unwrap_or(serde_json::Value::Null);
    (r, json)
}

/// The environment library tests render in: the repository as the data folder, and `tests/`
/// readable by metadata in temporary folders.
#[allow(dead_code)]
pub fn test_env() -> coverforge::Env {
    let mut env = coverforge::Env::new(&root(), Default::default());
    env.fonts.use_system_fonts(false);
    env.roots.allow(&root().join("tests"));
    env
}
