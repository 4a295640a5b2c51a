#![no_main]
//! Fuzz target: see `coverforge::fuzzing::layout`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coverforge::fuzzing::layout(data));
