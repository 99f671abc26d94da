#![no_main]
//! See `tensorbus_fuzz::mcap_read`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::mcap_read(data));
