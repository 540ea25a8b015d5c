//! Small serde helpers for Consul's JSON conventions (Go's `omitempty` and nil slices).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `omitempty` for integers.
pub(crate) fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// `omitempty` for integers.
pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// `omitempty` for bools.
pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}

/// Lists Go writes as `null` when empty (a nil slice) and reads `null` as empty.
pub(crate) mod nil_when_empty {
    use super::*;

    /// Write `null` for an empty list, the list otherwise.
    pub(crate) fn serialize<T: Serialize, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        if v.is_empty() {
            s.serialize_none()
        } else {
            v.serialize(s)
        }
    }

    /// Read a list, `null` meaning empty.
    pub(crate) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}
