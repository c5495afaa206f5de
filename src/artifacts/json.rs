//! Compact JSON for the artifacts, byte for byte what `serde_json::to_writer`
//! writes, but with a string escaper that skips eight clean bytes at a time.
//! Strings are most of a manifest (raw and compiled SQL, descriptions,
//! paths), and `serde_json`'s byte-at-a-time scan was its largest single cost.
//! Numbers and the rest are written as `serde_json` writes them.
//!
//! The script-safe variant ([`to_vec_script_safe`]) also escapes what could
//! end an HTML script element or a JavaScript line, for JSON inlined in a
//! page, in the same pass.

use serde::ser::{self, Serialize};

/// Appends `value` as compact JSON to `out`.
pub fn to_vec_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer {
        out,
        script_safe: false,
        raw: false,
    })
}

/// Appends `value` as compact JSON to `out`, with `<`, `>`, U+2028 and
/// U+2029 inside strings written as `\u` escapes (they only ever occur in
/// strings), so the text can sit in a `<script>` element: the same bytes as
/// `serde_json`'s output with those characters replaced afterwards.
pub fn to_vec_script_safe<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), Error> {
    value.serialize(&mut Writer {
        out,
        script_safe: true,
        raw: false,
    })
}

/// Writes `value` as compact JSON.
pub fn to_writer<T: Serialize + ?Sized>(
    w: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    to_vec_into(&mut buf, value).map_err(std::io::Error::other)?;
    w.write_all(&buf)
}

/// Text that is already JSON, written as it is. It serializes as
/// `serde_json`'s `RawValue` does, so `serde_json::to_value` reads it as
/// JSON too; the text must be valid JSON.
pub struct RawJson<'a>(pub &'a str);

/// The struct name `serde_json` gives its raw values.
const RAW_TOKEN: &str = "$serde_json::private::RawValue";

impl Serialize for RawJson<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeStruct;
        let mut st = s.serialize_struct(RAW_TOKEN, 1)?;
        st.serialize_field(RAW_TOKEN, self.0)?;
        st.end()
    }
}

#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// What each ASCII byte needs: 0 nothing, `u` a `\u00XX` escape, otherwise
/// the letter after the backslash.
const ESCAPE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of the word that need an escape, as the high bit of each
/// flagged byte: control characters, `"` and `\`, and for script-safe JSON
/// also `<`, `>` and 0xE2 (the first byte of U+2028 and U+2029, and of other
/// characters, which are then left alone). Bytes of multi-byte UTF-8
/// characters (high bit set) are never flagged otherwise.
///
/// Each test is a "has a zero byte" trick, whose borrows only run towards
/// higher bytes: a byte above a flagged one may be flagged wrongly, but the
/// lowest flagged byte always needs an escape, which is all the writer
/// uses.
#[inline]
fn escape_mask<const SCRIPT: bool>(w: u64) -> u64 {
    let equal = |w: u64, byte: u8| {
        let x = w ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x
    };
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let mut m = below_space | equal(w, b'"') | equal(w, b'\\');
    if SCRIPT {
        m |= equal(w, b'<') | equal(w, b'>') | equal(w, 0xe2);
    }
    m & HIGHS
}

pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_str_as::<false>(out, s);
}

/// As [`write_str`], also escaping `<`, `>`, U+2028 and U+2029.
pub fn write_str_script_safe(out: &mut Vec<u8>, s: &str) {
    write_str_as::<true>(out, s);
}

