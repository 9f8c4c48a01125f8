//! Serde glue for the claims object: the registered claims next to the application's data,
//! flattened into one JSON object, in one pass each way.
//!
//! `#[serde(flatten)]` would buffer every unknown member into an intermediate tree before
//! handing it to `T`. Instead, decoding feeds `T` straight from the JSON map while picking
//! the registered claims out of the stream, and encoding writes `T`'s fields into the same
//! map as the registered claims, refusing field names that would collide with them.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{
    self, Error as _, Impossible, Serialize, SerializeMap, SerializeStruct, Serializer,
};

use super::number::read_u64;
use super::{Claims, Confirmation, SessionId};

/// Claim names owned by the codec; session data may not use them.
pub const RESERVED_CLAIMS: [&str; 7] = ["sid", "iat", "exp", "auth_time", "ver", "rem", "cnf"];

fn is_reserved(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name)
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Refuses data holding NaN or an infinity: JSON has no spelling for them (serde_json
/// would write `null`), so the token would sign but never decode again.
pub(crate) fn check_finite<T: Serialize + ?Sized>(data: &T) -> serde_json::Result<()> {
    data.serialize(FiniteCheck)
}

/// A serializer that writes nothing and only looks for non-finite floats.
struct FiniteCheck;

fn non_finite() -> serde_json::Error {
    ser::Error::custom(
        "session data holds NaN or an infinity, which JSON cannot carry; store it otherwise",
    )
}

macro_rules! accept {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> serde_json::Result<()> { Ok(()) })*
    };
}

impl Serializer for FiniteCheck {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    accept!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_variant(&'static str, u32, &'static str),
        serialize_unit_struct(&'static str),
    );

    fn serialize_f32(self, v: f32) -> serde_json::Result<()> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(non_finite())
        }
    }
    fn serialize_f64(self, v: f64) -> serde_json::Result<()> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(non_finite())
        }
    }
    fn serialize_none(self) -> serde_json::Result<()> {
        Ok(())
    }
    fn serialize_some<V: Serialize + ?Sized>(self, value: &V) -> serde_json::Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> serde_json::Result<()> {
        Ok(())
    }
    fn serialize_newtype_struct<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &V,
    ) -> serde_json::Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &V,
    ) -> serde_json::Result<()> {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self> {
        Ok(self)
    }
}

/// One implementation for every compound: check each element, key and value.
macro_rules! check_elements {
    ($($trait:ident :: $method:ident $(($key:ident))?),* $(,)?) => {
        $(impl ser::$trait for FiniteCheck {
            type Ok = ();
            type Error = serde_json::Error;
            fn $method<V: Serialize + ?Sized>(
                &mut self,
                $($key: &'static str,)?
                value: &V,
            ) -> serde_json::Result<()> {
                $(let _ = $key;)?
                value.serialize(FiniteCheck)
            }
            fn end(self) -> serde_json::Result<()> {
                Ok(())
            }
        })*
    };
}

check_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
    SerializeStruct::serialize_field(key),
    SerializeStructVariant::serialize_field(key),
);

impl SerializeMap for FiniteCheck {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_key<K: Serialize + ?Sized>(&mut self, key: &K) -> serde_json::Result<()> {
        key.serialize(FiniteCheck)
    }
    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> serde_json::Result<()> {
        value.serialize(FiniteCheck)
    }
    fn end(self) -> serde_json::Result<()> {
        Ok(())
    }
}

impl<T: Serialize> Serialize for Claims<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("sid", &self.sid)?;
        map.serialize_entry("iat", &self.iat)?;
        map.serialize_entry("exp", &self.exp)?;
        map.serialize_entry("auth_time", &self.auth_time)?;
        map.serialize_entry("ver", &self.ver)?;
        if self.remember {
            map.serialize_entry("rem", &true)?;
        }
        if let Some(cnf) = &self.cnf {
            map.serialize_entry("cnf", cnf)?;
        }
        self.data.serialize(Flatten { map: &mut map })?;
        map.end()
    }
}

