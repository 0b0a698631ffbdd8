#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| keybound_fuzz_checks::client::client_headers(data));
