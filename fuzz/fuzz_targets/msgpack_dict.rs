#![no_main]
//! See `tensorbus_fuzz::msgpack_dict`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tensorbus_fuzz::msgpack_dict(data));
