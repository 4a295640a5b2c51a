#![no_main]
//! Fuzz target: see `coverforge::fuzzing::media`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coverforge::fuzzing::media(data));
