//! Compiles the GPU compositor's kernels (src/av/kernels.cu) to PTX with clang, which the build
//! needs anyway (OpenCV's bindings) and which targets NVPTX without a CUDA toolkit. When that
//! fails the PTX is left empty: the binary still builds and the GPU compositor reports that its
//! kernels are missing instead of running.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    // For tests that ask cargo about this platform's dependencies.
    println!("cargo:rustc-env=TARGET_TRIPLE={}", std::env::var("TARGET").expect("cargo sets TARGET"));
    let source = "src/av/kernels.cu";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-env-changed=COVERFORGE_CLANG");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("kernels.ptx");
    let clang = std::env::var("COVERFORGE_CLANG").unwrap_or_else(|_| "clang".into());
    let status = Command::new(&clang)
        .args(["-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib"])
        // sm_70 PTX runs on every GPU since Volta (the driver compiles it for the one it finds).
        .args(["--cuda-gpu-arch=sm_70", "-O3", "-ffp-contract=off", "-S", "-o"])
        .arg(&out)
        .arg(source)
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            println!("cargo:warning=GPU kernels not built ({clang}: {other:?}); the GPU compositor will be unavailable");
            std::fs::write(&out, "").expect("write empty PTX");
        }
    }
}
