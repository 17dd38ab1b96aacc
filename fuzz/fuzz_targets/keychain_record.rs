//! The keychain record decoder (`anaconda-auth`'s base64 JSON) on arbitrary values: it may
//! refuse one, never panic; a record it accepts encodes and decodes back to itself.
#![no_main]

use anacondad::secret::Secret;
use anacondad::store::TokenRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for value in [text.to_owned(), base64_of(data)] {
        let Ok(record) = TokenRecord::decode(&Secret::new(value), "anaconda.com") else {
            continue;
        };
        let again = TokenRecord::decode(&record.encode(), "anaconda.com")
            .expect("a record we encoded decodes");
        assert_eq!(again.to_json().expose(), record.to_json().expose());
    }
});

/// Most inputs are not base64: encode them so the JSON layer is reached too.
fn base64_of(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
