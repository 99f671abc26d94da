#![no_main]
//! See `tensorbus_fuzz::descriptor`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::descriptor(data));
