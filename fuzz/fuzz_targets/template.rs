#![no_main]
//! Fuzz target: see `coverforge::fuzzing::template`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coverforge::fuzzing::template(data));
