//! The field names of a `Deserialize` struct, asked of serde itself, so the list of keys that
//! `ANACONDAD_<KEY>` variables may override is never written out by hand.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Names of the fields `T` deserializes (its keys in `config.toml`).
pub fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    let _the_probe_always_stops = T::deserialize(FieldProbe { names: &mut names });
    names
}

/// A deserializer that records the fields it is asked for and then stops.
struct FieldProbe<'a> {
    names: &'a mut &'static [&'static str],
}

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.names = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_settings_keys_are_the_struct_fields() {
        let keys = super::field_names::<super::super::Settings>();
        assert!(
            keys.contains(&"storage") && keys.contains(&"browser_login_port"),
            "{keys:?}"
        );
        assert_eq!(keys.len(), 13);
    }
}
