#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| keybound_fuzz_checks::jwk::jwk_parse(data));
