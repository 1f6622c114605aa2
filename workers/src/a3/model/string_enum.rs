//! `string_enum!`: how A3's enums go on the wire. The contract names them as strings; A3 also
//! accepts their numbers on input, so both are read. Every enum of the model is made by it.
//!
//! The expansion names `Serialize`, `Serializer`, `Deserialize` and `Deserializer` unqualified:
//! a file that uses the macro imports them.

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $n:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The contract's name.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => stringify!($variant)),+ } }
            /// The contract's number.
            pub fn number(self) -> u8 { match self { $($name::$variant => $n),+ } }
            /// By name (case-insensitive) or number.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                if let Ok(n) = s.parse::<u8>() {
                    return Self::ALL.iter().copied().find(|v| v.number() == n);
                }
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_json::Value::deserialize(d)?;
                let parsed = match &v {
                    serde_json::Value::String(s) => Self::parse(s),
                    serde_json::Value::Number(n) => n.as_u64().and_then(|n| Self::ALL.iter().copied().find(|x| u64::from(x.number()) == n)),
                    _ => None,
                };
                parsed.ok_or_else(|| serde::de::Error::custom(format!("invalid {}: {v}", stringify!($name))))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}