/// Writes a struct's or map's members into an enclosing map.
struct Flatten<'a, M> {
    map: &'a mut M,
}

fn not_an_object<E: ser::Error>() -> E {
    E::custom("session data must serialize as a struct or a map (a JSON object)")
}

fn reserved_field<E: ser::Error>(name: &str) -> E {
    E::custom(format_args!(
        "session data field `{name}` collides with a registered claim"
    ))
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), M::Error> { Err(not_an_object()) })*
    };
}

impl<'a, M: SerializeMap> Serializer for Flatten<'a, M> {
    type Ok = ();
    type Error = M::Error;
    type SerializeSeq = Impossible<(), M::Error>;
    type SerializeTuple = Impossible<(), M::Error>;
    type SerializeTupleStruct = Impossible<(), M::Error>;
    type SerializeTupleVariant = Impossible<(), M::Error>;
    type SerializeMap = FlattenMap<'a, M>;
    type SerializeStruct = FlattenStruct<'a, M>;
    type SerializeStructVariant = Impossible<(), M::Error>;

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_none(self) -> Result<(), M::Error> {
        // It would write no member, and no member reads back as `Some`: refuse it rather
        // than sign a token that cannot be decoded.
        Err(M::Error::custom(
            "session data of `None` cannot be signed; use a struct with optional fields",
        ))
    }
    fn serialize_some<V: Serialize + ?Sized>(self, value: &V) -> Result<(), M::Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), M::Error> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), M::Error> {
        Ok(())
    }
    fn serialize_newtype_struct<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &V,
    ) -> Result<(), M::Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<(), M::Error> {
        Err(not_an_object())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, M::Error> {
        Err(not_an_object())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, M::Error> {
        Err(not_an_object())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, M::Error> {
        Err(not_an_object())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, M::Error> {
        Err(not_an_object())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, M::Error> {
        Ok(FlattenMap { map: self.map })
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, M::Error> {
        Ok(FlattenStruct { map: self.map })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, M::Error> {
        Err(not_an_object())
    }
}

struct FlattenStruct<'a, M> {
    map: &'a mut M,
}

impl<M: SerializeMap> SerializeStruct for FlattenStruct<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), M::Error> {
        if is_reserved(key) {
            return Err(reserved_field(key));
        }
        self.map.serialize_entry(key, value)
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

struct FlattenMap<'a, M> {
    map: &'a mut M,
}

impl<M: SerializeMap> SerializeMap for FlattenMap<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result<(), M::Error> {
        // Maps as session data are rare; probing the key through a JSON value is fine.
        if let Ok(serde_json::Value::String(name)) = serde_json::to_value(key)
            && is_reserved(&name)
        {
            return Err(reserved_field(&name));
        }
        self.map.serialize_key(key)
    }

    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), M::Error> {
        self.map.serialize_value(value)
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Claims<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor {
            prefilled: Prefilled::default(),
            data: PhantomData,
        })
    }
}

/// Registered claims already read from the payload's prefix.
#[derive(Default)]
struct Prefilled {
    sid: Option<SessionId>,
    iat: Option<u64>,
    exp: Option<u64>,
    auth_time: Option<u64>,
    ver: Option<u32>,
    rem: Option<bool>,
    cnf: Option<Confirmation>,
}

/// Decodes a claims object from `json`, which the caller lets us scribble on (it is
/// restored before returning).
///
/// Tokens this crate signs start with the registered claims in a fixed order:
/// `{"sid":"<22 chars>","iat":N,"exp":N,"auth_time":N,"ver":N,` (then `"rem":true,` for a
/// persistent session) followed by the data's members. That prefix is read by hand; the
/// rest goes to serde as an object of its own, with the registered slots already filled,
/// so a registered name repeated later is still a duplicate. Any other spelling (other
/// libraries, reordered members, escapes, whitespace) takes the general path, which accepts
/// and rejects exactly the same inputs.
///
/// JSON text is UTF-8 (RFC 8259 §8.1): the whole of it is checked once, up front, and the
/// parser then reads its strings without checking each one again. (Parsing bytes, serde_json
/// checks the strings it keeps but not those it skips, such as a member the data type
/// ignores; those must be UTF-8 too.)
pub(crate) fn decode<T: de::DeserializeOwned>(json: &mut [u8]) -> serde_json::Result<Claims<T>> {
    if let Some((prefilled, comma)) = read_prefix(json)
        // After the comma a member must follow: `,}` is not JSON, though `{}` would be.
        && json[comma + 1..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            == Some(&b'"')
    {
        // The prefix is ASCII, checked as it was read; the rest is checked here.
        json[comma] = b'{';
        let result = utf8(&json[comma..]).and_then(|text| {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let seed = ClaimsVisitor {
                prefilled,
                data: PhantomData,
            };
            seed.deserialize(&mut deserializer)
                .and_then(|claims| deserializer.end().map(|()| claims))
        });
        json[comma] = b',';
        if result.is_ok() {
            return result;
        }
    }
    serde_json::from_str(utf8(json)?)
}

/// `json` as text, or the error of a claims object that is not UTF-8.
pub(crate) fn utf8(json: &[u8]) -> serde_json::Result<&str> {
    std::str::from_utf8(json)
        .map_err(|_| de::Error::custom("the claims are not UTF-8 (RFC 8259 §8.1)"))
}

/// Reads our own fixed prefix; returns the values and the index of the comma after it.
fn read_prefix(json: &[u8]) -> Option<(Prefilled, usize)> {
    let mut at = 0;
    expect(json, &mut at, br#"{"sid":""#)?;
    let sid = SessionId::from_ascii(json.get(at..at + 22)?)?;
    at += 22;
    expect(json, &mut at, br#"","iat":"#)?;
    let iat = read_u64(json, &mut at)?;
    expect(json, &mut at, br#","exp":"#)?;
    let exp = read_u64(json, &mut at)?;
    expect(json, &mut at, br#","auth_time":"#)?;
    let auth_time = read_u64(json, &mut at)?;
    expect(json, &mut at, br#","ver":"#)?;
    let ver = u32::try_from(read_u64(json, &mut at)?).ok()?;
    let mut rem = None;
    if json[at..].starts_with(br#","rem":true,"#) {
        at += br#","rem":true"#.len();
        rem = Some(true);
    }
    if json.get(at) != Some(&b',') {
        return None;
    }
    let prefilled = Prefilled {
        sid: Some(sid),
        iat: Some(iat),
        exp: Some(exp),
        auth_time: Some(auth_time),
        ver: Some(ver),
        rem,
        cnf: None,
    };
    Some((prefilled, at))
}

/// Moves past `literal` if the bytes at `at` are exactly it. The length is a constant, so
/// the comparison compiles to a few loads instead of a call to `memcmp`.
fn expect<const N: usize>(json: &[u8], at: &mut usize, literal: &[u8; N]) -> Option<()> {
    let found: &[u8; N] = json.get(*at..*at + N)?.try_into().ok()?;
    (found == literal).then(|| *at += N)
}

struct ClaimsVisitor<T> {
    prefilled: Prefilled,
    data: PhantomData<T>,
}

impl<'de, T: de::Deserialize<'de>> DeserializeSeed<'de> for ClaimsVisitor<T> {
    type Value = Claims<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Claims<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: de::Deserialize<'de>> Visitor<'de> for ClaimsVisitor<T> {
    type Value = Claims<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of session claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Claims<T>, A::Error> {
        let Prefilled {
            sid,
            iat,
            exp,
            auth_time,
            ver,
            rem,
            cnf,
        } = self.prefilled;
        let mut access = Registered {
            map,
            sid,
            iat,
            exp,
            auth_time,
            ver,
            rem,
            cnf,
        };
        let data = T::deserialize(FlatDeserializer {
            access: &mut access,
        })?;
        access.drain()?;
        let Registered {
            sid,
            iat,
            exp,
            auth_time,
            ver,
            rem,
            cnf,
            ..
        } = access;
        Ok(Claims {
            sid: sid.ok_or_else(|| de::Error::missing_field("sid"))?,
            iat: iat.ok_or_else(|| de::Error::missing_field("iat"))?,
            exp: exp.ok_or_else(|| de::Error::missing_field("exp"))?,
            auth_time: auth_time.ok_or_else(|| de::Error::missing_field("auth_time"))?,
            ver: ver.ok_or_else(|| de::Error::missing_field("ver"))?,
            remember: rem.unwrap_or(false),
            cnf,
            data,
        })
    }
}

/// A map access that captures the registered claims as they stream past and shows every
/// other member to the session data's deserializer.
struct Registered<A> {
    map: A,
    sid: Option<SessionId>,
    iat: Option<u64>,
    exp: Option<u64>,
    auth_time: Option<u64>,
    ver: Option<u32>,
    rem: Option<bool>,
    cnf: Option<Confirmation>,
}

enum Claim {
    Sid,
    Iat,
    Exp,
    AuthTime,
    Ver,
    Rem,
    Cnf,
}

enum MemberName<'de> {
    Registered(Claim),
    Other(Cow<'de, str>),
}

fn classify(name: &str) -> Option<Claim> {
    Some(match name {
        "sid" => Claim::Sid,
        "iat" => Claim::Iat,
        "exp" => Claim::Exp,
        "auth_time" => Claim::AuthTime,
        "ver" => Claim::Ver,
        "rem" => Claim::Rem,
        "cnf" => Claim::Cnf,
        _ => return None,
    })
}

struct MemberNameSeed;

impl<'de> DeserializeSeed<'de> for MemberNameSeed {
    type Value = MemberName<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberNameSeed {
    type Value = MemberName<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(match classify(v) {
            Some(claim) => MemberName::Registered(claim),
            None => MemberName::Other(Cow::Borrowed(v)),
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(match classify(v) {
            Some(claim) => MemberName::Registered(claim),
            None => MemberName::Other(Cow::Owned(v.to_owned())),
        })
    }
}

fn store<'de, A: MapAccess<'de>, V: de::Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<V>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de, A: MapAccess<'de>> Registered<A> {
    fn capture(&mut self, claim: Claim) -> Result<(), A::Error> {
        match claim {
            Claim::Sid => store(&mut self.map, &mut self.sid, "sid"),
            Claim::Iat => store(&mut self.map, &mut self.iat, "iat"),
            Claim::Exp => store(&mut self.map, &mut self.exp, "exp"),
            Claim::AuthTime => store(&mut self.map, &mut self.auth_time, "auth_time"),
            Claim::Ver => store(&mut self.map, &mut self.ver, "ver"),
            Claim::Rem => store(&mut self.map, &mut self.rem, "rem"),
            Claim::Cnf => store(&mut self.map, &mut self.cnf, "cnf"),
        }
    }

    /// Reads what the data's deserializer left, so the registered claims after it are seen
    /// and the JSON map is consumed to its end.
    fn drain(&mut self) -> Result<(), A::Error> {
        while self.next_key::<IgnoredAny>()?.is_some() {
            self.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Registered<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.map.next_key_seed(MemberNameSeed)? {
                None => return Ok(None),
                Some(MemberName::Registered(claim)) => self.capture(claim)?,
                Some(MemberName::Other(Cow::Borrowed(name))) => {
                    return seed
                        .deserialize(BorrowedStrDeserializer::<A::Error>::new(name))
                        .map(Some);
                }
                Some(MemberName::Other(Cow::Owned(name))) => {
                    return seed
                        .deserialize(StringDeserializer::<A::Error>::new(name))
                        .map(Some);
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// Presents the non-registered members of the claims object to the session data type as if
/// they were a map of their own.
struct FlatDeserializer<'a, A> {
    access: &'a mut Registered<A>,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for FlatDeserializer<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.access)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        self.access.drain()?;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        seq tuple tuple_struct map struct enum identifier
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct User {
        sub: String,
        roles: Vec<String>,
    }

    fn claims<T>(data: T) -> Claims<T> {
        Claims {
            sid: SessionId::from_bytes([7; 16]),
            iat: 100,
            exp: 200,
            auth_time: 50,
            ver: 1,
            remember: false,
            cnf: None,
            data,
        }
    }

    #[test]
    fn struct_data_is_flattened_next_to_registered_claims() {
        let c = claims(User {
            sub: "u1".into(),
            roles: vec!["a".into()],
        });
        let json = serde_json::to_string(&c).expect("serializes");
        assert_eq!(
            json,
            r#"{"sid":"BwcHBwcHBwcHBwcHBwcHBw","iat":100,"exp":200,"auth_time":50,"ver":1,"sub":"u1","roles":["a"]}"#
        );
        let back: Claims<User> = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, c);
    }

    #[test]
    fn remember_is_written_only_when_set() {
        let mut c = claims(());
        c.remember = true;
        let json = serde_json::to_string(&c).expect("serializes");
        assert!(json.ends_with(r#""ver":1,"rem":true}"#), "{json}");
        assert_eq!(decode_str::<()>(&json).expect("decodes"), c);
        let json = json.replace(r#","rem":true"#, r#","rem":1"#);
        assert!(decode_str::<()>(&json).is_err(), "rem must be a boolean");
    }

    #[test]
    fn members_may_come_in_any_order_and_escaped() {
        let json = r#"{"ro\u006ces":[],"ver":1,"sub":"x","exp":2,"sid":"BwcHBwcHBwcHBwcHBwcHBw","auth_time":0,"iat":1}"#;
        let c: Claims<User> = serde_json::from_str(json).expect("deserializes");
        assert_eq!(c.data.sub, "x");
        assert_eq!((c.iat, c.exp, c.auth_time, c.ver), (1, 2, 0, 1));
    }

    #[test]
    fn unit_option_map_and_value_data_work() {
        let json = serde_json::to_string(&claims(())).expect("unit");
        assert!(json.ends_with(r#""ver":1}"#), "{json}");
        let _: Claims<()> = serde_json::from_str(&json).expect("unit back");

        let some = claims(Some(User {
            sub: "s".into(),
            roles: vec![],
        }));
        let json = serde_json::to_string(&some).expect("some");
        let back: Claims<Option<User>> = serde_json::from_str(&json).expect("option back");
        assert_eq!(back, some);
        let e = serde_json::to_string(&claims(None::<User>)).expect_err("none");
        assert!(e.to_string().contains("`None` cannot be signed"), "{e}");

        let map: BTreeMap<String, u32> = [("n".to_string(), 3)].into();
        let json = serde_json::to_string(&claims(map.clone())).expect("map");
        let back: Claims<BTreeMap<String, u32>> = serde_json::from_str(&json).expect("map back");
        assert_eq!(back.data, map);

        let back: Claims<serde_json::Value> = serde_json::from_str(&json).expect("value back");
        assert_eq!(back.data, serde_json::json!({"n": 3}));
    }

    #[test]
    fn reserved_names_and_non_objects_are_refused_when_signing() {
        #[derive(Serialize)]
        struct Bad {
            exp: u64,
        }
        let e = serde_json::to_string(&claims(Bad { exp: 1 })).expect_err("reserved");
        assert!(e.to_string().contains("`exp` collides"), "{e}");

        let map: BTreeMap<&str, u8> = [("sid", 1)].into();
        let e = serde_json::to_string(&claims(map)).expect_err("reserved map key");
        assert!(e.to_string().contains("`sid` collides"), "{e}");

        for e in [
            serde_json::to_string(&claims(5u8)).expect_err("number"),
            serde_json::to_string(&claims("s")).expect_err("string"),
            serde_json::to_string(&claims(vec![1])).expect_err("seq"),
        ] {
            assert!(e.to_string().contains("struct or a map"), "{e}");
        }
    }

    #[test]
    fn duplicate_missing_and_ill_typed_claims_are_refused() {
        let sid = r#""sid":"BwcHBwcHBwcHBwcHBwcHBw""#;
        let ok_rest = r#""iat":1,"exp":2,"auth_time":0,"ver":1,"sub":"x","roles":[]"#;
        let cases = [
            format!(r#"{{{sid},{sid},{ok_rest}}}"#),
            format!(r#"{{{ok_rest}}}"#),
            format!(r#"{{{sid},"iat":"1","exp":2,"auth_time":0,"ver":1,"sub":"x","roles":[]}}"#),
            format!(r#"{{{sid},"iat":-1,"exp":2,"auth_time":0,"ver":1,"sub":"x","roles":[]}}"#),
            format!(r#"{{{sid},"iat":1.5,"exp":2,"auth_time":0,"ver":1,"sub":"x","roles":[]}}"#),
            format!(r#"{{{sid},{ok_rest},"sub":"y"}}"#),
            format!(r#"{{"sid":"short",{ok_rest}}}"#),
            format!(r#"{{{sid},"iat":1,"exp":2,"auth_time":0,"ver":1,"roles":[]}}"#),
            "[]".to_string(),
            "null".to_string(),
        ];
        for json in cases {
            assert!(
                serde_json::from_str::<Claims<User>>(&json).is_err(),
                "{json} should not decode"
            );
        }
    }

    fn decode_str<T: de::DeserializeOwned>(json: &str) -> serde_json::Result<Claims<T>> {
        let mut buf = json.as_bytes().to_vec();
        let result = decode(&mut buf);
        assert_eq!(buf, json.as_bytes(), "decode must restore its buffer");
        result
    }

    #[test]
    fn claims_that_are_not_utf8_are_refused_on_both_paths() {
        let sid = r#""sid":"BwcHBwcHBwcHBwcHBwcHBw""#;
        let registered = r#""iat":100,"exp":200,"auth_time":50,"ver":1"#;
        for (fast, json) in [
            // A member the data ignores (serde_json skips such strings unchecked).
            (
                true,
                format!(r#"{{{sid},{registered},"sub":"u","roles":[],"x":"BAD"}}"#),
            ),
            // A string the data keeps.
            (
                true,
                format!(r#"{{{sid},{registered},"sub":"BAD","roles":[]}}"#),
            ),
            // The general path: members in another order.
            (
                false,
                format!(r#"{{{registered},{sid},"sub":"u","roles":[],"x":"BAD"}}"#),
            ),
        ] {
            let mut twin = json.replace("BAD", "ok").into_bytes();
            assert!(decode::<User>(&mut twin).is_ok(), "{json}");
            let bytes = json.replace("BAD", "\u{1}").into_bytes();
            let bytes: Vec<u8> = bytes
                .iter()
                .flat_map(|&b| if b == 1 { vec![0xff, 0xfe] } else { vec![b] })
                .collect();
            let mut buf = bytes.clone();
            assert!(
                decode::<User>(&mut buf).is_err(),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            assert_eq!(buf, bytes, "decode must restore its buffer");
            assert_eq!(read_prefix(&bytes).is_some(), fast, "{json}");
        }
    }

    #[test]
    fn prefix_fast_path_agrees_with_the_general_path() {
        let sid = r#""sid":"BwcHBwcHBwcHBwcHBwcHBw""#;
        let cases = [
            // Ours, exactly: the fast path.
            format!(r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[]}}"#),
            // Registered claim repeated after the prefix: must stay a duplicate.
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"exp":999,"sub":"u","roles":[]}}"#
            ),
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[],"sid":"x"}}"#
            ),
            // A persistent session: `rem` read with the prefix, and not twice.
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"rem":true,"sub":"u","roles":[]}}"#
            ),
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"rem":true,"sub":"u","roles":[],"rem":true}}"#
            ),
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"rem":false,"sub":"u","roles":[]}}"#
            ),
            format!(r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"rem":true}}"#),
            format!(r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"rem":true,}}"#),
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"rem":truex,"sub":"u","roles":[]}}"#
            ),
            // Numbers the general parser refuses for u64.
            format!(
                r#"{{{sid},"iat":0100,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[]}}"#
            ),
            format!(r#"{{{sid},"iat":1e2,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[]}}"#),
            format!(
                r#"{{{sid},"iat":18446744073709551616,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[]}}"#
            ),
            // The largest u64, and nineteen nines: both decode on either path.
            format!(
                r#"{{{sid},"iat":100,"exp":18446744073709551615,"auth_time":50,"ver":1,"sub":"u","roles":[]}}"#
            ),
            format!(
                r#"{{{sid},"iat":100,"exp":9999999999999999999,"auth_time":50,"ver":1,"sub":"u","roles":[]}}"#
            ),
            format!(r#"{{{sid},"iat":0,"exp":200,"auth_time":0,"ver":0,"sub":"u","roles":[]}}"#),
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":4294967296,"sub":"u","roles":[]}}"#
            ),
            // Trailing bytes after the object.
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[]}}x"#
            ),
            format!(
                r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[]}} "#
            ),
            // A trailing comma is not JSON, whatever the data type accepts.
            format!(r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,}}"#),
            format!(r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1, }}"#),
            // No data members at all, and other spellings: the general path.
            format!(r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":1}}"#),
            format!(
                r#"{{ {sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"sub":"u","roles":[]}}"#
            ),
            format!(r#"{{"sub":"u",{sid},"iat":100,"exp":200,"auth_time":50,"ver":1,"roles":[]}}"#),
        ];
        for json in cases {
            let fast = decode_str::<User>(&json).map_err(|e| e.to_string());
            let general = serde_json::from_str::<Claims<User>>(&json).map_err(|e| e.to_string());
            let fast_any = decode_str::<serde_json::Value>(&json).is_ok();
            let general_any = serde_json::from_str::<Claims<serde_json::Value>>(&json).is_ok();
            assert_eq!(fast_any, general_any, "{json}: paths disagree for map data");
            assert_eq!(
                fast.is_ok(),
                general.is_ok(),
                "{json}: {fast:?} vs {general:?}"
            );
            if let (Ok(a), Ok(b)) = (&fast, &general) {
                assert_eq!(a, b, "{json}");
            }
        }
        let ours = decode_str::<User>(&format!(
            r#"{{{sid},"iat":100,"exp":200,"auth_time":50,"ver":7,"sub":"u","roles":["r"]}}"#
        ))
        .expect("fast path");
        assert_eq!(
            (ours.iat, ours.exp, ours.auth_time, ours.ver),
            (100, 200, 50, 7)
        );
        assert_eq!(ours.data.roles, ["r"]);
    }

    #[test]
    fn non_object_data_types_do_not_decode() {
        let json = serde_json::to_string(&claims(())).expect("unit");
        assert!(serde_json::from_str::<Claims<u32>>(&json).is_err());
        assert!(serde_json::from_str::<Claims<String>>(&json).is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct User {
        sub: String,
        roles: Vec<String>,
    }

    /// A number as our tokens write it, or one of the spellings near it that the general
    /// parser refuses or reads differently.
    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => any::<u64>().prop_map(|n| n.to_string()),
            6 => (1_000_000_000u64..10_000_000_000).prop_map(|n| n.to_string()),
            3 => (0u64..1000).prop_map(|n| n.to_string()),
            1 => any::<u64>().prop_map(|n| format!("0{n}")),
            1 => proptest::sample::select(
                &["18446744073709551616", "-1", "1.5", "1e3", "", "00", " 1", "1 ", "null"][..]
            )
            .prop_map(str::to_owned),
        ]
    }

    /// A `ver` value: mostly small, sometimes any `u32`, past it, or any number above.
    fn version() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => (0u32..10).prop_map(|n| n.to_string()),
            2 => any::<u32>().prop_map(|n| n.to_string()),
            1 => Just("4294967296".to_owned()),
            1 => number(),
        ]
    }

    /// A `sid` value: mostly a real id, sometimes text of about its length that is not one.
    fn sid() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => any::<[u8; 16]>().prop_map(|b| SessionId::from_bytes(b).to_string()),
            1 => "[A-Za-z0-9_=+/ -]{20,24}",
            1 => any::<[u8; 16]>().prop_map(|b| {
                // The same id with nonzero unused trailing bits: not canonical.
                let mut text = SessionId::from_bytes(b).to_string().into_bytes();
                text[21] = if text[21] == b'B' { b'C' } else { b'B' };
                String::from_utf8(text).expect("ASCII")
            }),
        ]
    }

    /// What follows the registered claims: data members, a registered name repeated, a
    /// trailing comma, nothing, or bytes after the object.
    fn rest() -> impl Strategy<Value = String> {
        let member = prop_oneof![
            8 => proptest::sample::select(
                &[
                    r#""sub":"u""#,
                    r#""roles":[]"#,
                    r#""roles":["a","b"]"#,
                    r#""sub":"\u0075""#,
                    r#""x":{"y":[1,2]}"#,
                    r#""sub":"é""#,
                ][..],
            ),
            1 => proptest::sample::select(
                &[
                    r#""exp":5"#,
                    r#""sid":"AAAAAAAAAAAAAAAAAAAAAA""#,
                    r#""rem":true"#,
                    r#""ver":1"#,
                ][..],
            ),
        ];
        let end = prop_oneof![
            8 => Just("}"),
            1 => proptest::sample::select(&[",}", "} ", "}x", "", " }", "}}"][..]),
        ];
        (proptest::collection::vec(member, 0..4), end).prop_map(|(members, end)| {
            let mut text = String::new();
            for member in members {
                text.push(',');
                text.push_str(member);
            }
            text.push_str(end);
            text
        })
    }

    /// Claims JSON in our own order (the fast path's shape), and sometimes spelled otherwise
    /// (a space, another order) so that the general path is taken.
    fn claims_json() -> impl Strategy<Value = String> {
        (
            sid(),
            (number(), number(), number(), version()),
            proptest::sample::select(&["", r#","rem":true"#, r#","rem":false"#, r#","rem":1"#][..]),
            rest(),
            0u8..8,
        )
            .prop_map(|(sid, (iat, exp, auth_time, ver), rem, rest, spelling)| {
                let registered = format!(
                    r#""sid":"{sid}","iat":{iat},"exp":{exp},"auth_time":{auth_time},"ver":{ver}{rem}"#
                );
                match spelling {
                    0 => format!("{{ {registered}{rest}"),
                    1 => format!(r#"{{"sub":"u",{registered}{rest}"#),
                    _ => format!("{{{registered}{rest}"),
                }
            })
    }

    proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 4096,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// The hand-read prefix is a shortcut to serde_json, never another parser: on
        /// claims in our order and near it, `decode` accepts exactly what serde_json's
        /// general path accepts, with the same claims, for typed and for untyped data, and
        /// leaves its buffer as it found it.
        #[test]
        fn the_prefix_fast_path_agrees_with_serde_json(json in claims_json()) {
            let mut buf = json.clone().into_bytes();
            let fast = decode::<User>(&mut buf).map_err(|e| e.to_string());
            prop_assert_eq!(&buf, json.as_bytes(), "decode must restore its buffer");
            let general = serde_json::from_str::<Claims<User>>(&json).map_err(|e| e.to_string());
            prop_assert_eq!(fast.is_ok(), general.is_ok(), "{}: {:?} vs {:?}", json, fast, general);
            if let (Ok(a), Ok(b)) = (&fast, &general) {
                prop_assert_eq!(a, b, "{}", json);
            }
            let fast_any = decode::<serde_json::Value>(&mut buf).ok();
            let general_any = serde_json::from_str::<Claims<serde_json::Value>>(&json).ok();
            prop_assert_eq!(fast_any, general_any, "{}", json);
        }
    }
}
