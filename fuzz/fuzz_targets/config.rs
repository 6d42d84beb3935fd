//! Config text → `load_str` (parse, `${ENV}` substitution, section-wise
//! deserialization, validation, template compilation). It must answer with
//! a config or errors, never panic, and its errors must stay printable.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Every variable is set, so substitution runs deep into the document.
    let env = |name: &str| (name.len() < 8).then(|| format!("v-{name}"));
    match clawhooks::config::load_str(text, &env) {
        Ok(cfg) => {
            let _ = format!("{cfg:?}");
            for w in &cfg.warnings {
                let _ = w.to_string();
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an Err without errors");
            let _ = errors.to_string();
        }
    }
});
