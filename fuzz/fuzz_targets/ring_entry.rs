#![no_main]
//! See `tensorbus_fuzz::ring_entry`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::ring_entry(data));
