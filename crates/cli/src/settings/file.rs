//! `--config FILE`: a TOML file holding any setting of any group, with the
//! same key names as the groups' fields.
//!
//! One file serves every subcommand: `keybound admin` reads the file
//! `keybound serve` runs with, so a key is accepted whichever subcommand
//! reads it. Every value is checked as it is read, by the type of the
//! field that declares it, and an unknown key is refused. The TOML
//! deserializer drives the reading key by key, so each error points at
//! the line and column of the key or value at fault.

use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{absorb_key, all_keys, FileSettings};

/// Reads and checks the file at `path`.
pub(crate) fn read(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl<'de> Deserialize<'de> for FileSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FileVisitor)
    }
}

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = FileSettings;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a table of keybound settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileSettings, A::Error> {
        let mut file = FileSettings::default();
        while let Some(key) = map.next_key_seed(KnownKey)? {
            absorb_key(&mut file, &key, &mut map)?;
        }
        Ok(file)
    }
}

/// A key some group declares; any other is refused while the deserializer
/// still knows where the key is.
struct KnownKey;

impl<'de> DeserializeSeed<'de> for KnownKey {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let key = String::deserialize(d)?;
        if all_keys().contains(&key.as_str()) {
            Ok(key)
        } else {
            Err(de::Error::unknown_field(&key, all_keys()))
        }
    }
}

/// Reads the value of the map entry under way into the group `G` that
/// declares `key`: `G` is deserialized from a table holding that one
/// entry, so the value is checked by the field's own type.
pub(super) fn one_key<'de, G: Deserialize<'de>, A: MapAccess<'de>>(
    key: &str,
    map: &mut A,
) -> Result<G, A::Error> {
    map.next_value_seed(OneKey {
        key,
        group: PhantomData,
    })
}

struct OneKey<'k, G> {
    key: &'k str,
    group: PhantomData<G>,
}

impl<'de, G: Deserialize<'de>> DeserializeSeed<'de> for OneKey<'_, G> {
    type Value = G;

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<G, D::Error> {
        G::deserialize(OneEntry {
            key: Some(self.key),
            value: Some(value),
        })
    }
}

/// A table of one entry whose value is still in the file's deserializer.
struct OneEntry<'k, D> {
    key: Option<&'k str>,
    value: Option<D>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for OneEntry<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, D: Deserializer<'de>> MapAccess<'de> for OneEntry<'_, D> {
    type Error = D::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, D::Error> {
        match self.key.take() {
            Some(key) => seed
                .deserialize(IntoDeserializer::<D::Error>::into_deserializer(key))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, D::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("a value read twice")),
        }
    }
}

/// The keys a group's derived `Deserialize` accepts: its field names,
/// which serde hands to the deserializer it is given.
pub(super) fn keys<G: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = G::deserialize(FieldNames(&mut fields));
    fields
}

struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("only the field names were wanted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}
