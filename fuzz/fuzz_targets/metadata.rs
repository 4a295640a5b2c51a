#![no_main]
//! Fuzz target: see `coverforge::fuzzing::metadata`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coverforge::fuzzing::metadata(data));