#[inline]
fn write_str_as<const SCRIPT: bool>(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `start`: the first byte not copied yet; `i`: the next byte to scan.
    let mut start = 0;
    let mut i = 0;
    while let Some(j) = next_flagged::<SCRIPT>(bytes, i) {
        let b = bytes[j];
        let esc = ESCAPE.get(usize::from(b)).copied().unwrap_or(0);
        let (text, len): (&[u8], usize) = match b {
            _ if esc == b'u' => {
                out.extend_from_slice(&bytes[start..j]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0x0f)]);
                start = j + 1;
                i = j + 1;
                continue;
            }
            _ if esc != 0 => {
                out.extend_from_slice(&bytes[start..j]);
                out.push(b'\\');
                out.push(esc);
                start = j + 1;
                i = j + 1;
                continue;
            }
            b'<' => (b"\\u003c", 1),
            b'>' => (b"\\u003e", 1),
            0xe2 if bytes.get(j + 1) == Some(&0x80) && bytes.get(j + 2) == Some(&0xa8) => {
                (b"\\u2028", 3)
            }
            0xe2 if bytes.get(j + 1) == Some(&0x80) && bytes.get(j + 2) == Some(&0xa9) => {
                (b"\\u2029", 3)
            }
            // Another character starting with 0xE2: written as it is.
            _ => {
                i = j + 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..j]);
        out.extend_from_slice(text);
        start = j + len;
        i = j + len;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Eight bytes from `bytes[at..]` as a little-endian word (`at + 8` is in
/// bounds).
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The first byte at or after `i` that [`escape_mask`] flags.
///
/// Whole words while eight bytes remain. The rest is one more word, built
/// in registers (a short copy into a buffer read back as a word stalls the
/// load on every short string): the last eight bytes of the string, or for
/// a string under eight bytes a few overlapping loads. Bytes of the word
/// outside `i..len` are made spaces, which need no escape, so neither a byte
/// already handled nor the padding is flagged (nor, by a borrow, a byte
/// after them).
#[inline]
fn next_flagged<const SCRIPT: bool>(bytes: &[u8], mut i: usize) -> Option<usize> {
    const SPACES: u64 = ONES * 0x20;
    let len = bytes.len();
    while i + 8 <= len {
        let m = escape_mask::<SCRIPT>(word_at(bytes, i));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i >= len {
        return None;
    }
    let (base, mut w) = if len >= 8 {
        (len - 8, word_at(bytes, len - 8))
    } else {
        let b = |k: usize| u64::from(bytes[k]);
        let w = if len >= 4 {
            let mut lo = [0u8; 4];
            lo.copy_from_slice(&bytes[..4]);
            let mut hi = [0u8; 4];
            hi.copy_from_slice(&bytes[len - 4..]);
            // The two halves overlap on equal bytes, so `|` keeps them.
            u64::from(u32::from_le_bytes(lo)) | u64::from(u32::from_le_bytes(hi)) << ((len - 4) * 8)
        } else {
            b(0) | b(len / 2) << (len / 2 * 8) | b(len - 1) << ((len - 1) * 8)
        };
        (0, w | SPACES << (len * 8))
    };
    // Bytes below `i` in the word: 0..=7 of them.
    let below = i - base;
    if below > 0 {
        let low = (1u64 << (below * 8)) - 1;
        w = (w & !low) | (SPACES & low);
    }
    let m = escape_mask::<SCRIPT>(w);
    (m != 0).then(|| base + (m.trailing_zeros() / 8) as usize)
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    script_safe: bool,
    /// The next string is JSON text to copy as it is ([`RawJson`]).
    raw: bool,
}

impl Writer<'_> {
    fn str(&mut self, s: &str) {
        if self.script_safe {
            write_str_script_safe(self.out, s);
        } else {
            write_str(self.out, s);
        }
    }

    fn int(&mut self, v: impl itoa::Integer) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn float<F: Serialize>(&mut self, v: F) -> Result<(), Error> {
        // serde_json's own formatting (and `null` for NaN and infinities).
        serde_json::to_writer(&mut *self.out, &v).map_err(|e| Error(e.to_string()))
    }
}

/// A sequence or map being written; `first` drops the leading comma.
pub struct Compound<'a, 'b> {
    /// A [`RawJson`]: its one field is copied as it is, with no braces.
    raw: bool,
    w: &'b mut Writer<'a>,
    first: bool,
    /// Closes an extra `}` (enum variants wrapped as `{"Variant": ...}`).
    wrapped: bool,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.w.out.push(b',');
        }
    }
}

