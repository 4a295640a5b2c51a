#![no_main]
//! Fuzz target: see `coverforge::fuzzing::utm`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| coverforge::fuzzing::utm(data));
