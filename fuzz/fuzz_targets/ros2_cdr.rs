#![no_main]
//! See `tensorbus_fuzz::ros2_cdr`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::ros2_cdr(data));