impl<'a, 'b> ser::Serializer for &'b mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = Compound<'a, 'b>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = Compound<'a, 'b>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.float(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.str(v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        if std::mem::take(&mut self.raw) {
            self.out.extend_from_slice(v.as_bytes());
        } else {
            self.str(v);
        }
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        self.str(variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        self.out.push(b'[');
        Ok(Compound {
            raw: false,
            w: self,
            first: true,
            wrapped: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.out.push(b'{');
        self.str(variant);
        self.out.extend_from_slice(b":[");
        Ok(Compound {
            raw: false,
            w: self,
            first: true,
            wrapped: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        self.out.push(b'{');
        Ok(Compound {
            raw: false,
            w: self,
            first: true,
            wrapped: false,
        })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a, 'b>, Error> {
        if name == RAW_TOKEN {
            return Ok(Compound {
                raw: true,
                w: self,
                first: true,
                wrapped: false,
            });
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.out.push(b'{');
        self.str(variant);
        self.out.extend_from_slice(b":{");
        Ok(Compound {
            raw: false,
            w: self,
            first: true,
            wrapped: true,
        })
    }
}

impl Compound<'_, '_> {
    fn close(self, bracket: u8) {
        self.w.out.push(bracket);
        if self.wrapped {
            self.w.out.push(b'}');
        }
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(KeyWriter {
            out: self.w.out,
            script_safe: self.w.script_safe,
        })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.w.out.push(b':');
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b'}');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if self.raw {
            self.w.raw = true;
            let r = value.serialize(&mut *self.w);
            // Anything but a string leaves the flag set: clear it.
            self.w.raw = false;
            return r;
        }
        ser::SerializeMap::serialize_entry(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        if self.raw {
            return Ok(());
        }
        ser::SerializeMap::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeMap::serialize_entry(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeMap::end(self)
    }
}

/// Map keys: strings, and numbers, booleans and chars quoted, as `serde_json`
/// writes them; anything else is an error.
struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
    script_safe: bool,
}

impl KeyWriter<'_> {
    #[allow(clippy::unnecessary_wraps)] // every serializer method returns a Result
    fn quoted(self, text: &str) -> Result<(), Error> {
        if self.script_safe {
            write_str_script_safe(self.out, text);
        } else {
            write_str(self.out, text);
        }
        Ok(())
    }
}

fn key_error() -> Error {
    Error("key must be a string".to_owned())
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.quoted(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.quoted(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.quoted(itoa::Buffer::new().format(v))
    }
    fn serialize_f32(self, _v: f32) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_f64(self, _v: f64) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.quoted(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same_as_serde_json(v: &serde_json::Value) {
        let mut ours = Vec::new();
        to_vec_into(&mut ours, v).expect("serialize");
        let theirs = serde_json::to_vec(v).expect("serde_json");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[test]
    fn raw_json_is_copied_as_it_is() {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            a: RawJson<'a>,
            b: Vec<RawJson<'a>>,
            c: &'a str,
        }
        let doc = Doc {
            a: RawJson(r#"{"x":[1,"<y>"],"z":null}"#),
            b: vec![RawJson("1.5"), RawJson(r#""s""#)],
            c: "<c>",
        };
        let want = r#"{"a":{"x":[1,"<y>"],"z":null},"b":[1.5,"s"],"c":"<c>"}"#;
        let mut ours = Vec::new();
        to_vec_into(&mut ours, &doc).expect("serialize");
        assert_eq!(String::from_utf8_lossy(&ours), want);
        // serde_json reads it as JSON too.
        assert_eq!(
            serde_json::to_value(&doc).expect("to_value"),
            serde_json::from_str::<serde_json::Value>(want).expect("parse")
        );
        // The string after a raw value is escaped again.
        let mut safe = Vec::new();
        to_vec_script_safe(&mut safe, &doc).expect("serialize");
        assert!(String::from_utf8_lossy(&safe).ends_with(r#""c":"\u003cc\u003e"}"#));
    }

    #[test]
    fn strings_escape_exactly_as_serde_json_does() {
        // Every ASCII character, at every offset within and across words.
        let ascii: String = (0u8..128).map(char::from).collect();
        for shift in 0..9 {
            let s = format!("{}{ascii}{ascii}", "x".repeat(shift));
            same_as_serde_json(&json!(s));
        }
        for s in [
            "",
            "\"",
            "\\",
            "plain text of some length, no escapes at all here",
            "select *\nfrom \"db\".\"main\".\"t\"\twhere a = 'x\\y'",
            "é ü — 中文 😀 \u{2028}\u{2029}\u{7f}",
            "\u{1}\u{1f}\u{0}end",
            "12345678\"12345678",
        ] {
            same_as_serde_json(&json!(s));
        }
    }

    #[test]
    fn short_strings_and_tails_escape_at_every_position() {
        // Strings of 0..=19 bytes (under one word, one word and a tail, two
        // words and a tail) with one or two bytes to escape anywhere,
        // including right after each other and in the last bytes.
        let specials = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "<", "\u{2028}", "é"];
        for len in 0..20 {
            let plain = "a".repeat(len);
            same_as_serde_json(&json!(plain));
            for p in 0..len {
                for c in specials {
                    for q in p..len {
                        for d in specials {
                            let s = format!("{}{c}{}{d}{}", &plain[..p], &plain[p..q], &plain[q..]);
                            same_as_serde_json(&json!(s));
                            let v = json!(s);
                            let mut ours = Vec::new();
                            to_vec_script_safe(&mut ours, &v).expect("serialize");
                            assert_eq!(
                                String::from_utf8(ours).expect("utf-8"),
                                script_safe_reference(&v)
                            );
                        }
                    }
                }
            }
        }
    }

    /// `serde_json`'s output with `<`, `>`, U+2028 and U+2029 replaced.
    fn script_safe_reference(v: &serde_json::Value) -> String {
        serde_json::to_string(v)
            .expect("serde_json")
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }

    #[test]
    fn script_safe_strings_escape_markup_and_line_separators_in_one_pass() {
        let pieces = [
            "</script>",
            "<!--",
            "a>b",
            "\u{2028}",
            "\u{2029}",
            "\u{2027}\u{202a}",
            "\"",
            "\n",
            "é—😀",
            "x",
        ];
        // Each piece at every offset within a word, and across word ends.
        for shift in 0..9 {
            for p in pieces {
                for q in pieces {
                    let s = format!("{}{p}{q}{p}", "y".repeat(shift));
                    let v = json!({ s.clone(): [s.clone(), {"k": s}] });
                    let mut ours = Vec::new();
                    to_vec_script_safe(&mut ours, &v).expect("serialize");
                    let ours = String::from_utf8(ours).expect("utf-8");
                    assert_eq!(ours, script_safe_reference(&v));
                    assert!(!ours.contains(['<', '>', '\u{2028}', '\u{2029}']));
                    let back: serde_json::Value = serde_json::from_str(&ours).expect("json");
                    assert_eq!(back, v);
                }
            }
        }
    }

    #[test]
    fn documents_are_byte_identical_to_serde_json() {
        let doc = json!({
            "nodes": {"model.p.a": {
                "raw_code": "select 1\n-- \"quoted\"",
                "checksum": {"name": "sha256", "checksum": "ab"},
                "columns": {}, "tags": ["x", "y"], "meta": {"n": 1.5, "big": 1e300,
                "neg": -0.0, "small": 1e-7, "int": -42, "u": 18_446_744_073_709_551_615_u64},
                "config": {"enabled": true, "alias": null, "nested": [[1, 2], []]},
            }},
            "empty": [],
        });
        same_as_serde_json(&doc);
        let mut with_keys = std::collections::BTreeMap::new();
        with_keys.insert(3, "three");
        let mut ours = Vec::new();
        to_vec_into(&mut ours, &with_keys).expect("numeric keys");
        assert_eq!(ours, serde_json::to_vec(&with_keys).expect("serde_json"));
    }
}
