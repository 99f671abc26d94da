#![no_main]
//! See `tensorbus_fuzz::segment_open`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::segment_open(data));
