#![no_main]
//! See `tensorbus_fuzz::dlpack_import`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::dlpack_import(data));
