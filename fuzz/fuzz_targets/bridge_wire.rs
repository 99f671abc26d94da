#![no_main]
//! See `tensorbus_fuzz::bridge_wire`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::bridge_wire(data));
